"""A running step's progress reaches the page: a tool's progress, run by the agent's graph and tool runner, is told
to the listener of the question (`copilot.progress.reported_to`), and the server streams it as SSE comments, which an
OpenAI client ignores. Toy tools and a scripted agent; no model."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import httpx
import numpy as np
import openai

from copilot.agent import Copilot
from copilot.audio import from_array
from copilot.cache import ToolCache
from copilot.planners.llm import LLMPlanner
from copilot.progress import progress, reported_to
from copilot.registry import Registry
from copilot.tool import Clips, SpanInput, tool
from tests.scripted_server import scripted_server
from tests.test_agent_unit import Peak, ScriptedLLM, program
from tests.test_serve_limits import chat, wav


@tool()
def counted(args: SpanInput, clips: Clips) -> Peak:
    """Reports three units of progress."""
    with progress("counting", 3, "units") as advance:
        for _ in range(3):
            advance(1)
    return Peak(peak=0.0)


def test_a_tools_progress_is_told_to_the_listener_of_the_question_that_ran_it(tmp_path: Path) -> None:
    llm = ScriptedLLM(program({"tool": "counted", "args": {}}), json.dumps({"answer": "Done."}))
    copilot = Copilot(LLMPlanner(llm), llm, Registry([counted]), ToolCache(tmp_path / "cache.sqlite"))
    clips = {"audio1": from_array(np.zeros(16000, np.float32))}
    told: list[str] = []
    with reported_to(told.append):
        assert copilot.ask(clips, "Count?").text == "Done."
    assert told == [f"counting: {p}% ({n}/3 units)" for p, n in ((0, 0), (33, 1), (67, 2), (100, 3))] + [""]
    counted({}, clips)  # outside the question's context: told nothing
    assert len(told) == 5


def test_a_streamed_reply_shows_the_running_steps_progress_in_comments_that_clients_ignore(tmp_path: Path) -> None:
    with scripted_server(folder=tmp_path) as server:
        with httpx.stream("POST", f"{server.url}/v1/chat/completions", json=chat("progress 6 then answer", stream=True)) as reply:
            lines = list(reply.iter_lines())
        shown = [line for line in lines if line.startswith(": working")]
        assert shown and all(re.fullmatch(r": working(: asr: \d+% \([0-6]/6 s\))?", line) for line in shown), shown
        assert any(line.startswith(": working: asr:") for line in shown)
        *_, last, done = [line.removeprefix("data: ") for line in lines if line.startswith("data: ")]
        assert json.loads(last)["copilot"]["text"] == "answer to: progress 6 then answer" and done == "[DONE]"
        client = openai.OpenAI(base_url=f"{server.url}/v1", api_key="any")
        audio = {"data": base64.b64encode(wav()).decode(), "format": "wav"}
        content = [{"type": "text", "text": "progress 2 then answer"}, {"type": "input_audio", "input_audio": audio}]
        chunks = list(client.chat.completions.create(model="m", messages=[{"role": "user", "content": content}], stream=True))  # type: ignore[list-item]
        assert "".join(c.choices[0].delta.content or "" for c in chunks) == "answer to: progress 2 then answer"
