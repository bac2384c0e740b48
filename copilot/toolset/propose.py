"""Which tasks the tools serve: Speech-Copilot's step 1 (arXiv 2407.09886) held against this project's registry.

    pool = read_instructions(Path("tasks.txt"))
    proposal = propose(pool, load_llm("embedded"), default_registry(), ToolCache(cache_dir / "toolset.sqlite"))

1. **Decompose.** The LLM breaks each instruction into one or two sub-tasks, short verb phrases ("count the
   speakers"), its reply held to a JSON schema. It is not shown the tools, so a sub-task says what the task needs,
   not what the project happens to have.
2. **Group.** Sub-tasks become modules by their content words: the stems of the words left when function words,
   generic words ("audio", "recording", "distinct") and verbs of recognising ("detect", "identify", "classify": the
   object says what is recognised) are left out, with a few synonyms made one ("talker", "voice": speaker;
   "keyword", "term": word; "echo": reverberation; "estimate", "predict": measure). Phrases with the same words are
   one group; groups are then taken by size and each joins the first module whose founding words it shares at least
   `SIMILAR` of (Jaccard), or founds a new one. This is deterministic and needs no model (grouping by the MiniLM
   sentence embeddings that plan reuse uses, `copilot.sentences`, has not been tried here), and a second LLM pass would
   have a 1.5B model sort a hundred phrases at once, more than it does reliably in a 4096-token context. The cost: what the
   word lists do not know stays apart ("classify as real or fake", "detect spoofing"). On ds-dev's 70 questions the
   lists took the modules from 42 to 30.
3. **Map.** The LLM picks the one tool that carries each module out, or ``none``: held to a schema whose values are
   the registry's tool names and ``none``, shown each tool's summary (what the planner reads), the module's phrases
   and a few instructions that need it. A tool it picks is then put to it as a yes/no question ("can this tool
   carry these sub-tasks out?", shown the tool's summary and the phrases alone), and a no makes the module
   uncovered. A small model rarely picks ``none`` from a list (it sent spoof detection, distance, chords and stress
   to asr) but turns such picks down when asked about one tool: on 18 module-tool pairs taken from the ds-dev and
   Dynamic-SUPERB pools (docs/coverage/), the check was right on 15 (on 11 when shown the instructions too). One
   call a module (two when a tool is picked), not one a sub-task of every instruction: on two shared CPU cores a
   call can take 20 s. An embedding similarity to the summaries was the alternative; it can only say "none"
   through a threshold, and "detect a spoken keyword" (asr) shares more words with voice_activity's summary than
   with asr's.
4. **Cover.** An instruction is served by its modules' tools, and covered when every one of its modules is.

Both LLM steps are cached (`ToolCache`, in the cache folder): the decomposition per instruction, by its text, the
LLM and the prompt; the mapping per module, by its phrases and instructions, the LLM, and the registry's tool names,
versions and summaries. A second run on the same pool asks the LLM nothing, and a run after new tools only maps.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, Field, ValidationError
from tqdm import tqdm

from copilot.cache import ToolCache
from copilot.errors import CopilotError
from copilot.llm import LLM
from copilot.question.request import split_options
from copilot.registry import Registry
from copilot.words import plain, stems

NONE = "none"
SIMILAR = 0.6  # Jaccard of content words from which a group joins a module: {measure, noise, level} joins {measure, noise}
MAX_SUBTASKS = 2
SUBTASK_CHARS = 60
MODULE_PHRASES, MODULE_EXAMPLES = 6, 3  # what the LLM is shown of a module to map it: its commonest phrases, its first tasks
MAP_VERSION = "2"  # part of the mapping's cache key: raise it when the mapping changes other than in its prompts' text
TRIES = 2  # an invalid reply is asked again once, with what was wrong, before it is an error

DECOMPOSE_RULES = """You break a task about an audio recording into the sub-tasks that an audio analysis system must carry out.
Reply with JSON only: {"subtasks": ["<sub-task>", ...]}.
Rules:
- Most tasks need one sub-task; give two only when the task asks for two different things. Never restate a
  sub-task in other words.
- Write each sub-task as a short verb phrase of two to five words, in general terms, as in the examples. Leave out the
  task's exact words, labels and options.
