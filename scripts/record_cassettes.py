"""Record the vcrpy cassettes of the openai backend tests against a real local server.

Starts `python -m llama_cpp.server` with the bundled SmolLM2-135M-Instruct GGUF on
127.0.0.1, records the calls listed in `tests/openai_cassettes.py` into `cassettes/`
(Authorization and keys filtered out), and stops the server. Needs the server extra:
pip install 'edge-icl[server]'.

    python scripts/record_cassettes.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from agent.backends.llama_cpp import bundled_model_path  # noqa: E402
from openai_cassettes import CANDIDATES, CASSETTE_DIR, MESSAGES, RECORD_BASE_URL, RUN_ARGS, SERVER_MODEL, use_cassette  # noqa: E402

PORT = int(RECORD_BASE_URL.rsplit(":", 1)[1].split("/")[0])
# A fake key: the recording must show that keys are filtered, and no real key is needed.
RECORDING_KEY = "sk-recording-key-that-must-not-appear"
LOG = Path(tempfile.gettempdir()) / "edge-icl-llama-server.log"


def start_server() -> subprocess.Popen:
    """`python -m llama_cpp.server` with the bundled model, greedy-capable, on 127.0.0.1:PORT."""
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(bundled_model_path()), "--model_alias", SERVER_MODEL,
        "--host", "127.0.0.1", "--port", str(PORT), "--n_ctx", "2048", "--seed", "0", "--logits_all", "true",
    ]
    log = open(LOG, "w")  # a file, not a pipe: a full pipe would block the talkative server
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"})
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"llama_cpp.server exited; its log ends: {LOG.read_text()[-500:]}")
        try:
            urllib.request.urlopen(f"{RECORD_BASE_URL}/models", timeout=2)
            return server
        except OSError:
            time.sleep(1)
    server.terminate()
    raise SystemExit(f"llama_cpp.server did not answer within 120 s; see {LOG}")


def record() -> None:
    from typer.testing import CliRunner

    from agent.backends.openai_backend import OpenAIBackend
    from agent.cli import app

    CASSETTE_DIR.mkdir(exist_ok=True)
    backend = OpenAIBackend(model=SERVER_MODEL, base_url=RECORD_BASE_URL, api_key=RECORDING_KEY, max_retries=0)
    with use_cassette("openai_score.yaml", "all"):
        print("score:", backend.score(MESSAGES, CANDIDATES))
    with use_cassette("openai_complete.yaml", "all"):
        print("complete:", backend.complete(MESSAGES, max_tokens=6))
    os.environ["OPENAI_API_KEY"] = RECORDING_KEY
    with use_cassette("openai_run.yaml", "all"):
        result = CliRunner().invoke(app, ["run", "--json", "--out", tempfile.mkdtemp(prefix="edge-icl-cassette-run-"), *RUN_ARGS])
        if result.exit_code != 0:
            raise SystemExit(f"recording the run failed: {result.output}")
        print("run: ok")


def main() -> None:
    server = start_server()
    try:
        record()
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"cassettes written to {CASSETTE_DIR}")


if __name__ == "__main__":
    main()
