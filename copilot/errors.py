"""Errors a user can act on: each prints as one line, never as a traceback."""


class CopilotError(Exception):
    """Base of every error the CLI reports as a single `error: ...` line."""


class AudioError(CopilotError):
    """An input file that is missing, empty, too long or not decodable audio."""


class QuestionError(CopilotError):
    """A question too long to read, or one that asks more things at once than the copilot answers in one go."""


class ModelError(CopilotError):
    """A model file that cannot be assembled, or whose checksum is wrong."""


class ChecksumError(ModelError):
    """A model file or part whose sha256 differs from the manifest."""


class ToolError(CopilotError):
    """An unknown tool, invalid tool arguments, or a tool that failed on its input."""


class NothingToMeasure(ToolError):
    """A tool that found nothing it can measure in its range (no speech, no voice pitch): a finding about the audio,
    which the agent answers with instead of asking the planner for another program."""


class ContextOverflow(CopilotError):
    """A prompt that, with room for the reply, is longer than the LLM's context; ``prompt_tokens`` (the prompt
    alone) and ``context_tokens`` when the server said."""

    def __init__(self, message: str, prompt_tokens: int | None = None, context_tokens: int | None = None):
        super().__init__(message)
        self.prompt_tokens = prompt_tokens
        self.context_tokens = context_tokens
