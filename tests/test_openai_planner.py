"""The OpenAI-compatible planner against a real llama.cpp HTTP server started on loopback."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from copilot.agent import Copilot
from copilot.answering import answer
from copilot.audio import load
from copilot.cache import ToolCache
from copilot.errors import ContextOverflow
from copilot.evidence import Evidence
from copilot.planners.llm import LLMPlanner
from copilot.planners.openai_compatible import OpenAICompatibleLLM
from copilot.question.request import Request
from copilot.tool import Findings
from tests import corpora
from tests.servers import local_server


@pytest.fixture(scope="module")
def server_url():
    command = lambda port: [sys.executable, "-m", "tests.llm_server", str(port)]  # noqa: E731
    with local_server(command, "/v1/models", "the llama.cpp server", timeout=120) as url:
        yield f"{url}/v1"


def test_structured_output_through_the_openai_client(server_url):
    llm = OpenAICompatibleLLM(model="local", base_url=server_url, api_key="none")
    schema = {"type": "object", "properties": {"colour": {"enum": ["red", "green", "blue"]}}, "required": ["colour"]}
    reply = llm.complete([{"role": "user", "content": "What colour is the sky on a clear day?"}], schema, 30)
    assert json.loads(reply.text) == {"colour": "blue"}


def test_the_agent_plans_and_answers_through_the_endpoint(server_url, tmp_path):
    wav = corpora.speak("The train to Cambridge leaves at nine.", tmp_path / "train.wav")
    llm = OpenAICompatibleLLM(model="local", base_url=server_url, api_key="none")
    agent = Copilot(LLMPlanner(llm), llm, cache=ToolCache(tmp_path / "cache.sqlite"))
    answer = agent.ask({"audio1": load(wav)}, "What does the speaker say?")
    assert answer.trace.planner == "llm:local"
    assert [e.tool for e in answer.evidence if not e.error] == ["asr"]
    assert "cambridge" in answer.evidence[0].output["text"].lower()
    assert "cambridge" in answer.text.lower()


def test_a_prompt_over_the_servers_context_is_cut_to_fit(server_url):
    llm = OpenAICompatibleLLM(model="local", base_url=server_url, api_key="none")
    licence = " ".join(Path("/usr/share/common-licenses/GPL-3").read_text().split())[:24000]  # Debian's base-files
    schema = {"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"]}
    with pytest.raises(ContextOverflow) as refused:
        llm.complete([{"role": "user", "content": licence}], schema, 50)
    assert refused.value.context_tokens and refused.value.prompt_tokens > refused.value.context_tokens
    assert llm._json_schema  # an over-long prompt is not taken for a server without structured output
    evidence = [Evidence(step="s1", tool="asr", findings=Findings(facts=f'Transcript (en, p=0.99): "{licence}"'))]
    draft = answer(Request(question="What is the recording about?"), evidence, llm)
    assert draft.notes[0].startswith("the measurements were cut from 24,") and draft.text