- Name what must be recognised or measured in the audio, never how to answer ("choose an option", "answer yes or no").
- A task may be given by its name, with its data in brackets: "Age estimation (CommonVoice)" is a task too."""

DECOMPOSE_EXAMPLES: list[tuple[str, list[str]]] = [
    ("What does the speaker say?", ["transcribe the speech"]),
    ("Is the speaker happy, and which language does she speak?", ["recognise the emotion", "identify the spoken language"]),
    ('Does the speaker say the word "apple"?', ["detect a spoken keyword"]),
    ("Age estimation (CommonVoice)", ["estimate the speaker's age"]),
    ("Are the two clips spoken by the same person?", ["verify the speaker identity"]),
]

MAP_RULES = """You match a kind of audio analysis sub-task to the tool that carries it out.
Reply with JSON only: {{"tool": "<tool name or none>"}}.
Tools:
{tools}
Give the one tool whose output carries the sub-tasks out, or "none" when no tool measures what they need. Do not pick
a tool that only measures something related: a voice's pitch does not tell the speaker's age."""

CHECK_RULES = """You check whether an audio analysis tool can carry out a kind of sub-task.
Reply with JSON only: {"answer": "yes"} or {"answer": "no"}.
Answer yes when the tool's output gives what the sub-tasks need, or the answer follows from it directly (a clip's
length tells whether it is longer than a minute). Answer no when the tool only measures something related: a voice's
pitch does not tell the speaker's age, a transcript does not tell who is speaking."""

CHECK_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"answer": {"enum": ["yes", "no"]}},
    "required": ["answer"],
    "additionalProperties": False,
}

# (sub-task, tool): shown to the LLM when the tool is registered ("none" always is)
MAP_EXAMPLES: list[tuple[str, str]] = [
    ("detect a spoken keyword", "asr"),
    ("estimate the speaker's age", NONE),
    ("detect laughter", "sound_events"),
    ("rate the speaker's fluency", NONE),
]

_FUNCTION_WORDS = {
    "a", "an", "the", "of", "in", "on", "at", "for", "from", "to", "by", "with", "as", "and", "or", "whether", "if",
    "is", "are", "be", "it", "its", "this", "that", "these", "those", "there", "any", "each", "all", "some", "their",
    "his", "her", "given", "audio", "recording", "recordings", "clip", "clips", "file", "sample", "number", "type",
    "kind", "class", "category", "event", "presence", "present", "spoken", "human", "unique", "distinct", "different",
    "background",
    # verbs of recognising: what is recognised (the object) tells one such sub-task from another
    "detect", "identify", "recognise", "recognize", "classify", "categorise", "categorize", "determine", "check",
    "find", "listen",
}
_SAME_WORD = {  # words of one meaning in sub-task phrases, written as one before stemming
    "talker": "speaker", "talkers": "speaker", "voice": "speaker", "voices": "speaker", "person": "speaker",
    "people": "speaker", "keyword": "word", "term": "word", "words": "word", "length": "duration",
    "echo": "reverberation", "echoes": "reverberation", "reverb": "reverberation", "reverberant": "reverberation",
    "snr": "noise", "noisy": "noise", "estimate": "measure", "predict": "measure", "assess": "measure",
    "evaluate": "measure", "calculate": "measure", "compute": "measure", "verify": "compare", "match": "compare",
}
_TASK_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*(?:_[A-Za-z0-9.+-]+)*$")
_WORD = re.compile(r"[A-Z]+(?=[A-Z][a-z]|$)|[A-Z]?[a-z0-9]+|[A-Z]+")

T = TypeVar("T")


class SubTask(BaseModel):
    """One sub-task of an instruction, as the LLM phrased it, and the module it was grouped into."""

    text: str
    module: str


class InstructionCoverage(BaseModel):
    """One instruction of the pool, with the tools that serve it and the modules no tool covers."""

    instruction: str
    subtasks: list[SubTask]
    tools: list[str] = Field(description="the tools of its sub-tasks' modules, in registry order")
    uncovered: list[str] = Field(description="its modules that no tool covers")

    @property
    def status(self) -> Literal["covered", "partly", "uncovered"]:
        if not self.uncovered:
            return "covered"
        return "partly" if self.tools else "uncovered"


