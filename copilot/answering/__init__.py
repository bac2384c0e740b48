"""The answer stage: `answer(request, evidence, llm)` composes the answer to a request from what the tools measured.

- `compose`: the order of decisions, and the LLM calls that pick, link or write an answer
- `grounding`: the answers that the measurements decide, in code
- `matching`: options and questions matched to labels and measured numbers
- `prompts`: the answer step's prompts and JSON schemas
- `models`: the records: `Draft`, `Answer` with its `Trace`, a compound question's `PartAnswer`
"""

from copilot.answering.compose import answer

__all__ = ["answer"]
