"""A fuzz test of `copilot serve`'s HTTP API with hypothesis: chat bodies, audio bytes and raw bodies drawn at random
(a fixed, derandomised set of examples, so every run tries the same ones), sent to the real application and uvicorn
settings as a process on loopback around a scripted agent that answers at once (`tests.scripted_server`).

Every reply must be below 500, name no exception type, folder of the server or traceback, and a streamed reply must
carry no server error; at the end the server still answers, and its peak memory stayed under a bound.
"""

from __future__ import annotations

import base64
import io
import json
import re
import struct
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import soundfile as sf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.scripted_server import ROOT, Running, scripted_server

MEMORY_BOUND = 1_500_000_000  # bytes of peak RSS: 1 MB clips, 4 at a time, 8 waiting
EXAMPLES = {"chat": 250, "audio": 400, "raw": 150}
STATUSES: Counter[int] = Counter()  # of every fuzzed reply
LEAKS = re.compile(rf"Traceback|\b[A-Z]\w*(Error|Exception)\b|{re.escape(str(ROOT))}|{re.escape(str(Path.home()))}/")
FUZZ = settings(
    deadline=None, database=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


@pytest.fixture(autouse=True)
def modules_hypothesis_can_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """Set aside, for each fuzz test, the loaded modules whose ``__file__`` cannot be read. Hypothesis reads every
    loaded module's ``__file__`` to mine constants; speechbrain's lazy modules (loaded by the backend tests) raise
    ImportError there, not AttributeError, since their optional dependencies (k2, flair) are not installed."""
    for name, module in list(sys.modules.items()):
        try:
            getattr(module, "__file__", None)
        except ImportError:
            monkeypatch.delitem(sys.modules, name)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    options = ["--max-audio-mb", "1", "--max-duration", "30", "--timeout", "30"]
    with scripted_server(*options, folder=tmp_path_factory.mktemp("fuzz")) as running:
        yield running


# ---- strategies --------------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@st.composite
def wav_headers(draw: st.DrawFn) -> bytes:
    """A WAV file whose header claims anything (a sample rate of 100,000,007, 65,535 channels, 0 bits) over a few
    bytes of data: the decode bombs of issue 34 and their kin."""
    tag = draw(st.sampled_from([1, 3, 0xFFFE]) | st.integers(0, 0xFFFF))
    channels = draw(st.sampled_from([1, 2]) | st.integers(0, 0xFFFF))
    rate = draw(st.sampled_from([8000, 16000, 44100, 100_000_007]) | st.integers(0, 2**32 - 1))
    bits = draw(st.sampled_from([8, 16, 24, 32, 64]) | st.integers(0, 0xFFFF))
    data = draw(st.binary(max_size=2000))
    claimed = draw(st.just(len(data)) | st.integers(0, 2**32 - 1))
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", tag, channels, rate, (rate * block) % 2**32, block % 2**16, bits)
    riff = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", claimed) + data
    return b"RIFF" + struct.pack("<I", len(riff)) + riff


@st.composite
def real_wavs(draw: st.DrawFn) -> bytes:
    """A well-formed WAV of up to a second at a drawn rate and channel count, with some of its bytes overwritten."""
    rate = draw(st.sampled_from([1, 8000, 16000, 22050, 48000, 192000]))
    channels = draw(st.integers(1, 3))
    frames = draw(st.integers(1, min(rate, 16000)))
    samples = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).uniform(-1, 1, (frames, channels))
    out = io.BytesIO()
    sf.write(out, samples, rate, format="WAV", subtype=draw(st.sampled_from(["PCM_16", "PCM_U8", "FLOAT"])))
    data = bytearray(out.getvalue())
    for position, value in draw(st.lists(st.tuples(st.integers(0, len(data) - 1), st.integers(0, 255)), max_size=4)):
        data[position] = value
    return bytes(data)


AUDIO = st.one_of(
    wav_headers(),
    real_wavs(),
    st.binary(max_size=3000),
    st.binary(max_size=2000).map(lambda b: b"ID3\x04\x00\x00\x00\x00\x00\x00" + b),  # an mp3's tag, then anything
    st.binary(max_size=2000).map(lambda b: b"\xff\xfb\x90\x00" + b),  # an mp3 frame header, then anything
)


