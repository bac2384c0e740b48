"""`copilot bench run --ray` on a real two-node Ray cluster on loopback, protected by a token of its own as the README
says to start one: SAKURA-format items about espeak-ng speech, answered by the real gender and duration tools with no
LLM call, one actor's worker killed mid-run; a local `--ray` instance that leaves nothing in the home folder; and the
one-line errors of a missing Ray, an unreachable cluster and a missing token."""

from __future__ import annotations

import argparse
import math
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import soundfile as sf

from copilot.benchmarks import cluster
from copilot.benchmarks.adapters import load_items
from copilot.benchmarks.cli import add_commands
from copilot.benchmarks.runner import read_results, run
from copilot.benchmarks.systems import load_system
from copilot.config import Settings
from copilot.errors import CopilotError
from tests import corpora
from tests.test_bench_adapters import write_jsonl
from tests.test_bench_systems import CLI

PLANNER = "fixed:gender,duration"
LLM = "openai:never-called"
"""The answering LLM of the fixed planner: every option is reached by a label or a measured number without it, and
its endpoint (OPENAI_BASE_URL) is a closed port, so a call would be an item's error."""
VOICES = [("en+m3", "The weather report says it will rain tomorrow."), ("en+f3", "Please close the window."),
          ("en+m1", "We met at the station and walked home together in the evening light."),
          ("en+f2", "Good morning."), ("en+f4", "The meeting moved to Thursday afternoon.")]
SECONDS = [1, 3, 6, 12]
LENGTHS = ["about 1 second", "about 3 seconds", "about 6 seconds", "about 12 seconds"]
"""The options of the question about a recording's length, and what they say."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


class Node:
    """One `ray start --block` of the test cluster, in its own process group and temporary folder."""

    def __init__(self, *args: str, env: dict[str, str]):
        self.folder = Path(tempfile.mkdtemp(prefix="ray-"))  # short: Ray puts unix sockets below it
        self.manager = free_port()
        ports = {"--node-manager-port": self.manager, "--object-manager-port": free_port(),
                 "--dashboard-agent-listen-port": free_port(), "--dashboard-agent-grpc-port": free_port(),
                 "--runtime-env-agent-port": free_port(), "--metrics-export-port": free_port()}
        # Ray swaps 127.0.0.1 for this machine's own address (services.resolve_ip_for_localhost): traffic to it
        # stays inside the machine all the same
        command = [str(Path(sys.executable).with_name("ray")), "start", "--block", *args, "--num-cpus", "1",
                   "--node-ip-address", "127.0.0.1", "--temp-dir", str(self.folder), "--disable-usage-stats",
                   "--object-store-memory", str(100 * 2**20), *(f"{k}={v}" for k, v in ports.items())]
        with (self.folder / "start.log").open("wb") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                            env={**os.environ, **env})

    def wait(self, port: int) -> None:
        deadline = time.time() + 60
        while not listening(port):
            assert self.process.poll() is None, (self.folder / "start.log").read_text()
            assert time.time() < deadline, f"ray start did not listen on {port}"
            time.sleep(0.2)

    def stop(self) -> None:
        """SIGTERM to every process of its group (raylet, GCS, workers), SIGKILL to any left after 5 s (a head
        that has run jobs has taken 30 s to go on SIGTERM)."""
        for sig, grace in ((signal.SIGTERM, 5), (signal.SIGKILL, 10)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break
            deadline = time.time() + grace
            while time.time() < deadline and _group_alive(self.process.pid):
                self.process.poll()
                time.sleep(0.2)
        self.process.wait(timeout=10)
        shutil.rmtree(self.folder, ignore_errors=True)


def _group_alive(pgid: int) -> bool:
    """Whether a process of group ``pgid`` still runs (zombies aside: nothing may be left to reap them)."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()  # after "pid (name)": state, ppid, pgrp, ...
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            return True
    return False


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[str]:
    """A head and a second node of one CPU each on 127.0.0.1, dashboard off, token authentication on with a token
    made for it (in the environment, which Ray reads before ``~/.ray/auth_token``: whatever an earlier run left
    there changes nothing); the head's address. This process and the drivers it starts have the token for the
    module's tests. Both nodes are stopped when the module's tests end, whether they passed or not."""
    import ray

    token = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    port = free_port()
    nodes = [Node("--head", f"--port={port}", "--include-dashboard=false", f"--dashboard-port={free_port()}",
                  f"--ray-client-server-port={free_port()}", env=token)]
    try:
        nodes[0].wait(port)
        nodes.append(Node(f"--address=127.0.0.1:{port}", env=token))
        nodes[1].wait(nodes[1].manager)
        address = f"127.0.0.1:{port}"
        with pytest.MonkeyPatch.context() as env:
            for name, value in token.items():
                env.setenv(name, value)
            with cluster.connect(address):  # until the second node has joined
                deadline = time.time() + 60
                while ray.cluster_resources().get("CPU", 0) < 2:
                    assert time.time() < deadline, "the second node did not join the head"
                    time.sleep(0.2)
            yield address
    finally:
        for node in reversed(nodes):
            node.stop()


