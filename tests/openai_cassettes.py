"""What the openai backend tests replay, and how `scripts/record_cassettes.py` records it.

One place for the vcrpy settings, the recorded calls and the llama.cpp server they are
recorded against, so that the recording, the replay and the live parity test cannot
drift apart. Requests match on their path and body; identical prompts repeat, so
playback repeats are allowed; Authorization and key headers never reach a cassette.

Each recorded `edge-icl run` has a sidecar next to its cassette (`NAME.expected.json`),
written by the same recording: what the run read from the server at every step, and,
where a test compares with the llama-cpp backend, that backend's run on the recording
machine. A replay is checked against its sidecar (the same HTTP bodies give the same
numbers on any CPU); a fresh local run is checked against the replay by its decisions
only: llama.cpp's last digits depend on the CPU it was compiled for.
"""

from __future__ import annotations

import json
import math
import os
import platform
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import vcr
import yaml

CASSETTE_DIR = Path(__file__).resolve().parent.parent / "cassettes"
SERVER_MODEL = "smollm2-135m"
RECORD_BASE_URL = "http://127.0.0.1:8765/v1"
SECRET_HEADERS = ("authorization", "api-key", "x-api-key", "openai-organization", "openai-project", "cookie", "set-cookie")
MESSAGES = [
    {"role": "system", "content": 'Reply "local" or "offload" only.'},
    {
        "role": "user",
        "content": "Keywords: (chatting, short), Decision: local\nKeywords: (reasoning, medium), Decision: offload\n"
        "Keywords: (chatting, short), Decision:",
    },
]
CANDIDATES = ["local", "offload"]
RUN_ARGS = ["--backend", "openai", "--base-url", RECORD_BASE_URL, "--model", SERVER_MODEL, "--steps", "4", "--seed", "3", "--exploration", "none"]
# Generate mode through the completions API: the reply continues the prompt's prefill
# ("Decision:") as the llama-cpp backend's does, instead of a chat turn's prose.
# One of the recorded replies names no decision: above the default --max-fallback-share, and
# beside the point of these runs (two backends are compared, not the result).
GENERATE_ARGS = [*RUN_ARGS, "--decision-mode", "generate", "--max-fallback-share", "1"]
# The parity run (issue 10): the default agent on 30 seeded steps, once through the
# llama-cpp backend and once through the same weights behind llama_cpp.server's
# completions API. The server's echo is slow (module note of agent/backends/openai_backend.py),
# hence the long timeout and no retries (a retry would queue a second slow request).
PARITY_STEPS = ["--steps", "30", "--seed", "1"]
PARITY_HTTP = ["--api", "completions", "--timeout", "900", "--max-retries", "0"]
# The llama-cpp backend's side of the parity and generate comparisons: the same steps and seed.
PARITY_LOCAL_ARGS = ["--backend", "llama-cpp", *PARITY_STEPS]
GENERATE_LOCAL_ARGS = ["--backend", "llama-cpp", *GENERATE_ARGS[GENERATE_ARGS.index("--steps") :]]
# What a sidecar keeps of each transcript line: the decision and everything the backend read
# from the server (scores, calibration, reply, token count), none of the timings.
SIDECAR_FIELDS = ("step", "explored", "llm_call", "decision", "parsed_ok", "reply", "scores", "calibration", "censored",
                  "score_method", "prompt_tokens")
# Replayed numbers are computed from the recorded JSON bodies by Python and numpy alone (sums of
# token log-probs, a log-sum-exp): the same on every CPU but for a last-bit libm difference at
# most, far below this; llama.cpp takes no part in a replay.
REPLAY_REL_TOL = 1e-12


def parity_openai_args(base_url: str) -> list[str]:
    """`edge-icl run` arguments of the parity run's openai side, against `base_url`."""
    return ["--backend", "openai", "--base-url", base_url, "--model", SERVER_MODEL, *PARITY_HTTP, *PARITY_STEPS]


