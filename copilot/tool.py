"""The tool contract: a named, versioned, documented function from typed input to typed output, and what the output
tells the answer step.

A tool is four things. An input model: `ToolInput` (which clip), `SpanInput` (a time range of it too), or a subclass
with more fields. An output model: a subclass of `ToolOutput`, JSON-serialisable, times in seconds. Its `Findings`,
returned by the output's `findings()`: the facts the answer step reads, and the labels, attribute and quantities a
question is answered from in code. And a function decorated with `@tool`, whose docstring is what the planner reads:
its first paragraph is a summary of one or two sentences (what the tool measures, when to use it), which is all a small
local planner model sees; the rest says what it cannot do and what its output means.

    class Loudness(ToolOutput):
        lufs: float

        def findings(self) -> Findings:
            return Findings(
                facts=f"Loudness: {self.lufs:.1f} LUFS",
                quantities=[Quantity(name="loudness", value=self.lufs, unit="LUFS", terms=["loudness", "how loud"])],
            )

    @tool(version="1")
    def loudness(args: SpanInput, clips: Clips) -> Loudness:
        \"\"\"Integrated loudness of the clip in LUFS ...\"\"\"
        audio = args.clip(clips)
        ...
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from copilot.audio import Audio
from copilot.errors import AudioError, ToolError

Clips = Mapping[str, Audio]
"""The clips of one question by name: ``audio1``, and ``audio2`` when a second clip is given."""


class Attribute(BaseModel):
    """A property whose value a tool's labels name from a closed set: ``gender`` is ``male`` or ``female``."""

    name: str
    values: list[str]
    terms: dict[str, list[str]] = Field(
        default_factory=dict,
        description='other words a question names a value by, matched in any inflection: {"reverberant": ["echo"]}',
    )


class Quantity(BaseModel):
    """A number a tool measured, its unit, and the words a question names it by: the clip's duration is
    ``Quantity(name="duration", value=6.79, unit="s", terms=["duration", "length", "long"])``.

    A multiple-choice question whose options are all numbers and whose words name exactly one measured quantity is
    answered with the option nearest to it (`copilot.answering.matching`), without asking the LLM."""

    name: str = Field(description="what is measured, as the answer says it: duration, number of speakers, SNR")
    value: float
    unit: str = Field(description="s, dB, Hz or LUFS; empty for a count, which a question asks with 'how many'")
    terms: list[str] = Field(description="words or phrases that name it in a question, matched in any inflection")
    reading: str | None = Field(
        None, description="the value placed against stated references: 'quiet, well below broadcast level (EBU R 128 ...)'"
    )


class Findings(BaseModel):
    """What a tool's output tells the answer step: a readable summary, and the values a question is answered from in
    code. Only ``facts`` is needed; the rest, left empty, makes no decision."""

    facts: str = Field(
        "", description="a compact, labelled summary for people and for the answer step: 'Language: German (p=0.98)'"
    )
    labels: list[str] = Field(
        default_factory=list,
        description="categorical values the output asserts (female, German, Dog), likeliest first, matched against "
        "answer options: an option a label names is the answer without asking the LLM",
    )
    attribute: Attribute | None = Field(
        None,
        description="the closed set the labels come from, if they do: a question whose options only go with one value "
        "('which singer shares the speaker's gender?') is then answered by asking which value each option goes with",
    )
    quantities: list[Quantity] = Field(
        default_factory=list,
        description="the numbers measured that a question may ask for (a duration, a number of speakers, an SNR), "
        "matched against options that are numbers: the option nearest to the measured value is the answer",
    )
    by_speaker: list[list[str]] = Field(
        default_factory=list,
        description="each speaker's labels, speakers in order of first speech, when the output is speaker by speaker: "
        "a question about one of them ('who speaks second, a man or a woman?') is answered from theirs",
    )
    vocabulary: list[str] = Field(
        default_factory=list,
        description="every label the tool could have given, when it names from a closed set (a sound tagger's "
        "classes): a yes/no question naming one of them that the labels lack ('can you hear rain?') is answered no",
    )
    named_values: dict[str, str] = Field(
        default_factory=dict,
        description="what the output names outright for a thing a question may ask for by name, beyond its attribute: "
        "a sound tagger's likeliest sound for 'what's that noise?' ({'sound': 'Applause', 'noise': 'Applause'})",
    )


class ToolOutput(BaseModel):
    """What a tool returns: JSON-serialisable, times in seconds, with its `Findings`."""

    def findings(self) -> Findings:
        """What this output tells the answer step; by default only facts, the output's JSON. Override it to give a
        compact summary and the labels, attribute or quantities a question is answered from."""
        return Findings(facts=self.model_dump_json(exclude_none=True))