class Module(BaseModel):
    """Sub-tasks of one meaning across the pool, and the tool that carries them out."""

    name: str = Field(description="its most frequent sub-task phrase")
    subtasks: dict[str, int] = Field(description="each phrase grouped here, with how often the LLM wrote it")
    tool: str | None = Field(description="the tool it is mapped to; None when no tool covers it")
    instructions: list[str] = Field(description="the instructions that need it, in pool order")

    @property
    def covered(self) -> bool:
        return self.tool is not None


class Proposal(BaseModel):
    """The pool's instructions and modules, mapped onto one registry's tools by one LLM."""

    llm: str
    tools: dict[str, str] = Field(description="the registry's tools and versions the modules were mapped onto")
    left_out: list[str] = Field(default_factory=list, description="registered tools left out of the mapping (--without)")
    instructions: list[InstructionCoverage]
    modules: list[Module] = Field(description="uncovered modules first, then by how many instructions need them")

    def summary(self) -> dict[str, int]:
        status = Counter(i.status for i in self.instructions)
        return {
            "instructions": len(self.instructions), "covered": status["covered"], "partly": status["partly"],
            "uncovered": status["uncovered"], "modules": len(self.modules),
            "uncovered_modules": sum(not m.covered for m in self.modules),
        }


# -- the pool -------------------------------------------------------------------------------------------------------


def read_instructions(path: Path) -> list[str]:
    """The distinct instructions of ``path``: one a line (``#`` comments and blank lines skipped), or JSON lines
    with an ``instruction`` field. Options written ``(a) ... (b) ...`` are left out, and a task name such as
    ``NoiseDetection_LJSpeech_MUSAN-Music`` is read as words: "Noise detection (LJSpeech, MUSAN-Music)"."""
    if not path.is_file():
        raise CopilotError(f"no such instructions file: {path}")
    lines = path.read_text(encoding="utf-8").splitlines()
    texts = []
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        if text.startswith("{"):
            try:
                row = json.loads(text)
            except json.JSONDecodeError as exc:
                raise CopilotError(f"{path}:{number}: not JSON ({exc.msg})") from None
            if not isinstance(row, dict) or not isinstance(row.get("instruction"), str):
                raise CopilotError(f"{path}:{number}: a JSON line needs an \"instruction\" field holding text")
            text = row["instruction"]
        texts.append(text)
    return distinct(texts)


def bench_instructions(benchmark: str, data: Path, audio_dir: Path | None = None) -> list[str]:
    """The distinct questions (without their options) of a benchmark's items, read by its adapter."""
    from copilot.benchmarks.adapters import load_items

    return distinct(item.question for item in load_items(benchmark, data, audio_dir))


def distinct(texts: Iterable[str]) -> list[str]:
    """Each instruction once, in order: options left out, task names as words, spaces collapsed."""
    seen: dict[str, None] = {}
    for text in texts:
        stem, _ = split_options(" ".join(text.split()))
        stem = task_words(stem)
        if stem:
            seen.setdefault(stem, None)
    return list(seen)


def task_words(text: str) -> str:
    """A Dynamic-SUPERB task name as words ("SpeakerCounting_LibriTTS-TestClean": "Speaker counting
    (LibriTTS-TestClean)"); any other text as it is."""
    if " " in text or not _TASK_NAME.match(text) or not re.search(r"[a-z][A-Z]|_", text):
        return text
    task, *data = text.split("_")
    words = [w if w.isupper() else w.lower() for w in _WORD.findall(task)]
    phrase = " ".join(words)
    phrase = phrase[0].upper() + phrase[1:]
    return f"{phrase} ({', '.join(data)})" if data else phrase


# -- the LLM's two steps --------------------------------------------------------------------------------------------


def decompose_system() -> str:
    examples = "\n".join(f"Task: {task}\n{json.dumps({'subtasks': subtasks})}" for task, subtasks in DECOMPOSE_EXAMPLES)
    return f"{DECOMPOSE_RULES}\n\nExamples:\n{examples}"


def decompose_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"subtasks": {
            "type": "array", "items": {"type": "string", "minLength": 3, "maxLength": SUBTASK_CHARS},
            "minItems": 1, "maxItems": MAX_SUBTASKS,
        }},
        "required": ["subtasks"],
        "additionalProperties": False,
    }


