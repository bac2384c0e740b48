"""`copilot bench run --ray`: the items answered by Ray actors across a cluster, the results written here.

Each actor holds one system, built by `load_system` from its spec strings when the actor starts (so its models load
once per actor, and nothing unpicklable crosses the wire), and answers one unit at a time. The driver, this process,
works out what is left to do and appends every result through the same `runner.pending` and `runner.write` as a
local run, so resuming, no duplicates and the report are the same as ever.

Failures are Ray's to handle: an actor whose process or node dies is started again (``max_restarts``), on a node
with CPUs free for it, and is sent again the unit it was answering (``max_task_retries``). A unit whose actor died ``MAX_TASK_RETRIES + 1`` times while
answering it is written as that unit's error, as a local run writes a failed answer.

Every node needs this project installed in the same Python, the models (``copilot models fetch`` on each node, or
``SPEECH_COPILOT_MODEL_DIR`` on shared storage) and the benchmark's audio at the same absolute path. The driver's
``SPEECH_COPILOT_*`` variables, and ``OPENAI_*`` ones when the system calls such an endpoint, are set in every actor's
environment (`actor_environment`). Needs the ``ray`` extra.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import BaseModel

from copilot.benchmarks.items import Item, Result
from copilot.benchmarks.runner import RunSummary, Unit, attempt, pending, unanswered, write
from copilot.config import API_KEY_VARIABLE
from copilot.errors import CopilotError

MAX_TASK_RETRIES = 2
"""How many times a unit is sent again to its restarted actor after the actor died answering it."""
CONNECT_TIMEOUT = 10.0
"""Seconds to wait for the head node's port to answer before calling the cluster unreachable."""
INHERITED = ("SPEECH_COPILOT_", "OPENAI_")
"""Prefixes of the driver's environment variables an actor may get: the model store, caches, endpoints."""


class SystemSpec(BaseModel):
    """A system under test as `load_system` takes it, and the judge's LLM spec: strings an actor builds its own from."""

    system: str = "copilot"
    planner: str = "embedded"
    llm: str = "embedded"
    base_url: str | None = None
    name: str | None = None
    reuse_plans: bool = True
    judge: str = "none"

    def uses_openai(self) -> bool:
        """Whether any part of the system calls an OpenAI-compatible endpoint (``openai``, ``openai-audio``)."""
        return any(part.startswith("openai") for part in (self.system, self.planner, self.llm, self.judge))


class ActorInfo(BaseModel):
    """An actor once its system is loaded: the system's name, and where it runs (worker process, Ray node id)."""

    system: str
    pid: int
    node: str


class SystemActor:
    """The state of one Ray actor: a system and a judge built from ``spec``, built again when Ray restarts it."""

    def __init__(self, spec: SystemSpec) -> None:
        from copilot.benchmarks.judge import Judge
        from copilot.benchmarks.systems import load_system

        self.system = load_system(spec.system, spec.planner, spec.llm, spec.base_url, spec.name, spec.reuse_plans)
        self.judge = None if spec.judge == "none" else Judge(spec.judge)

    def info(self) -> ActorInfo:
        """The system's name, this worker's process id and this node's id."""
        return ActorInfo(system=self.system.name, pid=os.getpid(), node=_ray().get_runtime_context().get_node_id())

    def attempt(self, unit: Unit, benchmark: str) -> Result:
        """`runner.attempt` of ``unit`` with this actor's system and judge."""
        return attempt(*unit, self.system, self.judge, benchmark)


def _ray() -> ModuleType:
    try:
        import ray
    except ImportError:
        raise CopilotError("--ray needs Ray: pip install 'speech-copilot[ray]'") from None
    return ray


