"""Running every single-clip tool on a clip with default arguments: the quick look `copilot inspect` prints."""

from __future__ import annotations

import sys
import time

from copilot.errors import CopilotError
from copilot.registry import Registry, default_registry
from copilot.tool import Clips, ToolOutput


def single_clip_tools(registry: Registry) -> list[str]:
    """Tools that need nothing but one clip: every argument has a default and only ``audio`` names a clip."""
    return [
        t.name
        for t in registry
        if t.input_model.clip_fields == ("audio",)
        and all(not f.is_required() for f in t.input_model.model_fields.values())
    ]


def inspect_clip(clips: Clips, registry: Registry | None = None) -> dict[str, ToolOutput | CopilotError]:
    """Each single-clip tool's output (or its error) on ``audio1``, in registry order."""
    registry = registry or default_registry()
    report: dict[str, ToolOutput | CopilotError] = {}
    for name in single_clip_tools(registry):
        started = time.perf_counter()
        print(f"  running {name} ...", file=sys.stderr, end="", flush=True)
        try:
            report[name] = registry.get(name)({}, clips)
        except CopilotError as exc:
            report[name] = exc
        print(f" {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return report


def render(report: dict[str, ToolOutput | CopilotError]) -> str:
    """The report as aligned ``tool: facts`` lines."""
    width = max(map(len, report), default=0)
    return "\n".join(
        f"{name:<{width}}  {'error: ' + str(out) if isinstance(out, CopilotError) else out.findings().facts}"
        for name, out in report.items()
    )