def map_system(registry: Registry) -> str:
    tools = "\n".join(f"- {t.name}: {t.summary}" for t in registry)
    examples = [(s, tool) for s, tool in MAP_EXAMPLES if tool == NONE or tool in registry]
    shown = "\n".join(f"Sub-tasks:\n- {s}\n{json.dumps({'tool': tool})}" for s, tool in examples)
    return f"{MAP_RULES.format(tools=tools)}\n\nExamples:\n{shown}"


def map_schema(registry: Registry) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"tool": {"enum": [*registry.names, NONE]}},
        "required": ["tool"],
        "additionalProperties": False,
    }


def decompose(instruction: str, llm: LLM) -> list[str]:
    """The sub-tasks of ``instruction``, as the LLM phrases them (cleaned, each once)."""

    def read(text: str) -> list[str]:
        reply = json.loads(text)
        if not isinstance(reply, dict) or not isinstance(reply.get("subtasks"), list):
            raise ValueError('expected {"subtasks": [...]}')
        subtasks = list(dict.fromkeys(" ".join(str(s).split()).strip(" .;,").lower() for s in reply["subtasks"]))
        subtasks = [s[:SUBTASK_CHARS] for s in subtasks if s][:MAX_SUBTASKS]
        if not subtasks:
            raise ValueError("no sub-tasks")
        return subtasks

    return _ask(llm, decompose_system(), f"Task: {instruction}", decompose_schema(), 24 * MAX_SUBTASKS + 16, read,
                f"the sub-tasks of {instruction!r}")


def assign(subtasks: list[str], examples: list[str], llm: LLM, registry: Registry) -> str:
    """The tool (or none) the LLM maps a module to, shown its sub-task phrases and instructions that need it; a
    tool picked is then checked in a second question, which can turn it down."""
    choices = {*registry.names, NONE}

    def read(text: str) -> str:
        reply = json.loads(text)
        if not isinstance(reply, dict) or reply.get("tool") not in choices:
            raise ValueError(f"expected {{\"tool\": <one of {', '.join(sorted(choices))}>}}")
        return str(reply["tool"])

    def answer(text: str) -> bool:
        reply = json.loads(text)
        if not isinstance(reply, dict) or reply.get("answer") not in {"yes", "no"}:
            raise ValueError('expected {"answer": "yes"} or {"answer": "no"}')
        return bool(reply["answer"] == "yes")

    phrases = "Sub-tasks:\n" + "\n".join(f"- {s}" for s in subtasks)
    tasks = "\nFrom the tasks:\n" + "\n".join(f"- {e}" for e in examples)
    what = f"the tool for {subtasks[0]!r}"
    tool = _ask(llm, map_system(registry), phrases + tasks, map_schema(registry), 16, read, what)
    if tool == NONE:
        return NONE
    # the check is not shown the tasks: with them, it let "Spoof detection (ASVspoof2017)" through to asr
    summary = registry.get(tool).summary
    confirmed = _ask(llm, CHECK_RULES, f"Tool: {tool}: {summary}\n{phrases}", CHECK_SCHEMA, 8, answer, f"the check of {what}")
    return tool if confirmed else NONE


def _ask(llm: LLM, system: str, user: str, schema: dict[str, Any], max_tokens: int, read: Callable[[str], T], what: str) -> T:
    """``read`` of the LLM's reply; a reply it refuses is asked for again with the reason, then is an error."""
    problem, text = "", ""
    for _ in range(TRIES):
        note = f"\nYour previous reply was not valid ({problem}). Reply with JSON only, as asked." if problem else ""
        text = llm.complete([{"role": "system", "content": system}, {"role": "user", "content": user + note}],
                            schema, max_tokens).text
        try:
            return read(text)
        except (ValueError, ValidationError) as exc:  # json.JSONDecodeError is a ValueError
            problem = str(exc).splitlines()[0][:200]
    raise CopilotError(f"the LLM's reply for {what} is not valid after {TRIES} tries ({problem}): {text[:120]!r}")


def _key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