@contextmanager
def connect(address: str | None, spec: SystemSpec | None = None) -> Iterator[None]:
    """Joined, for the block, to the Ray cluster whose head is at ``address`` (HOST:PORT), or to a new local Ray
    instance when it is None; the `actor_environment` of ``spec`` is set for every worker of this job.

    A local instance is hermetic: always a new one (never a running cluster found through ``RAY_ADDRESS`` or
    Ray's temp folder), protected by a token made for it and held in this process's environment for the block
    (Ray then neither reads nor writes ``~/.ray/auth_token``), so it leaves nothing behind that changes a later
    ``ray start`` cluster. A cluster at ``address`` is joined with the caller's Ray settings: for
    one started with ``RAY_AUTH_MODE=token``, set that and its token (``RAY_AUTH_TOKEN``, ``RAY_AUTH_TOKEN_PATH``
    or ``~/.ray/auth_token``)."""
    ray = _ray()
    if address:
        _check_reachable(address)
    env = actor_environment(spec or SystemSpec())
    local = {} if address else {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
    with _environment(local):
        try:
            ray.init(address=address or "local", runtime_env={"env_vars": env} if env else None, log_to_driver=False,
                     logging_level=logging.WARNING)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            where = f"join the Ray cluster at {address}" if address else "start a local Ray instance"
            raise CopilotError(f"cannot {where}: {first}{_token_hint() if address else ''}") from None
        try:
            yield
        finally:
            ray.shutdown()


def actor_environment(spec: SystemSpec) -> dict[str, str]:
    """The driver's environment variables an actor of ``spec`` uses: the model store's and caches' settings, and
    the ``OPENAI_*`` endpoint settings (its key among them) only when the system, planner, LLM or judge is an
    OpenAI-compatible endpoint. The server's API key is never sent."""
    prefixes = INHERITED if spec.uses_openai() else ("SPEECH_COPILOT_",)
    return {k: v for k, v in os.environ.items() if k.startswith(prefixes) and k != API_KEY_VARIABLE}


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """``values`` set in this process's environment for the block, the previous ones restored after it (Ray also
    sets ``RAY_AUTH_MODE`` itself when it starts a local instance, so that one is restored too), and Ray's
    authentication settings read again from the environment at both ends."""
    names = {*values, "RAY_AUTH_MODE"}
    before = {k: os.environ.get(k) for k in names}
    os.environ.update(values)
    _reload_ray_authentication()
    try:
        yield
    finally:
        for k, v in before.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        _reload_ray_authentication()


def _reload_ray_authentication() -> None:
    """Make Ray read ``RAY_AUTH_MODE`` and the token from the environment again: it reads them once, when it is
    imported, and this process may have set them since (Ray does the same when it turns token mode on itself)."""
    from ray._raylet import AuthenticationTokenLoader, Config  # type: ignore[attr-defined]  # a compiled module

    Config.initialize("")
    AuthenticationTokenLoader.instance().reset_cache()


def _token_hint() -> str:
    if os.environ.get("RAY_AUTH_MODE", "").lower() == "token":
        return " (is the token in RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token the cluster's?)"
    return (" (if the cluster was started with RAY_AUTH_MODE=token, set RAY_AUTH_MODE=token here too, with its token "
            "in RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or ~/.ray/auth_token)")


def _check_reachable(address: str) -> None:
    """An error unless something listens at ``address`` (HOST:PORT): Ray itself keeps trying for minutes."""
    host, _, port = address.rpartition(":")
    if not (host and port.isdigit()):
        raise CopilotError(f"--ray {address}: give the head node's HOST:PORT, e.g. 10.0.0.5:6379")
    try:
        socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT).close()
    except OSError as exc:
        raise CopilotError(f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}") from None


class Actors:
    """``count`` `SystemActor`s (by default one per ``cpus`` of the cluster's CPUs), each reserving ``cpus`` CPUs;
    constructing them waits until every one has loaded its system. They go when the Ray connection ends."""

    def __init__(self, spec: SystemSpec, count: int | None, cpus: int) -> None:
        ray = _ray()
        total = int(ray.cluster_resources().get("CPU", 0))
        count = count or max(1, total // cpus)
        if count * cpus > total:
            raise CopilotError(f"{count} Ray actors of {cpus} CPUs need {count * cpus} CPUs; the cluster has {total} "
                               "(see --workers and --ray-cpus)")
        remote = ray.remote(SystemActor).options(num_cpus=cpus, max_restarts=-1, max_task_retries=MAX_TASK_RETRIES)
        self.spec = spec
        self.handles = [remote.remote(spec) for _ in range(count)]
        self.info = self.describe()
        self.system = self.info[0].system

    def describe(self) -> list[ActorInfo]:
        """Each actor's `ActorInfo`, once it has loaded its system."""
        ray = _ray()
        try:
            return ray.get([actor.info.remote() for actor in self.handles])
        except ray.exceptions.RayActorError as exc:
            raise CopilotError(f"a Ray actor could not load the system {self.spec.system!r}: {_last_line(exc)}") from None

    def results(self, units: Sequence[Unit], benchmark: str) -> Iterator[Result]:
        """The result of each of ``units`` as it comes, each idle actor given the next unit."""
        ray = _ray()
        todo, idle = list(reversed(units)), list(self.handles)
        running: dict[Any, tuple[Unit, Any]] = {}
        while todo or running:
            while todo and idle:
                unit, actor = todo.pop(), idle.pop()
                running[actor.attempt.remote(unit, benchmark)] = (unit, actor)
            [done], _ = ray.wait(list(running), num_returns=1)
            unit, actor = running.pop(done)
            idle.append(actor)
            try:
                result = ray.get(done)
            except ray.exceptions.RayError as exc:  # the actor died more often than Ray sends a unit again
                result = unanswered(unit, self.system, benchmark)
                result.error = f"the Ray actor died {MAX_TASK_RETRIES + 1} times answering it: {_last_line(exc)}"
            yield result


def run(items: list[Item], actors: Actors, out: Path, *, benchmark: str, variants: int = 1,
        retry_errors: bool = False) -> RunSummary:
    """`runner.run` with ``actors`` answering: the items' first ``variants`` wordings not yet in ``out`` (errors
    too, with ``retry_errors``), each result appended to ``out`` by this process as it comes."""
    todo, total = pending(items, out, benchmark=benchmark, system=actors.system, variants=variants,
                          retry_errors=retry_errors)
    nodes = len({a.node for a in actors.info})
    print(f"{len(actors.handles)} Ray actors of {actors.system} on {nodes} nodes", file=sys.stderr)
    # an actor's working folder is not this one: it is sent the audio's absolute paths
    absolute = [u._replace(item=u.item.model_copy(update={"audio": [p.resolve() for p in u.item.audio]})) for u in todo]
    errors = write(actors.results(absolute, benchmark), out, f"{benchmark} {actors.system}", total, len(todo))
    return RunSummary(out=out, before=total - len(todo), added=len(todo), errors=errors)


def _last_line(exc: Exception) -> str:
    lines = [line for line in str(exc).splitlines() if line.strip()]
    return lines[-1].strip() if lines else type(exc).__name__
