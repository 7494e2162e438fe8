"""Record the vcrpy cassettes of the openai backend tests against a real local server.

Starts `python -m llama_cpp.server` on 127.0.0.1 with the weights the llama-cpp backend
runs by default (the F16 copy of the bundled SmolLM2-135M-Instruct GGUF) and prompt
log-probs on, records the calls listed in `tests/openai_cassettes.py` into `cassettes/`
(Authorization and keys filtered out), and stops the server. Needs the server extra:
pip install 'edge-icl[server]'.

Each recorded `edge-icl run` (run, generate, parity) also gets its sidecar,
`cassettes/NAME.expected.json`: what the run read at every step (decisions, scores,
calibration, replies), and for generate and parity the llama-cpp backend's run of the same
steps on this machine. The tests check a replay against the sidecar, never against
numbers a fresh llama.cpp computes on another CPU. Runs are recorded with the LLM call
cache off, so that every call reaches the server and the cassette.

    python scripts/record_cassettes.py                 # every cassette
    python scripts/record_cassettes.py parity run      # some of them

The parity cassette holds a 30-step run through the completions API; llama_cpp.server's
echo costs about 75 ms per prompt token on 2 cores, so it takes 10-30 minutes.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from openai_cassettes import (  # noqa: E402
    CANDIDATES,
    CASSETTE_DIR,
    GENERATE_ARGS,
    GENERATE_LOCAL_ARGS,
    MESSAGES,
    PARITY_LOCAL_ARGS,
    RECORD_BASE_URL,
    RUN_ARGS,
    SERVER_MODEL,
    decisions,
    expected_path,
    parity_openai_args,
    run_transcript,
    start_llama_server,
    step_facts,
    stop_server,
    use_cassette,
    write_expected,
)

PORT = int(RECORD_BASE_URL.rsplit(":", 1)[1].split("/")[0])
# A fake key: the recording must show that keys are filtered, and no real key is needed.
RECORDING_KEY = "sk-recording-key-that-must-not-appear"
LOG = Path(tempfile.gettempdir()) / "edge-icl-llama-server.log"


NO_CACHE = ["--llm-cache", "off"]


def run_cli(args: list[str]) -> list[dict]:
    """`edge-icl run ARGS` with the call cache off; its transcript."""
    try:
        _, records = run_transcript(Path(tempfile.mkdtemp(prefix="edge-icl-cassette-run-")), [*args, *NO_CACHE])
    except AssertionError as failure:
        raise SystemExit(f"recording the run failed: {failure}") from None
    return records


def record_score() -> None:
    from agent.backends.openai_backend import OpenAIBackend

    backend = OpenAIBackend(model=SERVER_MODEL, base_url=RECORD_BASE_URL, api_key=RECORDING_KEY, max_retries=0, api="chat")
    print("score (chat):", backend.score(MESSAGES, CANDIDATES))


def record_complete() -> None:
    from agent.backends.openai_backend import OpenAIBackend

    backend = OpenAIBackend(model=SERVER_MODEL, base_url=RECORD_BASE_URL, api_key=RECORDING_KEY, max_retries=0, api="chat")
    print("complete (chat):", backend.complete(MESSAGES, max_tokens=6))


# name: (cassette, what records it) for single calls; (cassette, the run's args, the llama-cpp
# run it is compared with or None) for runs, which also get a sidecar.
CALLS: dict[str, tuple[str, Callable[[], None]]] = {
    "score": ("openai_score.yaml", record_score),
    "complete": ("openai_complete.yaml", record_complete),
}
RUNS: dict[str, tuple[str, list[str], list[str] | None]] = {
    "run": ("openai_run.yaml", [*RUN_ARGS, "--timeout", "900"], None),
    "generate": ("openai_generate.yaml", GENERATE_ARGS, GENERATE_LOCAL_ARGS),
    "parity": ("openai_parity.yaml", parity_openai_args(RECORD_BASE_URL), PARITY_LOCAL_ARGS),
}
RECORDINGS = [*CALLS, *RUNS]


def record(name: str) -> None:
    """Record cassette `name` afresh (not an append); for a run, then its local counterpart and the sidecar."""
    cassette = CALLS[name][0] if name in CALLS else RUNS[name][0]
    (CASSETTE_DIR / cassette).unlink(missing_ok=True)
    expected_path(cassette).unlink(missing_ok=True)  # never a sidecar of an older cassette
    started = time.perf_counter()
    with use_cassette(cassette, "all"):
        if name in CALLS:
            CALLS[name][1]()
        else:
            recorded = run_cli(RUNS[name][1])
    print(f"{cassette}: {time.perf_counter() - started:.0f} s")
    if name in RUNS:
        _, args, local_args = RUNS[name]
        local = run_cli(local_args) if local_args is not None else None
        if local is not None:
            agree = sum(a == b for a, b in zip(decisions(step_facts(local)), decisions(step_facts(recorded))))
            print(f"{name}: llama-cpp decides as the recording at {agree} of {len(recorded)} steps")
        print(f"sidecar: {write_expected(cassette, args, recorded, local)}")


def main() -> None:
    names = sys.argv[1:] or list(RECORDINGS)
    unknown = [n for n in names if n not in RECORDINGS]
    if unknown:
        raise SystemExit(f"unknown cassette(s) {', '.join(unknown)}; choose from {', '.join(RECORDINGS)}")
    CASSETTE_DIR.mkdir(exist_ok=True)
    os.environ["OPENAI_API_KEY"] = RECORDING_KEY
    server = start_llama_server(PORT, LOG)
    try:
        for name in names:
            record(name)
    finally:
        stop_server(server)
    print(f"cassettes written to {CASSETTE_DIR}")


if __name__ == "__main__":
    main()
