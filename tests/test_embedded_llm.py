"""The embedded LLM (llama.cpp through xllamacpp, the small model): schema order, saved prompt caches, a locked
listener, prompts over its context."""

from __future__ import annotations

import gc
import json
import os
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from copilot.answering import answer
from copilot.answering.prompts import ANSWER_RULES, ANSWER_SCHEMA
from copilot.errors import ContextOverflow
from copilot.evidence import Evidence
from copilot.planners import prompts
from copilot.planners.embedded import EmbeddedLLM, _threads
from copilot.question.request import Request
from copilot.registry import default_registry
from copilot.tool import Findings
from tests.corpora import READING

MODEL = "qwen2.5-coder-0.5b"
SCHEMA = {"type": "object", "properties": {"word": {"type": "string", "maxLength": 12}}, "required": ["word"]}
MESSAGES = [
    {"role": "system", "content": "You name one colour in JSON. " + "Colours are words such as red, green or blue. " * 30},
    {"role": "user", "content": "Name a colour."},
]


def answer_from_a_fresh_server(cache_dir):
    """A fresh llama.cpp server (as a new process would start) answering MESSAGES."""
    llm = EmbeddedLLM(MODEL, cache_dir=cache_dir)
    try:
        return llm.complete(MESSAGES, SCHEMA, max_tokens=12)
    finally:
        del llm
        gc.collect()


def test_a_program_names_the_tool_before_its_arguments(tmp_path):
    registry = default_registry()
    llm = EmbeddedLLM(MODEL, cache_dir=tmp_path)
    messages = [
        {"role": "system", "content": prompts.plan_system(registry)},
        {"role": "user", "content": "Clips: audio1 (4.0 s)\nQuestion: What does the speaker say?"},
    ]
    reply = json.loads(llm.complete(messages, prompts.program_schema(registry), max_tokens=128).text)
    assert [list(step) for step in reply["steps"]] == [["tool", "args"]] * len(reply["steps"])


def test_the_system_prompt_is_read_once_and_restored_by_the_next_process(tmp_path):
    first = answer_from_a_fresh_server(tmp_path)
    assert first.cached_tokens == 0
    assert len(list((tmp_path / "llm-slots").glob("*.slot"))) == 1

    second = answer_from_a_fresh_server(tmp_path)
    assert second.cached_tokens >= first.prompt_tokens - 20, second  # all but the reply's turn markers
    assert json.loads(second.text) == json.loads(first.text)


def test_a_damaged_saved_cache_is_read_again_and_replaced(tmp_path):
    answer_from_a_fresh_server(tmp_path)
    saved = next((tmp_path / "llm-slots").glob("*.slot"))
    size = saved.stat().st_size
    saved.write_bytes(saved.read_bytes()[:1000])

    again = answer_from_a_fresh_server(tmp_path)
    assert again.cached_tokens == 0
    assert json.loads(again.text)["word"]
    assert saved.stat().st_size == size


def test_llama_cpp_listener_refuses_callers_without_the_key(tmp_path):
    llm = EmbeddedLLM(MODEL, cache_dir=tmp_path)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(f"{llm._server.listening_address}/slots/0?action=save", data=b'{"filename": "x.slot"}')
    with pytest.raises(urllib.error.HTTPError) as refused:
        opener.open(request, timeout=10)
    assert refused.value.code == 401
    assert not list((tmp_path / "llm-slots").glob("*"))


def test_a_transcript_over_the_context_is_cut_to_fit_and_the_answer_says_so(tmp_path):
    licence = " ".join(Path("/usr/share/common-licenses/GPL-3").read_text().split())[:12000]  # Debian's base-files
    evidence = [Evidence(step="s1", tool="asr", findings=Findings(facts=f'Transcript (en, p=0.99): "{licence}"'))]
    llm = EmbeddedLLM(MODEL, n_ctx=1024, cache_dir=tmp_path)
    messages = [{"role": "system", "content": ANSWER_RULES}, {"role": "user", "content": licence}]
    with pytest.raises(ContextOverflow) as refused:
        llm.complete(messages, ANSWER_SCHEMA, max_tokens=100)
    assert refused.value.context_tokens == 1024 and refused.value.prompt_tokens > 2000
    draft = answer(Request(question="What is the recording about?"), evidence, llm)
    assert draft.notes[0].startswith("the measurements were cut from 12,") and draft.text
    assert "licen" in draft.text.lower() or "software" in draft.text.lower(), draft.text


@pytest.mark.parametrize(("given", "threads"), [("1", 1), ("999", os.cpu_count()), ("", os.cpu_count()), ("x", os.cpu_count())])
def test_llama_cpp_takes_its_thread_count_from_omp_num_threads_when_set(monkeypatch, given, threads):
    monkeypatch.setenv("OMP_NUM_THREADS", given)
    assert _threads() == threads


FACT = "The festival will be held at the old library on Elm Road."


def test_a_long_transcript_is_answered_from_the_passage_that_says_it_with_its_time(tmp_path):
    """A two-minute espeak-ng recording read into a context too small for its transcript: the answer comes from the
    retrieved passage, and cites its time."""
    import subprocess

    import soundfile

    from copilot.answering.passages import clock
    from copilot.audio import load
    from copilot.espeak import speak
    from copilot.tools.asr import asr

    texts = [*READING[:9], FACT, *READING[9:], *READING[::-1], *READING]  # about 3,300 characters of transcript
    parts = [speak(text, tmp_path / f"{i:02d}.wav", trim="both") for i, text in enumerate(texts)]
    path = tmp_path / "recording.wav"
    subprocess.run(["sox", *map(str, parts), str(path)], check=True)
    at = sum(soundfile.info(str(p)).duration for p in parts[: texts.index(FACT)])
    audio = load(path)
    said = asr(asr.parse({}), {"audio1": audio})
    evidence = [Evidence(step="s1", tool="asr", output=said.model_dump(), findings=said.findings())]
    llm = EmbeddedLLM(MODEL, n_ctx=768, cache_dir=tmp_path)  # the transcript alone is about 800 of its tokens
    request = Request(question="Where will the festival be held?", clips={"audio1": audio.duration})
    draft = answer(request, evidence, llm)
    assert draft.notes and "searched" in draft.notes[0], (draft.notes, len(said.text))
    assert "elm road" in draft.text.lower() or "library" in draft.text.lower(), draft.text
    cited = [clock(s.start) for s in said.segments if "Elm" in s.text or "library" in s.text]
    assert any(time in draft.text for time in cited), (draft.text, cited, at)
    assert all(abs(s.start - at) < 12 for s in said.segments if clock(s.start) in draft.text)
