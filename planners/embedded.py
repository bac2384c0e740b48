"""The embedded LLM: llama.cpp in this process (xllamacpp), with a GGUF model from the model store."""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import threading
import time
import urllib.request
from functools import lru_cache
from pathlib import Path
from typing import Any

from copilot import models
from copilot.config import Settings
from copilot.errors import ContextOverflow, CopilotError
from copilot.llm import Completion

DEFAULT_MODEL = "qwen2.5-coder-1.5b"
# one-line JSON: no token is spent on indentation, and separators keep the spaces the model expects
_COMPACT = {"whitespace_flexible": False, "item_separator": ", ", "key_separator": ": "}
RAM_CACHE_MIB = 256  # the cap on llama.cpp's in-memory prompt cache, beside our saved slots
SLOTS = 3  # one KV cache per distinct system prompt: the planner's, the answer step's, and one more (option links)


class EmbeddedLLM:
    """A GGUF chat model run by llama.cpp on the CPU, its output held to a JSON schema.

    Each system prompt gets its own slot, whose KV cache is kept between calls, so the
    planner's long fixed prompt is read once per process even when answers come between.
    The KV cache of each system prompt is also saved in the cache folder, so a new process
    restores it instead of reading the prompt again.
    """

    def __init__(
        self, model: str = DEFAULT_MODEL, n_ctx: int = 4096, threads: int | None = None, cache_dir: Path | None = None
    ):
        import xllamacpp

        path = Path(model) if model.endswith(".gguf") else next(models.ensure(model).glob("*.gguf"))
        if not path.exists():
            raise CopilotError(f"LLM model file not found: {path}")
        self.context = n_ctx  # tokens per slot: one prompt and its reply
        self._saved = (cache_dir or Settings.from_env().cache_dir) / "llm-slots"
        self._saved.mkdir(parents=True, exist_ok=True)
        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        params.n_ctx = n_ctx * SLOTS
        params.n_parallel = SLOTS
        params.cache_prompt = True
        # llama.cpp also keeps the KV state of every prompt a slot moves away from in RAM, up to 8 GiB by default: in a
        # benchmark run, about 20 MB more each question, to 10 GB at SAKURA's 320. Our own saved slots do that job.
        params.cache_ram_mib = RAM_CACHE_MIB
        params.cpuparams.n_threads = params.cpuparams_batch.n_threads = threads or _threads()
        params.verbosity = -1
        # llama.cpp always listens on loopback; slot save/restore is only reachable there, so lock it with a key
        params.hostnames = ["127.0.0.1"]
        params.endpoint_slots = True
        params.slot_save_path = f"{self._saved}{os.sep}"  # llama.cpp appends file names without a separator
        self._key = secrets.token_hex(16)
        params.api_keys = [self._key]
        self.name = path.stem
        self._model_id = f"{path.name}:{path.stat().st_size}"
        self._server = xllamacpp.Server(params)
        self._lock = threading.Lock()
        self._slots: dict[str, int] = {}
        self._http = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never through a proxy

    def complete(self, messages: list[dict[str, str]], schema: dict[str, Any], max_tokens: int) -> Completion:
        request = {
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": 0,
            "repeat_penalty": 1.1,  # greedy decoding of a small model otherwise loops on long answers
            "grammar": _grammar(schema),
        }
        started = time.perf_counter()
        with self._lock:
            request["id_slot"] = slot = self._slot(messages[0]["content"])
            reply = self._server.handle_chat_completions(request)
            self._keep(slot, messages[0]["content"])
        error = reply.get("error", reply) if "error" in reply or "choices" not in reply else None
        if error is not None and error.get("type") == "exceed_context_size_error":
            raise ContextOverflow(
                f"the prompt ({error.get('n_prompt_tokens')} tokens) is longer than the embedded LLM's context "
                f"({self.context} tokens)", error.get("n_prompt_tokens"), self.context
            )
        if error is not None:
            raise CopilotError(f"the embedded LLM failed: {json.dumps(error)[:300]}")
        usage = reply.get("usage", {})
        if reply["choices"][0].get("finish_reason") == "length" and usage.get("total_tokens", 0) >= self.context:
            # the prompt fitted but left too little room for the reply, which stopped at the end of the context
            prompt = usage.get("prompt_tokens", 0)
            raise ContextOverflow(
                f"the prompt ({prompt} tokens) leaves too little of the embedded LLM's context ({self.context} tokens) "
                f"for a reply of up to {max_tokens} tokens", prompt, self.context
            )
        return Completion(
            text=reply["choices"][0]["message"]["content"],
            prompt_tokens=usage.get("prompt_tokens", 0),
            cached_tokens=usage.get("prompt_tokens_details", {}).get("cached_tokens", 0),
            completion_tokens=usage.get("completion_tokens", 0),
            seconds=time.perf_counter() - started,
        )

    def _slot(self, system_prompt: str) -> int:
        """The slot that last saw this system prompt, else the least recently used one, loaded from disk if saved."""
        slot = self._slots.pop(system_prompt, None)
        if slot is None:
            slot = len(self._slots) if len(self._slots) < SLOTS else self._slots.pop(next(iter(self._slots)))
            saved = self._saved / self._file(system_prompt)
            if saved.exists() and not self._slot_action(slot, "restore", system_prompt):
                saved.unlink(missing_ok=True)  # damaged or from another llama.cpp: read the prompt and save it anew
        self._slots[system_prompt] = slot
        return slot

    def _keep(self, slot: int, system_prompt: str) -> None:
        """Save the slot's KV cache the first time this system prompt has been read."""
        if not (self._saved / self._file(system_prompt)).exists():
            self._slot_action(slot, "save", system_prompt)

    def _file(self, system_prompt: str) -> str:
        return hashlib.sha256(f"{self._model_id}\n{system_prompt}".encode()).hexdigest()[:32] + ".slot"

    def _slot_action(self, slot: int, action: str, system_prompt: str) -> bool:
        """Ask llama.cpp to save or restore a slot's KV cache; False when it could not."""
        request = urllib.request.Request(
            f"{self._server.listening_address}/slots/{slot}?action={action}",
            data=json.dumps({"filename": self._file(system_prompt)}).encode(),
            headers={"Authorization": f"Bearer {self._key}", "Content-Type": "application/json"},
        )
        try:
            with self._http.open(request, timeout=60) as response:
                return response.status == 200
        except OSError:
            return False


def _threads() -> int:
    """The CPU threads llama.cpp may use: ``OMP_NUM_THREADS`` when set (Ray sets it to an actor's CPUs), else every
    core. llama.cpp's threads spin-wait, so two processes whose threads outnumber the cores slow each other
    several times over."""
    cores = os.cpu_count() or 2
    given = os.environ.get("OMP_NUM_THREADS", "")
    return max(1, min(int(given), cores)) if given.isdigit() and int(given) > 0 else cores


@lru_cache(maxsize=64)
def _grammar_of(schema_json: str) -> str:
    import xllamacpp

    return xllamacpp.json_schema_to_grammar(schema_json)


def _grammar(schema: dict[str, Any]) -> str:
    """The llguidance grammar that holds output to ``schema`` as compact JSON.

    Keys are written in the schema's order (never sorted): a program step names its tool before its arguments.
    """
    return _grammar_of(json.dumps({**schema, "x-guidance": _COMPACT}))
