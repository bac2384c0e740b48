"""`copilot toolset propose` (a scripted LLM for the code around it, the embedded LLM once) and `copilot tools new`."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from copilot.audio import load
from copilot.cache import ToolCache
from copilot.cli import main
from copilot.errors import CopilotError
from copilot.llm import Completion
from copilot.registry import Registry
from copilot.tool import SpanInput, ToolOutput, tool
from copilot.toolset import report
from copilot.toolset.new import new_tool, repository
from copilot.toolset.propose import CHECK_RULES, DECOMPOSE_RULES, propose, read_instructions, task_words
from tests.corpora import librivox

ROOT = Path(__file__).resolve().parent.parent


class Measured(ToolOutput):
    value: float = 0.0


@tool()
def asr(args: SpanInput, clips) -> Measured:
    """Transcribe what is said."""
    return Measured()


@tool()
def diarization(args: SpanInput, clips) -> Measured:
    """Who spoke when: how many different people speak."""
    return Measured()


REGISTRY = Registry([asr, diarization])

SUBTASKS = {
    "What is said?": ["transcribe the speech"],
    "Transcribe the recording.": ["Transcribe speech."],
    "How many people speak?": ["count the speakers"],
    "Count the distinct speakers in the clip.": ["count the distinct speakers"],
    "Is the voice sarcastic, and what is said?": ["detect sarcasm", "transcribe the speech"],
    "Spoof detection (ASVspoof2017)": ["detect spoofed speech"],
    "How far away is the speaker?": ["measure the distance"],
}


class ScriptedLLM:
    """Sub-tasks from `SUBTASKS`; a module of transcribing is asr, one of counting diarization, one of a distance asr
    (which its check then turns down), the rest none."""

    name = "scripted"

    def __init__(self, garbage: int = 0):
        self.calls: list[list[dict[str, str]]] = []
        self.garbage = garbage  # this many first replies are not JSON

    def complete(self, messages: list[dict[str, str]], schema: dict[str, Any], max_tokens: int) -> Completion:
        self.calls.append(messages)
        if len(self.calls) <= self.garbage:
            return Completion(text="Sure! Here are the sub-tasks: transcribe")
        system, user = messages[0]["content"], messages[1]["content"]
        if DECOMPOSE_RULES in system:
            task = user.removeprefix("Task: ").split("\n")[0]
            return Completion(text=json.dumps({"subtasks": SUBTASKS[task]}))
        if CHECK_RULES in system:
            return Completion(text=json.dumps({"answer": "no" if "distance" in user else "yes"}))
        tools = schema["properties"]["tool"]["enum"]
        wanted = "diarization" if "count" in user else "asr" if "transcribe" in user or "distance" in user else "none"
        return Completion(text=json.dumps({"tool": wanted if wanted in tools else "none"}))


def test_propose_groups_sub_tasks_maps_modules_and_reports_the_uncovered_first(tmp_path):
    llm = ScriptedLLM()
    proposal = propose(list(SUBTASKS), llm, REGISTRY, ToolCache(tmp_path / "cache.sqlite"), progress=False)

    modules = {m.name: m for m in proposal.modules}
    assert set(modules) == {"transcribe the speech", "count the speakers", "detect sarcasm", "detect spoofed speech",
                            "measure the distance"}
    assert modules["transcribe the speech"].subtasks == {"transcribe the speech": 2, "transcribe speech": 1}
    assert modules["count the speakers"].subtasks == {"count the speakers": 1, "count the distinct speakers": 1}
    assert modules["transcribe the speech"].tool == "asr" and modules["count the speakers"].tool == "diarization"
    assert modules["measure the distance"].tool is None  # mapped to asr, which the check turned down
    assert [m.covered for m in proposal.modules] == [False, False, False, True, True]  # uncovered first
    assert modules["transcribe the speech"].instructions == [
        "What is said?", "Transcribe the recording.", "Is the voice sarcastic, and what is said?"]

    by_text = {i.instruction: i for i in proposal.instructions}
    mixed = by_text["Is the voice sarcastic, and what is said?"]
    assert (mixed.tools, mixed.uncovered, mixed.status) == (["asr"], ["detect sarcasm"], "partly")
    assert by_text["How many people speak?"].tools == ["diarization"]
    assert by_text["Spoof detection (ASVspoof2017)"].status == "uncovered"
    assert proposal.summary() == {"instructions": 7, "covered": 4, "partly": 1, "uncovered": 2, "modules": 5,
                                  "uncovered_modules": 3}
    assert len(llm.calls) == 7 + 5 + 3  # a decomposition an instruction, a mapping a module, a check a tool picked

    md, js = report.write(proposal, tmp_path / "out" / "pool", "a pool")
    text = md.read_text()
    assert text.index("## Uncovered modules") < text.index("detect sarcasm") < text.index("## Covered modules")
    assert "**7 instructions: 4 covered, 1 partly, 2 not covered. 5 modules, 3 uncovered.**" in text
    assert "| Is the voice sarcastic, and what is said? | `asr` | detect sarcasm |" in text
    data = json.loads(js.read_text())
    assert data["summary"]["uncovered_modules"] == 3 and data["llm"] == "scripted"
    assert data["modules"][0]["covered"] is False and data["instructions"][4]["status"] == "partly"


def test_a_second_run_asks_the_llm_nothing_and_new_tools_only_map_again(tmp_path):
    cache = ToolCache(tmp_path / "cache.sqlite")
    first = propose(list(SUBTASKS), ScriptedLLM(), REGISTRY, cache, progress=False)
    again = ScriptedLLM()
    assert propose(list(SUBTASKS), again, REGISTRY, cache, progress=False) == first
    assert again.calls == []
    remap = ScriptedLLM()
    fewer = propose(list(SUBTASKS), remap, Registry([asr]), cache, progress=False)
    assert len(remap.calls) == 5 + 2 and all(DECOMPOSE_RULES not in call[0]["content"] for call in remap.calls)
    assert fewer.summary()["uncovered_modules"] == 4


def test_a_garbage_reply_is_asked_again_then_is_a_clear_error(tmp_path):
    llm = ScriptedLLM(garbage=1)
    proposal = propose(["What is said?"], llm, REGISTRY, progress=False)
    assert proposal.modules[0].tool == "asr"
    assert "previous reply was not valid" in llm.calls[1][1]["content"]

    with pytest.raises(CopilotError, match=r"reply for the sub-tasks of 'What is said\?' is not valid after 2 tries"):
        propose(["What is said?"], ScriptedLLM(garbage=2), REGISTRY, progress=False)

    class WrongTool(ScriptedLLM):
        def complete(self, messages: list[dict[str, str]], schema: dict[str, Any], max_tokens: int) -> Completion:
            reply = super().complete(messages, schema, max_tokens)
            return Completion(text='{"tool": "translator"}') if '"subtasks"' not in reply.text else reply

    with pytest.raises(CopilotError, match="the tool for 'transcribe the speech' is not valid"):
        propose(["What is said?"], WrongTool(), REGISTRY, progress=False)

    class Unsure(ScriptedLLM):
        def complete(self, messages: list[dict[str, str]], schema: dict[str, Any], max_tokens: int) -> Completion:
            reply = super().complete(messages, schema, max_tokens)
            return Completion(text='{"answer": "maybe"}') if CHECK_RULES in messages[0]["content"] else reply

    with pytest.raises(CopilotError, match="the check of the tool for 'transcribe the speech' is not valid"):
        propose(["What is said?"], Unsure(), REGISTRY, progress=False)


def test_the_pool_is_read_from_lines_task_names_or_jsonl(tmp_path):
    lines = tmp_path / "tasks.txt"
    lines.write_text("# a comment\nSpeakerCounting_LibriTTS-TestClean\n\nWhat is said?\nWhat  is said?\n")
    assert read_instructions(lines) == ["Speaker counting (LibriTTS-TestClean)", "What is said?"]
    assert task_words("NoiseSNRLevelPrediction_VCTK_MUSAN-Music") == "Noise SNR level prediction (VCTK, MUSAN-Music)"
    assert task_words("HowFarAreYou_3DSpeaker") == "How far are you (3DSpeaker)"

    items = tmp_path / "items.jsonl"
    items.write_text(json.dumps({"instruction": "Which sound is this? (a) dog (b) rain", "answer": "(a) dog"}) + "\n"
                     + json.dumps({"instruction": "Which sound is this? (a) cat (b) car"}) + "\n")
    assert read_instructions(items) == ["Which sound is this?"]
    items.write_text('{"question": "What is said?"}\n')
    with pytest.raises(CopilotError, match=r"items.jsonl:1: a JSON line needs an \"instruction\" field"):
        read_instructions(items)
    with pytest.raises(CopilotError, match="no such instructions file"):
        read_instructions(tmp_path / "missing.txt")


def test_the_cli_writes_both_reports_and_refuses_an_unknown_tool(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SPEECH_COPILOT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr("copilot.planners.load_llm", lambda spec: ScriptedLLM())
    pool = tmp_path / "pool.txt"
    pool.write_text("What is said?\nHow many people speak?\n")
    assert main(["toolset", "propose", "--instructions", str(pool), "--out", str(tmp_path / "cov")]) == 0
    assert "2 instructions: 2 covered" in capsys.readouterr().err
    assert json.loads((tmp_path / "cov.json").read_text())["title"] == "pool.txt"
    assert (tmp_path / "cov.md").read_text().startswith("# Toolset coverage: pool.txt")
    assert (tmp_path / "cache" / "toolset.sqlite").exists()
    assert main(["toolset", "propose", "--instructions", str(pool), "--without", "nope"]) == 2
    assert "error: unknown tool 'nope'" in capsys.readouterr().err


def test_the_embedded_llm_maps_transcription_to_asr_and_speaker_counting_to_diarization():
    from copilot.planners import load_llm
    from copilot.registry import default_registry

    pool = ["Transcribe the speech", "How many speakers are there?", "Is there reverberation in the recording?"]
    proposal = propose(pool, load_llm("embedded"), default_registry(), progress=False)
    by_text = {i.instruction: i for i in proposal.instructions}
    assert "asr" in by_text["Transcribe the speech"].tools, proposal.model_dump_json(indent=1)
    assert "diarization" in by_text["How many speakers are there?"].tools, proposal.model_dump_json(indent=1)


# -- copilot tools new ------------------------------------------------------------------------------------------------


def test_a_new_tool_in_a_folder_works_as_written_and_its_test_passes(tmp_path, capsys):
    assert main(["tools", "new", "level_probe", "--dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert 'level_probe = "your_package.level_probe"' in out and "speech_copilot.tools" in out

    spec = importlib.util.spec_from_file_location("level_probe", tmp_path / "level_probe.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    made = module.level_probe
    assert made.summary.startswith("The RMS level of the clip or a time range in dBFS")
    assert "cannot" in made.description and made.output_model.model_json_schema()["properties"]["level"]["description"]
    result = made({}, {"audio1": load(librivox()[0][0])})
    found = result.findings()
    assert result.level == "moderate" and found.labels == ["moderate"] and found.attribute.name == "level"
    assert made({}, {"audio1": load_silence()}).level == "silent"

    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_level_probe.py"],
                         cwd=tmp_path, capture_output=True, check=False, text=True, timeout=300)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 passed" in run.stdout


def load_silence():
    from copilot.audio import from_array

    return from_array(np.zeros(16000, np.float32))


def test_a_bad_taken_or_existing_name_is_a_one_line_error(tmp_path, capsys):
    for name, message in [
        ("Level-Probe", "error: invalid tool name 'Level-Probe': use lower case letters"),
        ("class", "error: invalid tool name 'class'"),
        ("asr", "error: a tool named 'asr' exists already"),
        ("json", "error: 'json' is the name of a Python module"),
    ]:
        assert main(["tools", "new", name, "--dir", str(tmp_path)]) == 2
        assert capsys.readouterr().err.strip().startswith(message)
    new_tool("level_probe", tmp_path)
    with pytest.raises(CopilotError, match=r"level_probe\.py exists"):
        new_tool("level_probe", tmp_path)
    with pytest.raises(CopilotError, match="no such folder"):
        new_tool("other_probe", tmp_path / "missing")


def test_a_new_tool_in_tools_is_listed_at_once_and_its_test_passes():
    assert repository() == ROOT
    name = f"scaffold_probe_{os.getpid()}"
    written = [ROOT / "tools" / f"{name}.py", ROOT / "tests" / f"test_{name}.py"]
    try:
        assert main(["tools", "new", name]) == 0
        assert all(path.exists() for path in written)
        listed = subprocess.run([sys.executable, "-m", "copilot.cli", "tools"], capture_output=True, text=True,
                                timeout=300, check=False)
        assert listed.returncode == 0, listed.stderr
        assert f"{name} (v1)  args: audio, start, end" in listed.stdout
        assert "The RMS level of the clip or a time range" in listed.stdout
        assert subprocess.run([sys.executable, "-m", "ruff", "check", "-q", *map(str, written)], cwd=ROOT, check=False).returncode == 0
        run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(written[1])],
                             cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)
        assert run.returncode == 0, run.stdout + run.stderr
    finally:
        for path in written:
            path.unlink(missing_ok=True)
