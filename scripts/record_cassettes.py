"""Record the vcrpy cassettes of the openai backend tests against a real local server.

Starts `python -m llama_cpp.server` on 127.0.0.1 with the weights the llama-cpp backend
runs by default (the F16 copy of the bundled SmolLM2-135M-Instruct GGUF) and prompt
log-probs on, records the calls listed in `tests/openai_cassettes.py` into `cassettes/`
(Authorization and keys filtered out), and stops the server. Needs the server extra:
pip install 'edge-icl[server]'.

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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from openai_cassettes import (  # noqa: E402
    CANDIDATES,
    CASSETTE_DIR,
    MESSAGES,
    RECORD_BASE_URL,
    GENERATE_ARGS,
    RUN_ARGS,
    SERVER_MODEL,
    parity_openai_args,
    start_llama_server,
    stop_server,
    use_cassette,
)

PORT = int(RECORD_BASE_URL.rsplit(":", 1)[1].split("/")[0])
# A fake key: the recording must show that keys are filtered, and no real key is needed.
RECORDING_KEY = "sk-recording-key-that-must-not-appear"
LOG = Path(tempfile.gettempdir()) / "edge-icl-llama-server.log"


def run_cli(args: list[str]) -> None:
    from typer.testing import CliRunner

    from agent.cli import app

    result = CliRunner().invoke(app, ["run", "--json", "--out", tempfile.mkdtemp(prefix="edge-icl-cassette-run-"), *args])
    if result.exit_code != 0:
        raise SystemExit(f"recording the run failed: {result.output}")


def record_score() -> None:
    from agent.backends.openai_backend import OpenAIBackend

    backend = OpenAIBackend(model=SERVER_MODEL, base_url=RECORD_BASE_URL, api_key=RECORDING_KEY, max_retries=0, api="chat")
    print("score (chat):", backend.score(MESSAGES, CANDIDATES))


def record_complete() -> None:
    from agent.backends.openai_backend import OpenAIBackend

    backend = OpenAIBackend(model=SERVER_MODEL, base_url=RECORD_BASE_URL, api_key=RECORDING_KEY, max_retries=0, api="chat")
    print("complete (chat):", backend.complete(MESSAGES, max_tokens=6))


def record_run() -> None:
    run_cli([*RUN_ARGS, "--timeout", "900"])
    print("run: ok")


def record_generate() -> None:
    run_cli(GENERATE_ARGS)
    print("generate run: ok")


def record_parity() -> None:
    run_cli(parity_openai_args(RECORD_BASE_URL))
    print("parity run: ok")


RECORDINGS = {
    "score": ("openai_score.yaml", record_score),
    "complete": ("openai_complete.yaml", record_complete),
    "run": ("openai_run.yaml", record_run),
    "generate": ("openai_generate.yaml", record_generate),
    "parity": ("openai_parity.yaml", record_parity),
}


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
            cassette, record = RECORDINGS[name]
            (CASSETTE_DIR / cassette).unlink(missing_ok=True)  # a fresh recording, not an append
            started = time.perf_counter()
            with use_cassette(cassette, "all"):
                record()
            print(f"{cassette}: {time.perf_counter() - started:.0f} s")
    finally:
        stop_server(server)
    print(f"cassettes written to {CASSETTE_DIR}")


if __name__ == "__main__":
    main()
