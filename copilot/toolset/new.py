"""`copilot tools new NAME`: a one-file tool in the house style, and a test that runs it on a real recording.

The tool works as written: it measures the RMS level of the clip or a time range and says whether it is silent,
quiet, moderate or loud, so its test passes at once and the planner can call it. Replace the measure, and keep the
docstring and `findings()` true to what it returns.
"""

from __future__ import annotations

import importlib.util
import keyword
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from copilot.errors import CopilotError

NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")

TOOL = '''"""The {name} tool, written by `copilot tools new`: for now, the RMS level of a clip or a time range.

Replace the measure with your own, and keep the tool's docstring (what the planner reads) and `findings()` (what the
answer step reads: the facts, and the labels matched against options) true to what it returns. Load a model lazily
inside the function (`functools.cache`).
"""

from __future__ import annotations

import numpy as np
from pydantic import Field

from copilot.tool import Attribute, Clips, Findings, SpanInput, ToolOutput, tool

LEVELS = [(-60.0, "silent"), (-35.0, "quiet"), (-15.0, "moderate")]  # (upper bound in dBFS, level); above them: loud


class {cls}(ToolOutput):
    rms_dbfs: float = Field(description="root-mean-square level of the range in dB relative to full scale (0 is the loudest)")
    level: str = Field(description="silent, quiet, moderate or loud")
    duration: float = Field(description="length of the range measured, in seconds")

    def findings(self) -> Findings:
        return Findings(
            facts=f"RMS level: {{self.rms_dbfs:.1f}} dBFS ({{self.level}}) over {{self.duration:.1f}} s",
            labels=[self.level],
            attribute=Attribute(name="level", values=[*(name for _, name in LEVELS), "loud"]),
        )


@tool(version="1")
def {name}(args: SpanInput, clips: Clips) -> {cls}:
    """The RMS level of the clip or a time range in dBFS, and whether it is silent, quiet, moderate or loud.

    It cannot tell loudness as people hear it (the loudness tool gives LUFS), nor which sound is loud: the level is
    that of everything in the range, speech and background together."""
    audio = args.clip(clips)
    rms = float(np.sqrt(np.mean(np.square(audio.samples, dtype=np.float64))))
    dbfs = 20 * float(np.log10(max(rms, 1e-10)))
    level = next((name for bound, name in LEVELS if dbfs < bound), "loud")
    return {cls}(rms_dbfs=round(dbfs, 1), level=level, duration=round(audio.duration, 3))
'''

TEST = '''"""The {name} tool on a real recording: {recording}."""

import pytest

from copilot.audio import load
{imports}


def test_{name}_measures_read_speech():
    clips = {{"audio1": load({clip})}}
    result = {name}({{}}, clips)
    assert -35 < result.rms_dbfs < -15 and result.level == "moderate"  # read speech at an ordinary level
    found = result.findings()
    assert found.labels == ["moderate"] and "dBFS" in found.facts
    assert {name}({{"start": 1.0, "end": 2.0}}, clips).duration == pytest.approx(1.0)
'''

REPO_TEST = dict(
    imports="from copilot.tools.{name} import {name}\nfrom tests.corpora import librivox",
    clip="librivox()[0][0]",
    recording="a LibriVox clip from pocketsphinx-testdata (tests/corpora.py)",
)
FOLDER_TEST = dict(
    imports="from {name} import {name}\n\n"
    "# any speech recording will do; this LibriVox clip comes with Debian's pocketsphinx-testdata\n"
    'CLIP = "/usr/share/pocketsphinx/test/data/librivox/sense_and_sensibility_01_austen_64kb-0870.wav"',
    clip="CLIP",
    recording="LibriVox read speech",
)


@dataclass(frozen=True)
class NewTool:
    """What `new_tool` wrote."""

    name: str
    tool: Path
    test: Path
    in_repository: bool


def repository() -> Path | None:
    """The repository `copilot.tools` is run from (an editable install), or None when it is installed as a wheel."""
    spec = importlib.util.find_spec("copilot.tools")
    if spec is None or not spec.submodule_search_locations:
        return None
    root = Path(next(iter(spec.submodule_search_locations))).resolve().parent
    return root if (root / "pyproject.toml").is_file() and (root / "tests").is_dir() and (root / "tools").is_dir() else None


def check_name(name: str) -> None:
    """A `CopilotError` unless ``name`` can be a new tool's name and module name."""
    if not NAME.match(name) or keyword.iskeyword(name):
        raise CopilotError(f"invalid tool name {name!r}: use lower case letters, digits and _, starting with a letter "
                           "(at most 40), e.g. speech_rate")
    from copilot.registry import default_registry

    if name in default_registry():
        raise CopilotError(f"a tool named {name!r} exists already (see copilot tools): choose another name")
    if name in sys.stdlib_module_names or importlib.util.find_spec(name) is not None:
        raise CopilotError(f"{name!r} is the name of a Python module that a tool file of that name would hide: choose another name")


def new_tool(name: str, folder: Path | None = None) -> NewTool:
    """Write the tool ``name`` and its test: into the repository's tools/ and tests/ by default, else into ``folder``
    (both files there)."""
    check_name(name)
    root = repository()
    if folder is None and root is None:
        raise CopilotError("copilot is installed, not run from its repository: give --dir FOLDER for the new tool")
    in_repository = root is not None and (folder is None or folder.resolve() == (root / "tools").resolve())
    if in_repository:
        assert root is not None
        tool_path, test_path, template = root / "tools" / f"{name}.py", root / "tests" / f"test_{name}.py", REPO_TEST
    else:
        assert folder is not None
        if not folder.is_dir():
            raise CopilotError(f"no such folder: {folder}")
        tool_path, test_path, template = folder / f"{name}.py", folder / f"test_{name}.py", FOLDER_TEST
    for path in (tool_path, test_path):
        if path.exists():
            raise CopilotError(f"{path} exists: choose another name, or move it away first")
    cls = "".join(part.capitalize() for part in name.split("_") if part)
    fields = {k: v.format(name=name) for k, v in template.items()}
    tool_path.write_text(TOOL.format(name=name, cls=cls), encoding="utf-8")
    test_path.write_text(TEST.format(name=name, **fields), encoding="utf-8")
    return NewTool(name=name, tool=tool_path, test=test_path, in_repository=in_repository)
