"""`copilot serve`: an OpenAI-compatible chat endpoint that answers questions about audio, and a web page.

    POST /v1/chat/completions   messages with text and ``input_audio`` parts (base64 wav or mp3), as in
                                OpenAI's audio-input chat API; the reply is a ``chat.completion`` whose
                                extra field ``copilot`` holds the answer's program, evidence and timings;
                                ``stream: true`` sends it as server-sent ``chat.completion.chunk`` events
    POST /v1/audio/transcriptions
                                a clip's transcript with speakers (txt, srt, vtt or json), as `copilot
                                transcript` writes it; OpenAI's fields as a JSON body, the ``file`` in
                                ``input_audio``'s shape (base64 wav or mp3), not multipart form data
    GET  /v1/models             the one model this server answers as
    GET  /                      the web page: upload or record a clip, download its transcript, ask, see
                                the answer and the evidence

The first ``input_audio`` of the user messages is the clip ``audio1``, a second one ``audio2``; the
question is the text of the last user message, and options written ``(a) ... (b) ...`` in it make it
multiple choice. The request's ``model`` is echoed back and selects nothing: the planner is chosen when
the server starts. One `Copilot` serves every request, so each model is loaded once; the LLM and the
tools serialise their own calls where a model is not thread-safe.

The server sheds load rather than fall over: ``concurrency`` questions are worked on at once (decoding
their clips included), ``queue`` more wait, and any further one is refused at once with a 503 and
``Retry-After``. Each request has a deadline (504 past it), a client that goes away has its queued
request dropped, a slow sender gets a 408, and uvicorn bounds the connections. A reply names no
folder of this machine and no exception type: an unexpected failure is a 500 with a request id, and
its traceback is in the server's log under that id. Without an API key the server listens only on
loopback (unless ``allow_remote``) and answers only to a loopback Host header, against DNS rebinding.
"""

from copilot.serve.app import create_app
from copilot.serve.config import ServerConfig
from copilot.serve.server import serve_from_args

__all__ = ["ServerConfig", "create_app", "serve_from_args"]