class Segment(BaseModel):
    """A time range of a clip, in seconds from the clip's start."""

    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


class ToolInput(BaseModel):
    """Arguments every tool takes: which input clip it looks at."""

    model_config = ConfigDict(extra="forbid")
    clip_fields: ClassVar[tuple[str, ...]] = ("audio",)

    audio: str = Field("audio1", description="which input clip: audio1, or audio2 when a second clip is given")

    def clip(self, clips: Clips, field: str = "audio") -> Audio:
        """The clip named by ``field``, cropped to this input's time range if it has one."""
        name = getattr(self, field)
        if name not in clips:
            raise ToolError(f"no clip named {name!r}; this question has {', '.join(sorted(clips)) or 'no clips'}")
        audio = clips[name]
        start, end = getattr(self, "start", None), getattr(self, "end", None)
        try:
            return audio.crop(start, end)
        except AudioError as exc:
            raise ToolError(str(exc)) from None


class SpanInput(ToolInput):
    """Arguments of a tool that can look at one time range of the clip instead of all of it."""

    start: float | None = Field(None, ge=0, description="start of the range to analyse, in seconds (default: clip start)")
    end: float | None = Field(None, gt=0, description="end of the range to analyse, in seconds (default: clip end)")


@dataclass(frozen=True)
class Tool:
    """A callable speech tool with the schemas and description the planner needs."""

    name: str
    description: str
    version: str
    input_model: type[ToolInput]
    output_model: type[ToolOutput]
    fn: Callable[[Any, Clips], ToolOutput]
    serves: tuple[str, ...] = ()
    """Words a question names when it needs this tool ("emotion"): a program for such a question that has no step
    of a tool serving them gets one, added in code (`copilot.agent`)."""

    @property
    def summary(self) -> str:
        """The description's first paragraph: the short form a small planner model reads."""
        return " ".join(self.description.split("\n\n")[0].split())

    def parse(self, args: Mapping[str, Any] | ToolInput | None) -> ToolInput:
        """Validate raw arguments (for instance from an LLM's program) into the input model."""
        if isinstance(args, self.input_model):
            return args
        try:
            return self.input_model.model_validate(dict(args or {}))
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'arguments'}: {e['msg']}" for e in exc.errors())
            raise ToolError(f"bad arguments for tool {self.name!r}: {problems}") from None

    def __call__(self, args: Mapping[str, Any] | ToolInput | None, clips: Clips) -> ToolOutput:
        """Run the tool on ``clips`` with validated ``args``."""
        result = self.fn(self.parse(args), clips)
        if not isinstance(result, self.output_model):
            raise TypeError(f"tool {self.name!r} returned {type(result).__name__}, not {self.output_model.__name__}")
        return result

    def spec(self) -> dict[str, Any]:
        """The JSON-serialisable description of this tool shown to planners and by `copilot tools`."""
        return {
            "name": self.name,
            "version": self.version,
            "description": self.description,
            "serves": list(self.serves),
            "input_schema": self.input_model.model_json_schema(),
            "output_schema": self.output_model.model_json_schema(),
        }


def tool(
    name: str | None = None, version: str = "1", serves: tuple[str, ...] = ()
) -> Callable[[Callable[..., ToolOutput]], Tool]:
    """Make a `Tool` of a typed function ``fn(args: SomeInput, clips: Clips) -> SomeOutput``.

    The name defaults to the function's name; the description is its docstring; ``serves`` are the words a question
    names when it needs the tool (see `Tool.serves`).
    """

    def build(fn: Callable[..., ToolOutput]) -> Tool:
        hints = get_type_hints(fn)
        params = list(inspect.signature(fn).parameters)
        input_model, output_model = hints.get(params[0]) if params else None, hints.get("return")
        if not (isinstance(input_model, type) and issubclass(input_model, ToolInput)):
            raise TypeError(f"{fn.__name__}: the first parameter must be annotated with a ToolInput subclass")
        if not (isinstance(output_model, type) and issubclass(output_model, ToolOutput)):
            raise TypeError(f"{fn.__name__}: the return annotation must be a ToolOutput subclass")
        doc = inspect.getdoc(fn)
        if not doc:
            raise TypeError(f"{fn.__name__}: a tool needs a docstring; it is the planner's description")
        return Tool(name or fn.__name__, doc, version, input_model, output_model, fn, serves)

    return build