def sakura_data(folder: Path) -> Path:
    """SAKURA's items.jsonl over five espeak-ng clips: the speaker's gender, and the recording's length."""
    rows = []
    for n, (voice, text) in enumerate(VOICES):
        (folder / "audio").mkdir(parents=True, exist_ok=True)
        clip = corpora.speak(text, folder / "audio" / f"{n}.wav", voice=voice)
        seconds = sf.info(clip).duration
        length = min(SECONDS, key=lambda option: abs(math.log(seconds / option)))  # nearest by ratio, as measured
        gender = "(a) Male" if "+m" in voice else "(b) Female"
        rows.append({"id": f"Gender/{n}.wav#single", "track": "Gender", "hop": "single", "audio": f"audio/{clip.name}",
                     "attribute_label": gender[4:].lower(), "answer": gender,
                     "instruction": "What is the speaker's gender? (a) Male (b) Female"})
        rows.append({"id": f"Duration/{n}.wav#single", "track": "Duration", "hop": "single",
                     "audio": f"audio/{clip.name}", "attribute_label": "",
                     "answer": f"({'abcd'[SECONDS.index(length)]}) {LENGTHS[SECONDS.index(length)]}",
                     "instruction": "How long is the recording? (a) about 1 second (b) about 3 seconds "
                                    "(c) about 6 seconds (d) about 12 seconds"})
    return write_jsonl(folder / "items.jsonl", rows)


