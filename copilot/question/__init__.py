"""Reading a question: what it asks, read from its words, one function per feature.

- `request`: the `Request` (a question, its options and its clips), its options read from ``(a) ... (b) ...``, and
  the length limit every question is held to
- `reading`: quoted phrases, whether it asks what is said, about the content or the audio itself, which speaker said
  something or how long each speaks, yes or no, or for an inference
- `parts`: the questions a compound question joins, and the speaker it asks about by order
- `figures`: numbers it states: an option that is a number, a bound it sets on a quantity, what a count counts
- `shape`: what two questions must share for one's program to serve the other (plan reuse)
"""