@st.composite
def encoded(draw: st.DrawFn, audio: st.SearchStrategy[bytes] = AUDIO) -> str:
    """``audio`` as input_audio.data: plain base64, wrapped or spaced, a data: URL, or broken."""
    text = base64.b64encode(draw(audio)).decode()
    form = draw(st.sampled_from(["plain", "wrapped", "spaced", "data-url", "cut", "junk"]))
    if form == "wrapped":
        return "\n".join(text[i : i + 76] for i in range(0, len(text), 76))
    if form == "spaced":
        return " \t".join(text)
    if form == "data-url":
        return f"data:audio/wav;base64,{text}"
    if form == "cut":
        return text[: draw(st.integers(0, len(text)))]
    return text if form == "plain" else draw(st.text(max_size=50))


def audio_part(data: st.SearchStrategy[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "type": st.just("input_audio"),
            "input_audio": st.fixed_dictionaries({"data": data, "format": st.sampled_from(["wav", "mp3", "ogg", ""])}),
        }
    )


TEXT_PART = st.fixed_dictionaries({"type": st.just("text"), "text": st.text(max_size=300) | JSON})
PART = TEXT_PART | audio_part(encoded()) | st.dictionaries(st.sampled_from(["type", "text", "input_audio"]), JSON)
ROLES = st.sampled_from(["user", "user", "system", "assistant", "tool", "robot"])
MESSAGE = st.fixed_dictionaries(
    {"role": ROLES}, optional={"content": st.text(max_size=200) | st.lists(PART, max_size=3) | JSON, "name": JSON}
)
CHAT = st.fixed_dictionaries(
    {"messages": st.lists(MESSAGE, max_size=3) | JSON},
    optional={"model": st.text(max_size=30) | JSON, "stream": st.booleans() | JSON, "temperature": JSON},
)


# ---- the tests ---------------------------------------------------------------------------------


def check(server: Running, body: bytes, content_type: str = "application/json") -> None:
    """Send ``body``; the reply is no 5xx and tells nothing of the server's inside (a stream is read to its end)."""
    with httpx.stream(
        "POST", f"{server.url}/v1/chat/completions", content=body, headers={"Content-Type": content_type}, timeout=60
    ) as reply:
        text = reply.read().decode("utf-8", "replace")
    STATUSES[reply.status_code] += 1
    assert reply.status_code < 500, text
    assert not LEAKS.search(text), text
    assert '"type":"server_error"' not in text, text  # an error event of a stream


@settings(FUZZ, max_examples=EXAMPLES["chat"])
@given(body=CHAT)
def test_fuzzed_chat_bodies_get_no_5xx_and_no_traceback(server, body):
    check(server, json.dumps(body).encode())


@settings(FUZZ, max_examples=EXAMPLES["audio"])
@given(question=st.text(min_size=1, max_size=100), clips=st.lists(audio_part(encoded()), min_size=1, max_size=2))
def test_fuzzed_audio_gets_no_5xx_and_no_traceback(server, question, clips):
    content = [{"type": "text", "text": question}, *clips]
    check(server, json.dumps({"model": "m", "messages": [{"role": "user", "content": content}]}).encode())


@settings(FUZZ, max_examples=EXAMPLES["raw"])
@given(
    body=st.binary(max_size=2000) | JSON.map(lambda v: json.dumps(v).encode()),
    content_type=st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain", ""]),
)
def test_fuzzed_raw_bodies_get_no_5xx_and_no_traceback(server, body, content_type):
    check(server, body, content_type)


def test_the_server_is_alive_and_stayed_under_its_memory_bound(server):
    """Runs after the fuzzing above (pytest keeps the file's order)."""
    assert httpx.get(f"{server.url}/v1/models", timeout=10).status_code == 200
    peak = server.peak_rss()
    statuses = ", ".join(f"{status}: {n}" for status, n in sorted(STATUSES.items()))
    print(f"{STATUSES.total()} fuzzed requests ({statuses}); the server's peak RSS {peak / 1e6:.0f} MB")
    assert peak < MEMORY_BOUND
