"""A bounded load test of `copilot serve`: N chat requests with a clip, C at a time, through the `openai` client.

    copilot serve --planner fixed:duration --llm embedded:qwen2.5-coder-0.5b --port 8000 &
    python -m copilot.benchmarks.serve_load [--url http://127.0.0.1:8000] [--requests 50] [--concurrency 4]

Prints the latency of each request as the client sees it (p50, p95, max), the throughput, the
server-side time of the agent (median of ``copilot.trace.timings.total``) and the errors. One
warm-up request runs first and is not counted. Exits 1 when any request failed.
"""

from __future__ import annotations

import argparse
import base64
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import openai


def one_request(client: openai.OpenAI, question: str, clip: str) -> tuple[float, float | None, str | None]:
    """Ask once: the client-side latency, the server's agent time, and the error message if it failed."""
    started = time.perf_counter()
    try:
        reply = client.chat.completions.create(
            model="speech-copilot",
            messages=[
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": question},
                        {"type": "input_audio", "input_audio": {"data": clip, "format": "wav"}},
                    ],
                }
            ],
        )
    except openai.OpenAIError as exc:
        return time.perf_counter() - started, None, f"{type(exc).__name__}: {exc}"
    return time.perf_counter() - started, (reply.model_extra or {})["copilot"]["trace"]["timings"]["total"], None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the server (default: http://127.0.0.1:8000)")
    parser.add_argument("--api-key", default="none", help="the server's API key, if it has one")
    parser.add_argument("--audio", type=Path, default=Path("examples/meeting.wav"), help="a wav clip to send")
    parser.add_argument("--question", default="How long is the clip, in seconds?")
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()

    client = openai.OpenAI(base_url=f"{args.url.rstrip('/')}/v1", api_key=args.api_key, max_retries=0, timeout=900)
    clip = base64.b64encode(args.audio.read_bytes()).decode()
    planner = (client.models.list().data[0].model_extra or {}).get("planner")
    warm, _, error = one_request(client, args.question, clip)
    if error:
        print(f"warm-up request failed: {error}")
        return 1
    started = time.perf_counter()
    with ThreadPoolExecutor(args.concurrency) as pool:
        results = list(pool.map(lambda _: one_request(client, args.question, clip), range(args.requests)))
    wall = time.perf_counter() - started
    latencies = np.array([latency for latency, _, error in results if error is None])
    agent = [seconds for _, seconds, _ in results if seconds is not None]
    errors = [error for _, _, error in results if error is not None]

    print(
        f"server {args.url}, planner {planner}; clip {args.audio} ({args.audio.stat().st_size / 1e6:.2f} MB); warm-up {warm:.2f} s"
    )
    print(
        f"{args.requests} requests, {args.concurrency} at a time, in {wall:.1f} s ({args.requests / wall:.2f} requests/s)\n"
    )
    print("| requests | concurrency | errors | p50 (s) | p95 (s) | max (s) | agent median (s) |")
    print("|---|---|---|---|---|---|---|")
    if len(latencies):
        p50, p95 = np.percentile(latencies, [50, 95])
        print(
            f"| {args.requests} | {args.concurrency} | {len(errors)} | {p50:.2f} | {p95:.2f} | {latencies.max():.2f} | {np.median(agent):.2f} |"
        )
    for error in dict.fromkeys(errors):
        print(f"error: {error}")
    return 1 if errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