@pytest.fixture
def isolated(tmp_path, monkeypatch) -> None:
    """A tool cache of this test's own, the models read from the usual store, and an LLM endpoint that refuses."""
    settings = Settings.from_env()
    monkeypatch.setenv("SPEECH_COPILOT_MODEL_DIR", str(settings.model_dir or settings.cache_dir / "models"))
    monkeypatch.setenv("SPEECH_COPILOT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("OPENAI_BASE_URL", f"http://127.0.0.1:{free_port()}/v1")


class Killer(threading.Thread):
    """SIGKILLs ``pid`` once ``out`` holds ``lines`` results, and notes how many it held then."""

    def __init__(self, out: Path, pid: int, lines: int):
        super().__init__(daemon=True)
        self.out, self.pid, self.lines = out, pid, lines
        self.written = 0

    def run(self) -> None:
        deadline = time.time() + 120
        while time.time() < deadline and self.written < self.lines:
            time.sleep(0.02)
            self.written = self.out.read_bytes().count(b"\n")
        os.kill(self.pid, signal.SIGKILL)


@pytest.mark.slow
def test_a_run_on_a_ray_cluster_survives_a_killed_actor_and_equals_a_local_run(ray_cluster, isolated, tmp_path):
    import ray

    data, out = sakura_data(tmp_path / "sakura"), tmp_path / "ray.jsonl"
    command = [sys.executable, "-c", CLI, "bench", "run", "sakura", "--data", str(data), "--system", "copilot",
               "--planner", PLANNER, "--llm", LLM, "--judge", "none", "--limit", "4", "--sample", "stratified",
               "--ray", ray_cluster, "--ray-cpus", "1", "--workers", "2", "--out", str(out)]
    first = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert first.returncode == 0, first.stderr
    assert "2 Ray actors of copilot[fixed:gender,duration, openai:never-called] on 2 nodes" in first.stderr
    assert "0 results kept, 4 added (0 errors)" in first.stderr
    items = load_items("sakura", data)
    assert len(items) == 10 and {r.category for r in read_results(out)} == {"single/Gender", "single/Duration"}

    spec = cluster.SystemSpec(planner=PLANNER, llm=LLM)
    with cluster.connect(ray_cluster):
        actors = cluster.Actors(spec, 2, 1)
        assert len(actors.handles) == 2 and len({a.node for a in actors.info}) == 2
        killer = Killer(out, actors.info[0].pid, 5)  # after the first of the six results still to come
        killer.start()
        summary = cluster.run(items, actors, out, benchmark="sakura")
        killer.join()
        assert 5 <= killer.written < 10  # killed mid-run, while both actors had an item to answer
        after = actors.describe()
        assert after[0].pid != actors.info[0].pid and after[1].pid == actors.info[1].pid  # Ray restarted the one
    assert not ray.is_initialized()
    assert (summary.before, summary.added, summary.errors) == (4, 6, 0)

    results = read_results(out)
    assert sorted(r.key for r in results) == sorted(f"{i.id}#v0" for i in items)  # each item once, none lost
    assert all(r.error is None for r in results), [r.error for r in results if r.error]
    assert all(r.score["correct"] == 1.0 for r in results if r.category == "single/Duration")

    local = tmp_path / "local.jsonl"
    run(items, load_system("copilot", PLANNER, LLM), local, benchmark="sakura")
    on_ray = {r.key: (r.prediction, r.choice, r.score, r.error) for r in results}
    assert on_ray == {r.key: (r.prediction, r.choice, r.score, r.error) for r in read_results(local)}
    # the actors cached every tool's output where this process looks: they had its SPEECH_COPILOT_CACHE
    assert all(e["cached"] for r in read_results(local) for e in r.evidence)


def test_ray_missing_or_out_of_reach_is_one_clear_error(tmp_path, monkeypatch):
    data = write_jsonl(tmp_path / "items.jsonl", [{
        "id": "a#single", "track": "Gender", "hop": "single", "audio": "a.wav", "answer": "(a) Male",
        "instruction": "What is the speaker's gender? (a) Male (b) Female"}])
    parser = argparse.ArgumentParser(prog="copilot")
    add_commands(parser.add_subparsers(dest="command", required=True))

    def bench_run(*extra: str) -> None:
        args = parser.parse_args(["bench", "run", "sakura", "--data", str(data), "--out", str(tmp_path / "o.jsonl"),
                                  *extra])
        args.func(args)

    with pytest.raises(CopilotError, match=r"cannot reach the Ray cluster at 127\.0\.0\.1:\d+: Connection refused"):
        bench_run("--ray", f"127.0.0.1:{free_port()}")
    with pytest.raises(CopilotError, match="give the head node's HOST:PORT"):
        bench_run("--ray", "headnode")
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the extra were not installed
    with pytest.raises(CopilotError, match=r"^--ray needs Ray: pip install 'speech-copilot\[ray\]'$"):
        bench_run("--ray")
    assert not (tmp_path / "o.jsonl").exists()


@pytest.mark.slow
def test_a_local_ray_instance_is_its_own_and_leaves_nothing_behind(ray_cluster, tmp_path, monkeypatch):
    import ray

    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("RAY_ADDRESS", ray_cluster)  # a running cluster that Ray itself would join
    monkeypatch.delenv("RAY_AUTH_MODE")
    monkeypatch.delenv("RAY_AUTH_TOKEN")
    with cluster.connect(None):
        assert len(ray.nodes()) == 1  # not the two-node cluster
        assert os.environ["RAY_AUTH_MODE"] == "token"
    assert not ray.is_initialized()
    assert "RAY_AUTH_MODE" not in os.environ and "RAY_AUTH_TOKEN" not in os.environ
    assert not (home / ".ray").exists()  # Ray 2.60 wrote ~/.ray/auth_token here, breaking later `ray start` clusters


@pytest.mark.slow
def test_a_token_cluster_joined_without_its_token_is_one_clear_error(ray_cluster, tmp_path, monkeypatch):
    import ray

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("RAY_AUTH_MODE")
    monkeypatch.delenv("RAY_AUTH_TOKEN")
    missing = r"^cannot join the Ray cluster at 127\.0\.0\.1:\d+: .*if the cluster was started with RAY_AUTH_MODE=token"
    with pytest.raises(CopilotError, match=missing), cluster.connect(ray_cluster):
        pass
    assert not ray.is_initialized()


def test_actors_get_only_the_settings_they_use(monkeypatch):
    for name in [k for k in os.environ if k.startswith(("SPEECH_COPILOT_", "OPENAI_"))]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("SPEECH_COPILOT_CACHE", "/shared/cache")
    monkeypatch.setenv("SPEECH_COPILOT_API_KEY", "the-server-key")
    monkeypatch.setenv("OPENAI_API_KEY", "the-endpoint-key")
    embedded = cluster.SystemSpec()
    assert cluster.actor_environment(embedded) == {"SPEECH_COPILOT_CACHE": "/shared/cache"}
    for spec in (cluster.SystemSpec(planner="openai:gpt-4o-mini"), cluster.SystemSpec(judge="openai"),
                 cluster.SystemSpec(system="openai-audio:gpt-4o-audio-preview")):
        assert cluster.actor_environment(spec) == {"SPEECH_COPILOT_CACHE": "/shared/cache",
                                                   "OPENAI_API_KEY": "the-endpoint-key"}