def _cached(cache: ToolCache | None, kind: str, key: str, make: Callable[[], Any]) -> Any:
    if cache is not None and (hit := cache.get(key)) is not None:
        return hit["value"]
    value = make()
    if cache is not None:
        cache.put(key, kind, {"value": value})
    return value


def subtasks_of(instruction: str, llm: LLM, cache: ToolCache | None = None) -> list[str]:
    """The sub-tasks of one instruction, from the cache when it has them."""
    key = _key("decompose", instruction, llm.name, decompose_system())
    return list(_cached(cache, "toolset.decompose", key, lambda: decompose(instruction, llm)))


def tool_of(subtasks: list[str], examples: list[str], llm: LLM, registry: Registry, cache: ToolCache | None = None) -> str:
    """The tool (or none) a module maps to, from the cache when it has it."""
    tools = [[t.name, t.version] for t in registry]
    key = _key("map", MAP_VERSION, subtasks, examples, llm.name, tools, map_system(registry), CHECK_RULES)
    return str(_cached(cache, "toolset.map", key, lambda: assign(subtasks, examples, llm, registry)))


# -- modules ----------------------------------------------------------------------------------------------------------


def content_words(phrase: str) -> frozenset[str]:
    """The stems a sub-task is grouped by: "Count the distinct voices" gives {count, speaker}."""
    words = [w for w in (_SAME_WORD.get(w, w) for w in plain(phrase).replace("'s", "").split()) if w not in _FUNCTION_WORDS]
    return frozenset(stems(" ".join(words))) or frozenset(stems(phrase))


def group(phrases: Counter[str]) -> list[list[str]]:
    """Phrases of one meaning together (see the module's docstring, step 2), largest groups first."""
    by_words: dict[frozenset[str], list[str]] = {}
    for phrase in sorted(phrases):
        by_words.setdefault(content_words(phrase), []).append(phrase)
    order = sorted(by_words, key=lambda w: (-sum(phrases[p] for p in by_words[w]), sorted(w)))
    modules: list[tuple[frozenset[str], list[str]]] = []
    for words in order:
        home = next((m for m in modules if len(words & m[0]) / len(words | m[0]) >= SIMILAR), None)
        if home is None:
            modules.append((words, list(by_words[words])))
        else:
            home[1].extend(by_words[words])
    return [members for _, members in modules]


def propose(
    pool: list[str], llm: LLM, registry: Registry, cache: ToolCache | None = None, left_out: list[str] | None = None,
    progress: bool = True,
) -> Proposal:
    """Decompose every instruction of ``pool``, group the sub-tasks into modules and map them onto ``registry``."""
    if not pool:
        raise CopilotError("the pool holds no instructions")
    studied = {
        text: subtasks_of(text, llm, cache)
        for text in tqdm(pool, desc="instructions", unit="instruction", file=sys.stderr, disable=not progress)
    }
    phrases = Counter(s for subtasks in studied.values() for s in subtasks)
    groups = group(phrases)
    modules, module_of = [], {}
    for members in tqdm(groups, desc="modules", unit="module", file=sys.stderr, disable=not progress):
        counts = {p: phrases[p] for p in sorted(members, key=lambda p: (-phrases[p], len(p), p))}
        needing = [text for text, subtasks in studied.items() if set(subtasks) & set(counts)]
        tool = tool_of(list(counts)[:MODULE_PHRASES], needing[:MODULE_EXAMPLES], llm, registry, cache)
        module = Module(name=next(iter(counts)), subtasks=counts, tool=None if tool == NONE else tool, instructions=needing)
        modules.append(module)
        module_of.update(dict.fromkeys(counts, module))
    instructions = []
    for text, subtasks in studied.items():
        mine = list({module_of[s].name: module_of[s] for s in subtasks}.values())
        served = {m.tool for m in mine}
        instructions.append(InstructionCoverage(
            instruction=text, subtasks=[SubTask(text=s, module=module_of[s].name) for s in subtasks],
            tools=[t for t in registry.names if t in served], uncovered=[m.name for m in mine if not m.covered],
        ))
    modules.sort(key=lambda m: (m.covered, -len(m.instructions), m.name))
    return Proposal(llm=llm.name, tools={t.name: t.version for t in registry}, left_out=left_out or [],
                    instructions=instructions, modules=modules)
