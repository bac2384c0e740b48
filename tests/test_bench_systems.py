"""The systems under test for real: `openai-audio` through the `openai` client against an HTTP server on loopback
that checks each request's ``input_audio`` wav; a `bench run` subprocess killed in the middle and started again;
and the copilot with a fixed planner and the small embedded LLM."""

from __future__ import annotations

import base64
import io
import json
import re
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import soundfile as sf

from copilot.benchmarks.adapters import load_items
from copilot.benchmarks.runner import read_results, run
from copilot.benchmarks.systems import CopilotSystem, OpenAIAudioSystem, OracleSystem
from copilot.errors import CopilotError
from tests import corpora
from tests.test_bench_adapters import tone, write_jsonl
from tests.test_bench_scorers import ScriptedLLM, jasco_item

CLI = """
import argparse, sys
from copilot.benchmarks.cli import add_commands
from copilot.errors import CopilotError
parser = argparse.ArgumentParser(prog="copilot")
add_commands(parser.add_subparsers(dest="command", required=True))
args = parser.parse_args()
try:
    args.func(args)
except CopilotError as exc:
    sys.exit(f"error: {exc}")
"""
"""`copilot bench` as the copilot CLI will run it, its parser built from `add_commands`."""


class AudioLLMHandler(BaseHTTPRequestHandler):
    """The chat-completions route of an audio LLM: every ``input_audio`` part must be a base64 wav that decodes;
    a multiple-choice question is answered "(a) ...", an open one with a fixed sentence."""

    server: AudioLLMServer

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        try:
            text, seconds = self.server.check(body)
        except (AssertionError, KeyError, ValueError, sf.LibsndfileError) as exc:
            return self._reply(400, {"error": {"message": f"bad request: {exc!r}", "type": "invalid_request_error"}})
        time.sleep(self.server.delay)
        self.server.asked.append((text, seconds))
        option = re.search(r"\(a\) (.+?)(?: \(b\)|\n)", text)
        answer = f"The answer is (a) {option.group(1)}." if option else "They are testing a tone generator."
        self._reply(200, {
            "id": "chatcmpl-stub", "object": "chat.completion", "created": int(time.time()), "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 8, "total_tokens": 18},
        })

    def _reply(self, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


class AudioLLMServer(ThreadingHTTPServer):
    """A loopback server recording what it was asked: (question text, durations of the clips)."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), AudioLLMHandler)
        self.asked: list[tuple[str, list[float]]] = []
        self.delay = 0.0
        self.url = f"http://127.0.0.1:{self.server_address[1]}/v1"

    @staticmethod
    def check(body: dict) -> tuple[str, list[float]]:
        (message,) = body["messages"]
        assert message["role"] == "user" and body["model"] == "stub-audio"
        texts = [p["text"] for p in message["content"] if p["type"] == "text"]
        clips = [p["input_audio"] for p in message["content"] if p["type"] == "input_audio"]
        assert len(texts) == 1 and 1 <= len(clips) <= 2 and all(c["format"] == "wav" for c in clips)
        seconds = []
        for clip in clips:
            samples, rate = sf.read(io.BytesIO(base64.b64decode(clip["data"], validate=True)))
            assert rate == 16000 and samples.ndim == 1
            seconds.append(len(samples) / rate)
        return texts[0], seconds


@pytest.fixture
def server():
    httpd = AudioLLMServer()
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def numbered_items(folder: Path, count: int) -> Path:
    tone(folder / "tone.wav", seconds=0.75)
    rows = [{"id": f"q{n}", "audio": "tone.wav", "question": f"Question {n}: is this a steady tone?",
             "options": ["yes", "no"], "answer": "yes"} for n in range(count)]
    return write_jsonl(folder / "items.jsonl", rows)


def test_openai_audio_sends_input_audio_and_reads_the_reply(server, tmp_path):
    stereo = tmp_path / "stereo.wav"
    corpora.sox("-n", "-r", "44100", "-c", "2", stereo, "synth", "1.5", "sine", "300")
    write_jsonl(tmp_path / "items.jsonl", [
        {"id": "mc", "audio": "stereo.wav", "question": "Is it a tone?", "options": ["yes", "no"], "answer": "yes"},
        {"id": "open", "audio": ["stereo.wav", "stereo.wav"], "question": "What is happening?", "answer": "A tone plays."},
        {"id": "missing", "audio": "nowhere.wav", "question": "Is it a tone?", "options": ["yes", "no"], "answer": "yes"},
    ])
    items = load_items("jsonl", tmp_path)
    system = OpenAIAudioSystem(model="stub-audio", base_url=server.url, api_key="none")
    assert system.name == "openai-audio:stub-audio"
    prediction = system.answer(items[0], items[0].question)
    assert prediction.text == "The answer is (a) yes." and prediction.timings["total"] > 0
    text, seconds = server.asked[0]
    assert text.startswith("Is it a tone?\nOptions: (a) yes (b) no") and seconds == [pytest.approx(1.5)]

    out = tmp_path / "results.jsonl"
    summary = run(items, system, out, benchmark="jsonl", judge=None)
    results = {r.id: r for r in read_results(out)}
    assert (summary.added, summary.errors) == (3, 1)
    assert results["mc"].choice == "(a) yes" and results["mc"].score["correct"] == 1.0
    assert results["open"].prediction == "They are testing a tone generator." and server.asked[-1][1] == [pytest.approx(1.5)] * 2
    assert "audio file not found" in results["missing"].error


def test_the_endpoint_refusing_a_request_is_that_items_error(server, tmp_path):
    items = load_items("jsonl", numbered_items(tmp_path, 1))
    system = OpenAIAudioSystem(model="another-model", base_url=server.url, api_key="none")
    run(items, system, tmp_path / "out.jsonl", benchmark="jsonl")
    (result,) = read_results(tmp_path / "out.jsonl")
    assert "the audio LLM endpoint failed" in result.error and "bad request" in result.error


def test_a_killed_run_resumes_losing_and_redoing_nothing(server, tmp_path):
    server.delay = 0.3
    data, out = numbered_items(tmp_path, 12), tmp_path / "results.jsonl"
    command = [sys.executable, "-c", CLI, "bench", "run", "jsonl", "--data", str(data), "--system", "openai-audio:stub-audio",
               "--base-url", server.url, "--judge", "none", "--out", str(out)]
    first = subprocess.Popen(command, cwd=corpora.ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while not (out.exists() and out.read_text().count("\n") >= 4):
        assert first.poll() is None and time.time() < deadline, "the run ended or stalled before the kill"
        time.sleep(0.05)
    first.kill()
    first.wait()
    assert first.returncode == -9
    before = out.read_bytes()
    written = {json.loads(line)["id"] for line in before.decode().splitlines() if line.endswith("}")}
    assert 4 <= len(written) < 12
    server.asked.clear()

    second = subprocess.run(command, cwd=corpora.ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert second.returncode == 0, second.stderr
    assert "12/12" in second.stderr and re.search(r"\d\d:\d\d<\d\d:\d\d", second.stderr)  # the bar, with its ETA
    asked_again = {"q" + re.match(r"Question (\d+)", text).group(1) for text, _ in server.asked}
    assert not asked_again & written  # nothing written before the kill was asked again
    results = read_results(out)
    assert sorted(r.id for r in results) == sorted(f"q{n}" for n in range(12))  # nothing lost, nothing twice
    assert out.read_bytes()[: before.rfind(b"\n") + 1] == before[: before.rfind(b"\n") + 1]
    assert all(r.error is None and r.score["correct"] == 1.0 for r in results)


@pytest.mark.slow
def test_the_copilot_with_a_fixed_planner_answers_through_the_runner(tmp_path):
    tone(tmp_path / "tone.wav", seconds=2.0)
    write_jsonl(tmp_path / "items.jsonl", [{"id": "len", "audio": "tone.wav", "question": "How long is the recording?", "answer": 2.0}])
    system = CopilotSystem(planner="fixed:duration", llm="embedded:qwen2.5-coder-0.5b")
    assert system.name == "copilot[fixed:duration, embedded:qwen2.5-coder-0.5b]"
    run(load_items("jsonl", tmp_path), system, tmp_path / "out.jsonl", benchmark="jsonl")
    (result,) = read_results(tmp_path / "out.jsonl")
    assert result.error is None, result.error
    assert result.evidence[0]["tool"] == "duration" and result.evidence[0]["facts"].startswith("Duration: 2.000 s")
    assert result.score["abs_error"] == pytest.approx(0.0) and {"answer", "total", "wall"} <= set(result.timings)


def test_the_oracle_answers_from_the_items_own_account_of_the_audio():
    llm = ScriptedLLM({"answer": "They are likely roasting marshmallows."})
    item = jasco_item().model_copy(update={"perception": {
        "asr": 'Transcript: "Try this marshmallow!"', "sound_events": "Background (non-speech): Crackling fire"}})
    prediction = OracleSystem(llm).answer(item, item.variants[0])
    (_, user), = llm.prompts
    assert '[asr] Transcript: "Try this marshmallow!"' in user
    assert "[sound_events] Background (non-speech): Crackling fire" in user
    assert prediction.text == "They are likely roasting marshmallows."
    assert [e["tool"] for e in prediction.evidence] == ["asr", "sound_events"]
    with pytest.raises(CopilotError, match="no reference account of its audio"):
        OracleSystem(llm).answer(jasco_item(), "What are they doing?")


@pytest.mark.slow
def test_the_oracle_with_the_small_llm_answers_a_jasco_clip_from_its_reference(tmp_path):
    tone(tmp_path / "audio/18.wav")
    write_jsonl(tmp_path / "items.jsonl", [{
        "id": "18", "audio": "audio/18.wav", "question": "What are the speakers possibly doing?",
        "audio_sound": "Crackling fire", "spoken_text": "Try this marshmallow!", "audio_only_answer": "By a fire.",
        "speech_only_answer": "Offering food.", "answer": "They are roasting marshmallows.",
        "keywords": "roast, marshmallow"}])
    system = OracleSystem("embedded:qwen2.5-coder-0.5b")
    run(load_items("jasco", tmp_path), system, tmp_path / "out.jsonl", benchmark="jasco")
    (result,) = read_results(tmp_path / "out.jsonl")
    assert result.error is None, result.error
    assert result.system == "oracle[embedded:qwen2.5-coder-0.5b]"
    assert result.evidence[0] == {"tool": "asr", "facts": 'Transcript: "Try this marshmallow!"'}
    assert result.score["keyword_hit"] == 1.0  # the model repeats "marshmallow" from the transcript it was given
    assert result.timings["total"] > 0  # the report's seconds per answer