def run_transcript(out: Path, args: list[str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """`edge-icl run --json --out OUT ARGS` in-process: its summary and its transcript, one record per step.

    Raises AssertionError with the command's output when it fails (a test's failure, a recording's stop)."""
    from typer.testing import CliRunner

    from edge_icl.cli import app

    out.mkdir(parents=True, exist_ok=True)
    before = set(out.iterdir())
    result = CliRunner().invoke(app, ["run", "--json", "--out", str(out), *args])
    assert result.exit_code == 0, result.output
    (folder,) = set(out.iterdir()) - before
    records = [json.loads(line) for line in (folder / "transcript.jsonl").read_text().splitlines()]
    return json.loads(result.stdout), records


def step_facts(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The SIDECAR_FIELDS of each transcript record (those it has)."""
    return [{key: record[key] for key in SIDECAR_FIELDS if key in record} for record in records]


def decisions(facts: list[dict[str, Any]]) -> list[Any]:
    return [fact["decision"] for fact in facts]


def expected_path(cassette: str) -> Path:
    """The sidecar of `cassette`: cassettes/NAME.expected.json."""
    return CASSETTE_DIR / cassette.replace(".yaml", ".expected.json")


def recording_machine() -> str:
    """The CPU model (from /proc/cpuinfo where there is one) and the platform: which machine a sidecar was made on."""
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}; {platform.platform()}"


def write_expected(cassette: str, args: list[str], recorded: list[dict[str, Any]], local: list[dict[str, Any]] | None) -> Path:
    """Write the sidecar of `cassette`: the recorded run's step facts and, when given, the llama-cpp run's on this machine."""
    from importlib.metadata import version

    sidecar: dict[str, Any] = {
        "cassette": cassette,
        "note": "written by scripts/record_cassettes.py with the cassette; a replay must equal 'openai'",
        "machine": recording_machine(),
        "llama_cpp_python": version("llama-cpp-python"),
        "args": args,
        "openai": step_facts(recorded),
    }
    if local is not None:
        sidecar["llama_cpp"] = step_facts(local)
    path = expected_path(cassette)
    path.write_text(json.dumps(sidecar, indent=1) + "\n")
    return path


def read_expected(cassette: str) -> dict[str, Any]:
    """The sidecar of `cassette`; AssertionError naming the file and how to make it when it is missing."""
    path = expected_path(cassette)
    assert path.is_file(), f"missing sidecar {path}: record it with its cassette, python scripts/record_cassettes.py"
    return json.loads(path.read_text())


def assert_same_facts(got: Any, want: Any, where: str = "") -> None:
    """`got` equals `want` value for value; floats to REPLAY_REL_TOL (a replay against its sidecar)."""
    if isinstance(want, float) or isinstance(got, float):
        assert isinstance(got, (int, float)) and isinstance(want, (int, float)), (where, got, want)
        assert math.isclose(got, want, rel_tol=REPLAY_REL_TOL, abs_tol=REPLAY_REL_TOL), (where, got, want)
    elif isinstance(want, dict):
        assert isinstance(got, dict) and got.keys() == want.keys(), (where, got, want)
        for key in want:
            assert_same_facts(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), (where, got, want)
        for index, (mine, theirs) in enumerate(zip(got, want)):
            assert_same_facts(mine, theirs, f"{where}[{index}]")
    else:
        assert got == want, (where, got, want)


def server_weights() -> Path:
    """The weights the llama-cpp backend runs by default (the F16 copy of the bundled GGUF): the server serves the same file."""
    from agent.backends.bundled_model import bundled_model_path
    from agent.backends.llama_cpp import f16_copy

    return f16_copy(bundled_model_path())


def free_port() -> int:
    """A 127.0.0.1 port free right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_llama_server(port: int, log: Path, deadline_s: float = 180.0) -> subprocess.Popen:
    """`python -m llama_cpp.server` with the default weights on 127.0.0.1:`port`, with prompt log-probs
    (`--logits_all`), greedy-capable and seeded; returns once /v1/models answers. Its output goes to
    `log` (a file, not a pipe: a full pipe would block the talkative server); the caller stops it."""
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(server_weights()), "--model_alias", SERVER_MODEL,
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--seed", "0", "--logits_all", "true",
    ]
    with open(log, "w") as sink:
        server = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE"})
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited with {server.returncode}; its log ends: {log.read_text()[-500:]}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2)
            return server
        except OSError:
            time.sleep(0.5)
    stop_server(server)
    raise RuntimeError(f"llama_cpp.server did not answer within {deadline_s:.0f} s; see {log}")


def stop_server(server: subprocess.Popen) -> None:
    """Terminate the server (kill it if it does not stop within 30 s) and wait for it."""
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=30)


def _scrub_response(response: dict) -> dict:
    headers = response.get("headers", {})
    for name in list(headers):
        if name.lower() in SECRET_HEADERS:
            del headers[name]
    return response


def use_cassette(name: str, record_mode: str):
    """Context manager recording or replaying cassette `name` ("none": never the network)."""
    return vcr.VCR(
        cassette_library_dir=str(CASSETTE_DIR),
        record_mode=record_mode,
        match_on=["method", "scheme", "host", "port", "path", "body"],
        filter_headers=list(SECRET_HEADERS),
        filter_query_parameters=["api_key", "key"],
        before_record_response=_scrub_response,
        decode_compressed_response=True,
    ).use_cassette(name, allow_playback_repeats=True)


def recorded_replies(name: str) -> Callable[[str, dict], tuple[int, str]]:
    """What the real server answered in cassette `name`, as a reply function of a local fake server
    (tests/test_backend_openai_http.py): each request (path and JSON body) gets the recorded
    response body, at any host and port; an unrecorded request gets a 404. For tests that need a
    healthy server at the very URL where a broken one stood (the cache keys hold the URL)."""
    recorded: dict[tuple[str, str], tuple[int, str]] = {}
    for interaction in yaml.safe_load((CASSETTE_DIR / name).read_text())["interactions"]:
        request, response = interaction["request"], interaction["response"]
        key = (urlsplit(request["uri"]).path, json.dumps(json.loads(request["body"]), sort_keys=True))
        recorded[key] = (int(response["status"]["code"]), response["body"]["string"])
    unrecorded = (404, json.dumps({"error": {"message": f"this request is not in {name}"}}))
    return lambda path, body: recorded.get((path, json.dumps(body, sort_keys=True)), unrecorded)
