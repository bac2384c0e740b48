"""The tool contract and registry: typed tools, argument checking, and third-party plugins."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from copilot import registry
from copilot.audio import from_array
from copilot.cli import main
from copilot.errors import ToolError
from copilot.tool import SpanInput, ToolOutput, tool

EXPECTED_BUILTINS = {"voice_activity"}


class Peak(ToolOutput):
    peak: float


@tool(version="2")
def peak(args: SpanInput, clips) -> Peak:
    """The largest absolute sample value in the clip or range."""
    return Peak(peak=float(np.abs(args.clip(clips).samples).max()))


def test_decorator_builds_a_tool_from_a_typed_function():
    assert (peak.name, peak.version, peak.input_model, peak.output_model) == ("peak", "2", SpanInput, Peak)
    spec = peak.spec()
    assert spec["description"].startswith("The largest absolute sample")
    assert set(spec["input_schema"]["properties"]) == {"audio", "start", "end"}


def test_a_time_range_crops_the_clip():
    samples = np.zeros(32000, np.float32)
    samples[24000] = 0.5
    clips = {"audio1": from_array(samples)}
    assert peak({}, clips).peak == 0.5
    assert peak({"end": 1.0}, clips).peak == 0.0


def test_bad_arguments_name_the_field():
    clips = {"audio1": from_array(np.zeros(16000))}
    with pytest.raises(ToolError, match=r"bad arguments for tool 'peak': start: .*greater than or equal to 0"):
        peak({"start": -1}, clips)
    with pytest.raises(ToolError, match="bad arguments for tool 'peak': loudness: Extra inputs"):
        peak({"loudness": 3}, clips)
    with pytest.raises(ToolError, match="no clip named 'audio2'; this question has audio1"):
        peak({"audio": "audio2"}, clips)
    with pytest.raises(ToolError, match="empty time range"):
        peak({"start": 5, "end": 6}, clips)


def test_a_tool_without_docstring_or_types_is_refused():
    def undocumented(args: SpanInput, clips) -> Peak:
        return Peak(peak=0)

    with pytest.raises(TypeError, match="docstring"):
        tool()(undocumented)

    def untyped(args, clips):
        """Doc."""

    with pytest.raises(TypeError, match="ToolInput subclass"):
        tool()(untyped)


def test_unknown_tool_lists_the_known_ones():
    reg = registry.Registry([peak])
    with pytest.raises(ToolError, match="unknown tool 'nope'; known tools: peak"):
        reg.get("nope")
    with pytest.raises(ToolError, match="two tools are named 'peak'"):
        registry.Registry([peak, peak])


def test_builtin_tools_are_found():
    assert set(registry.default_registry().names) >= EXPECTED_BUILTINS


def _install_plugin(root: Path, name: str, module_source: str, entry: str) -> None:
    (root / f"{name}.py").write_text(textwrap.dedent(module_source))
    info = root / f"{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[speech_copilot.tools]\n{name} = {entry}\n")


def test_plugins_come_in_through_entry_points_and_a_broken_one_is_skipped(tmp_path, monkeypatch, capsys):
    _install_plugin(
        tmp_path, "echo_plugin",
        """
        from copilot.tool import ToolInput, ToolOutput, tool

        class Echo(ToolOutput):
            duration: float

        @tool(version="0.1")
        def echo_duration(args: ToolInput, clips) -> Echo:
            \"\"\"The clip's duration, from a third-party package.\"\"\"
            return Echo(duration=args.clip(clips).duration)
        """,
        "echo_plugin",
    )
    _install_plugin(tmp_path, "broken_plugin", "raise ImportError('needs libfoo')", "broken_plugin:thing")
    monkeypatch.syspath_prepend(str(tmp_path))
    found = {t.name for t in registry.plugin_tools()}
    assert found == {"echo_duration"}
    assert "skipping tool plugin 'broken_plugin'" in capsys.readouterr().err

    registry.default_registry.cache_clear()
    try:
        assert main(["tools", "--json"]) == 0
        specs = json.loads(capsys.readouterr().out)
        assert "echo_duration" in {s["name"] for s in specs}
    finally:
        registry.default_registry.cache_clear()
        for mod in ("echo_plugin", "broken_plugin"):
            sys.modules.pop(mod, None)
