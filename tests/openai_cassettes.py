"""What the openai backend tests replay, and how `scripts/record_cassettes.py` records it.

One place for the vcrpy settings and the recorded calls, so that the recording and the
replay cannot drift apart. Every request goes to the same path, so requests match on
their body; identical prompts repeat, so playback repeats are allowed; Authorization
and key headers never reach a cassette.
"""

from __future__ import annotations

from pathlib import Path

import vcr

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
