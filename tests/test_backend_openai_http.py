"""The openai backend over HTTP against a fake OpenAI-compatible server run in-process on 127.0.0.1.

The fake server answers canned JSON through a real socket, so the real openai SDK takes its
real paths: timeouts, retries, status codes, malformed bodies. What is checked:
- chat-only APIs (GPT-4o style, max_tokens=1, top-20 log-probs): a candidate missing from
  the top-k is censored at the k-th log-prob, never -inf; a decision with every candidate
  censored is a counted parse failure with the fallback; a model that always answers
  "local" decides local (the old -inf - -inf = NaN made it offload on every step);
- API detection: a server that refuses /v1/completions is scored through chat;
- faults: a hanging server fails after about timeout*(retries+1) with one line that says
  so; a refused connection says it cannot connect; 5xx is retried, then one line;
  malformed JSON, no choices, empty/null and runaway replies are replies that name no
  decision and carry the raw body (4 KB at most) and its length.
"""

from __future__ import annotations

import json
import math
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from agent.backends.base import RAW_REPLY_CAP, BackendError
from agent.backends.openai_backend import OpenAIBackend
from edge_icl.cli import app

HANG = object()
Reply = Callable[[str, dict[str, Any]], tuple[int, Any]]


def chat_reply(content: str | None, top: dict[str, float] | None = None, chosen: str | None = None) -> str:
    """A chat.completion body: `content`, and when `top` is given the first token's top log-probs."""
    logprobs = None
    if top is not None:
        chosen = chosen if chosen is not None else max(top, key=top.get)
        entries = [{"token": t, "logprob": lp, "bytes": list(t.encode())} for t, lp in top.items()]
        logprobs = {"content": [{"token": chosen, "logprob": top.get(chosen, -30.0), "bytes": list(chosen.encode()), "top_logprobs": entries}]}
    return json.dumps({
        "id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": "fake",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "logprobs": logprobs, "finish_reason": "length"}],
        "usage": {"prompt_tokens": 100, "completion_tokens": 1, "total_tokens": 101},
    })


def filler(k: int, start: float = -2.0, step: float = -0.5) -> dict[str, float]:
    """k top tokens that begin no candidate ("The", "A", ...), with falling log-probs."""
    words = ["The", "A", "I", "This", "In", "Based", "Sure", "It", "We", "To", "Yes", "No", "You", "As", "For", "An", "My", "Here", "Given", "What"]
    return {words[i % len(words)] + ("" if i < len(words) else str(i)): start + step * i for i in range(k)}


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.reply: Reply = lambda path, body: (404, json.dumps({"error": {"message": f"no route {path}"}}))
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.closing = threading.Event()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1"


class _Handler(BaseHTTPRequestHandler):
    server: FakeServer

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length", 0))
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            body = {}
        self.server.requests.append((self.path, body))
        status, text = self.server.reply(self.path, body)
        if text is HANG:
            self.server.closing.wait(30)
            return
        data = text.encode() if isinstance(text, str) else bytes(text)
        try:
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout test)
            pass

    do_GET = do_POST


@contextmanager
def fake_server() -> Iterator[FakeServer]:
    """A running FakeServer; closed (and hanging handlers released) on exit."""
    server = FakeServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.closing.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def closed_port() -> int:
    """A 127.0.0.1 port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- the tests ------------------------------------------------------------------------
CANDIDATES = [" local", " offload"]
MESSAGES = [
    {"role": "system", "content": 'Reply "local" or "offload" only.'},
    {"role": "user", "content": "Keywords: (chatting, short)"},
    {"role": "assistant", "content": "Decision:"},
]
# For the runs whose every reply names no decision on purpose: the fallback's work is checked, which
# the default --max-fallback-share would call not valid (exit 3; tests/test_fallback_share.py).
ACCEPT_FALLBACKS = ("--max-fallback-share", "1")
COMPLETIONS_REFUSED = (404, json.dumps({"error": {"message": "This is a chat model and not supported in the v1/completions endpoint."}}))


@pytest.fixture
def server() -> Iterator[FakeServer]:
    with fake_server() as running:
        yield running


def chat_only(reply_body: str) -> Reply:
    """A chat-only API: /completions refused, /chat/completions answers `reply_body`."""
    return lambda path, body: COMPLETIONS_REFUSED if path.endswith("/completions") and "chat" not in path else (200, reply_body)


def backend_for(server: FakeServer, **options: Any) -> OpenAIBackend:
    return OpenAIBackend(model="fake", base_url=server.base_url, api_key="sk-test", **{"api": "chat", "max_retries": 0, **options})


def run(tmp_path: Path, server: FakeServer, *args: str) -> tuple[dict, list[dict]]:
    result = CliRunner().invoke(
        app, ["run", "--json", "--out", str(tmp_path), "--backend", "openai", "--base-url", server.base_url, "--model", "fake", *args]
    )
    assert result.exit_code == 0, result.output
    (folder,) = tmp_path.iterdir()
    records = [json.loads(line) for line in (folder / "transcript.jsonl").read_text().splitlines()]
    return json.loads(result.stdout), records


# --- chat-only APIs: top-20 log-probs, censored candidates ------------------------------
def test_score_asks_for_one_token_and_the_top_20_log_probs(server):
    server.reply = chat_only(chat_reply("local", {"local": -0.2, "off": -1.9, **filler(18)}))
    backend_for(server).score(MESSAGES, CANDIDATES)
    (path, request), = server.requests
    assert path.endswith("/chat/completions")
    assert request["max_tokens"] == 1 and request["logprobs"] is True and request["top_logprobs"] == 20 and request["temperature"] == 0


def test_both_candidates_in_the_top_k_get_their_log_probs_and_none_is_censored(server):
    server.reply = chat_only(chat_reply("local", {"local": -0.2, "Local": -3.0, "off": -1.9, **filler(17)}))
    scores = backend_for(server).score(MESSAGES, CANDIDATES)
    assert scores.method == "top_logprobs" and scores.censored == frozenset()
    assert scores.logprobs[" local"] == pytest.approx(math.log(math.exp(-0.2) + math.exp(-3.0)))
    assert scores.logprobs[" offload"] == pytest.approx(-1.9)


def test_a_candidate_missing_from_the_top_k_is_censored_at_the_kth_log_prob(server):
    top = {"local": -0.05, **filler(19, start=-4.0, step=-0.5)}  # the 20th: -4.0 - 0.5 * 18 = -13.0
    server.reply = chat_only(chat_reply("local", top))
    scores = backend_for(server).score(MESSAGES, CANDIDATES)
    assert scores.censored == frozenset({" offload"})
    assert scores.logprobs[" offload"] == pytest.approx(-13.0) == min(top.values())  # an upper bound, finite
    assert scores.logprobs[" local"] == pytest.approx(-0.05)


def test_one_letter_tokens_are_no_vote_for_a_candidate(server):
    server.reply = chat_only(chat_reply("o", {"o": -0.1, "L": -0.5, "off": -3.0, **filler(17, start=-5.0)}))
    scores = backend_for(server).score(MESSAGES, CANDIDATES)
    assert scores.censored == frozenset({" local"}) and scores.logprobs[" offload"] == pytest.approx(-3.0)


def test_every_candidate_censored_is_a_parse_failure_counted_with_the_fallback(tmp_path, server):
    server.reply = chat_only(chat_reply("The", filler(20)))
    summary, records = run(tmp_path, server, "--steps", "6", "--seed", "0", "--exploration", "none", "--fallback", "local", *ACCEPT_FALLBACKS)
    assert summary["llm_calls"] == 6 and summary["parse_failures"] == 6
    for record in records:
        assert record["censored"] == CANDIDATES and record["parsed_ok"] is False and record["fallback"] == "local"
        assert all(v is not None and math.isfinite(v) for v in record["scores"].values())  # bounds, not -inf
        assert all(v is not None for v in record["calibration"].values())  # and never NaN


def test_a_model_that_always_answers_local_decides_local(tmp_path, server):
    # the old bug: offload was -inf in the decision and in the calibration, -inf - -inf = NaN,
    # and argmax picked the NaN: offload_share 1.0 for a model that always says local
    server.reply = chat_only(chat_reply("local", {"local": -0.01, **filler(19, start=-6.0)}))
    summary, records = run(tmp_path, server, "--steps", "10", "--seed", "1", "--exploration", "none")
    assert summary["llm_calls"] == 10 and summary["parse_failures"] == 0
    assert summary["offload_share"] == 0.0
    assert {r["decision"] for r in records} == {"local"} and all(r["censored"] == [" offload"] for r in records)


def test_a_server_that_refuses_completions_is_detected_as_chat_and_the_answer_kept(server):
    server.reply = chat_only(chat_reply("local", {"local": -0.2, "off": -1.9, **filler(18)}))
    backend = backend_for(server, api=None)
    backend.score(MESSAGES, CANDIDATES)
    backend.score(MESSAGES, CANDIDATES)
    paths = [path for path, _ in server.requests]
    assert paths == ["/v1/completions", "/v1/chat/completions", "/v1/chat/completions"]  # one probe, then chat
    probe = server.requests[0][1]
    assert probe["echo"] is True and probe["logprobs"] >= 1 and probe["max_tokens"] == 1
    assert backend.api == "chat" and "HTTP 404" in backend.api_note


def test_without_base_url_the_api_is_chat_without_probing(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert OpenAIBackend(model="gpt-4o").api == "chat"


def test_an_empty_openai_api_key_is_a_missing_key(monkeypatch):
    from agent.backends.base import BackendUnavailable

    monkeypatch.setenv("OPENAI_API_KEY", "")
    with pytest.raises(BackendUnavailable, match="not set or empty"):
        OpenAIBackend(model="gpt-4o")


# --- faults -------------------------------------------------------------------------
def test_a_hanging_server_fails_after_the_timeout_and_its_retries_in_one_line(server):
    server.reply = lambda path, body: (200, HANG)
    backend = backend_for(server, timeout_s=0.3, max_retries=1)
    started = time.perf_counter()
    with pytest.raises(BackendError) as caught:
        backend.score(MESSAGES, CANDIDATES)
    elapsed = time.perf_counter() - started
    message = str(caught.value)
    assert message == f"openai backend: timed out after 0.3 s (1 retries) at {server.base_url}"
    assert len(server.requests) == 2  # the first try and one retry
    # two 0.3 s timeouts and the SDK's back-off (0.5 s at most before the first retry); loose bounds
    assert 0.5 < elapsed < 5.0


def test_a_refused_connection_says_it_cannot_connect():
    url = f"http://127.0.0.1:{closed_port()}/v1"
    backend = OpenAIBackend(model="fake", base_url=url, api="chat", max_retries=0)
    with pytest.raises(BackendError, match=rf"^openai backend: cannot connect to {url} \(0 retries\)") as caught:
        backend.complete(MESSAGES)
    assert "\n" not in str(caught.value) and "timed out" not in str(caught.value)


def test_server_errors_are_retried_then_end_in_one_line(server):
    server.reply = lambda path, body: (503, "<html>\n<body>overloaded</body>\n</html>")
    with pytest.raises(BackendError, match=r"^openai backend: HTTP 503 from .* \(1 retries\)") as caught:
        backend_for(server, max_retries=1).score(MESSAGES, CANDIDATES)
    assert len(server.requests) == 2 and "\n" not in str(caught.value)


MALFORMED = {
    "not JSON": "{'choices': [oops",
    "no choices": json.dumps({"id": "x", "choices": []}),
    "null content": chat_reply(None),
    "empty content": chat_reply(""),
    "a JSON list": "[1, 2, 3]",
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_an_unreadable_reply_names_no_decision_and_carries_the_raw_body(server, case):
    body = MALFORMED[case]
    server.reply = chat_only(body)
    backend = backend_for(server)
    scores = backend.score(MESSAGES, CANDIDATES)
    assert all(v == -math.inf for v in scores.logprobs.values()) and scores.censored == frozenset()
    assert scores.raw_reply == body and scores.raw_reply_chars == len(body)
    completion = backend.complete(MESSAGES, max_tokens=6)
    assert completion.text == "" and completion.raw_reply == body and completion.raw_reply_chars == len(body)


def test_a_huge_reply_is_cut_to_4_kb_and_its_length_kept(server):
    body = chat_reply("local " * 200_000)  # 1.2 MB of content for a 6-token request
    server.reply = chat_only(body)
    completion = backend_for(server).complete(MESSAGES, max_tokens=6)
    assert completion.text == "" and completion.raw_reply == body[:RAW_REPLY_CAP] and completion.raw_reply_chars == len(body)


def test_a_malformed_reply_in_a_run_is_a_logged_parse_failure_not_a_traceback(tmp_path, server):
    server.reply = chat_only("{'choices': [oops")
    summary, records = run(tmp_path, server, "--steps", "3", "--seed", "0", "--exploration", "none", "--api", "chat", *ACCEPT_FALLBACKS)
    assert summary["parse_failures"] == summary["llm_calls"] == 3
    assert all(r["raw_reply"] == "{'choices': [oops" and r["raw_reply_chars"] == 17 and r["parsed_ok"] is False for r in records)


def test_a_server_error_in_a_run_ends_it_with_one_line(tmp_path, server):
    server.reply = lambda path, body: (500, json.dumps({"error": {"message": "boom"}}))
    result = CliRunner().invoke(
        app, ["run", "--json", "--out", str(tmp_path), "--backend", "openai", "--base-url", server.base_url, "--model", "fake",
              "--api", "chat", "--max-retries", "0", "--steps", "3", "--exploration", "none"],
    )
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "HTTP 500" in result.output and "boom" in result.output


# --- the completions API: echo log-probs, as vLLM returns them ---------------------------
def fake_logprob(token: str) -> float:
    """The fake model: each token's log-prob depends on the token alone, so any echo agrees with any other."""
    return -0.25 - (sum(map(ord, token)) % 13) / 4


def vllm_echo(path: str, body: dict[str, Any], generated: str = "\n", aligned: bool = True) -> tuple[int, str]:
    """A /v1/completions echo the way vLLM gives it: special tokens spelled out, true text offsets,
    no log-prob for the first token, the top log-probs at each position, one generated token."""
    import re

    if not path.endswith("/completions") or "chat" in path:
        return 404, "{}"
    prompt = body["prompt"]
    tokens = re.findall(r"<\|im_(?:start|end)\|>| ?\w+|\s|[^\w\s]", prompt) + [generated]  # GPT-2 style: a space joins a word, a newline not
    assert "".join(tokens) == prompt + generated
    offsets = [sum(map(len, tokens[:i])) for i in range(len(tokens))]
    values: list[float | None] = [None] + [fake_logprob(t) for t in tokens[1:]]
    tops = [None] + [{t: fake_logprob(t), " local": fake_logprob(" local"), " offload": fake_logprob(" offload")} for t in tokens[1:]]
    if not aligned:  # llama_cpp.server on a prompt without BOS: the generated token is cut off
        tokens, offsets, values, tops = tokens[:-1], offsets[:-1], values[:-1], tops[:-1]
    logprobs = {"tokens": tokens, "text_offset": offsets, "token_logprobs": values, "top_logprobs": tops}
    return 200, json.dumps({
        "id": "cmpl-fake", "object": "text_completion", "model": "fake",
        "choices": [{"index": 0, "text": prompt + generated, "logprobs": logprobs, "finish_reason": "length"}],
        "usage": {"prompt_tokens": len(tokens) - 1, "completion_tokens": 1, "total_tokens": len(tokens)},
    })


def test_echo_scores_sum_the_candidates_token_log_probs_found_by_offsets(server):
    server.reply = vllm_echo
    backend = backend_for(server, api="completions")
    prefilled = backend.score(MESSAGES, CANDIDATES)
    assert prefilled.method == "echo" and prefilled.censored == frozenset()
    assert prefilled.logprobs == {c: pytest.approx(fake_logprob(c)) for c in CANDIDATES}
    # " local" is read off the echo of " offload" where they branch: one request for both
    assert len(server.requests) == 1 and server.requests[0][1]["prompt"].endswith("Decision: offload")
    request = server.requests[0][1]
    assert request["echo"] is True and request["max_tokens"] == 1 and request["temperature"] == 0
    # without a prefill a whole answer ends the turn: its end-of-turn token is scored, one request each
    whole = backend.score(MESSAGES[:2], ["local", "offload"])
    assert whole.logprobs == {c: pytest.approx(fake_logprob(c) + fake_logprob("<|im_end|>")) for c in ["local", "offload"]}
    assert [r["prompt"].rsplit("\n", 1)[1] for _, r in server.requests[1:]] == ["offload<|im_end|>", "local<|im_end|>"]


def test_the_echoed_prompt_is_the_chat_template_rendering_the_llama_cpp_backend_scores(server):
    from agent.backends.chat_template import load_chat_template

    server.reply = vllm_echo
    backend_for(server, api="completions").score(MESSAGES, CANDIDATES)
    assert server.requests[0][1]["prompt"] == load_chat_template().render(MESSAGES) + " offload"


def test_an_echo_whose_log_probs_do_not_line_up_is_a_raw_reply_and_detection_falls_back_to_chat(server):
    server.reply = lambda path, body: vllm_echo(path, body, aligned=False)
    scores = backend_for(server, api="completions").score(MESSAGES, CANDIDATES)
    assert all(v == -math.inf for v in scores.logprobs.values()) and "not aligned" in scores.extra["unreadable"]
    assert scores.raw_reply is not None and scores.raw_reply_chars > 0
    top = chat_reply("local", {"local": -0.2, "off": -1.9, **filler(18)})
    server.reply = lambda path, body: (200, top) if "chat" in path else vllm_echo(path, body, aligned=False)
    detecting = backend_for(server, api=None)
    assert detecting.score(MESSAGES, CANDIDATES).method == "top_logprobs" and detecting.api == "chat"


def test_a_jinja_template_file_renders_and_gives_its_end_of_turn(tmp_path):
    from agent.backends.base import BackendUnavailable
    from agent.backends.chat_template import CHATML_TEMPLATE, load_chat_template

    path = tmp_path / "chatml.jinja"
    path.write_text(CHATML_TEMPLATE)
    template = load_chat_template(path)
    assert template.eos_token == "<|im_end|>"
    assert template.render(MESSAGES[1:]) == "<|im_start|>user\nKeywords: (chatting, short)<|im_end|>\n<|im_start|>assistant\nDecision:"
    silent = tmp_path / "silent.jinja"
    silent.write_text("{% for m in messages %}{{ m['content'] }}\n{% endfor %}")
    with pytest.raises(BackendUnavailable, match="no end-of-turn text"):
        load_chat_template(silent)
    with pytest.raises(BackendUnavailable, match="no chat template file"):
        load_chat_template(tmp_path / "missing.gguf")


def test_a_jinja_template_file_that_reaches_for_python_runs_nothing(tmp_path):
    # llama_cpp's Jinja2ChatFormatter renders chat templates in Jinja's ImmutableSandboxedEnvironment
    from agent.backends.base import BackendUnavailable
    from agent.backends.chat_template import CHATML_TEMPLATE, load_chat_template

    marker = tmp_path / "escaped"
    path = tmp_path / "escape.jinja"
    path.write_text("{{ cycler.__init__.__globals__.os.popen('touch " + str(marker) + "').read() }}" + CHATML_TEMPLATE)
    with pytest.raises(BackendUnavailable, match=r"escape\.jinja does not render a chat \(SecurityError") as error:
        load_chat_template(path)
    assert len(str(error.value).splitlines()) == 1 and not marker.exists()


def test_complete_on_the_completions_api_sends_the_rendered_prompt_with_its_prefill(server):
    from agent.backends.chat_template import load_chat_template

    reply = json.dumps({"choices": [{"index": 0, "text": " offload", "finish_reason": "stop"}], "usage": {"prompt_tokens": 30, "completion_tokens": 1}})
    server.reply = lambda path, body: (200, reply)
    completion = backend_for(server, api="completions").complete(MESSAGES, max_tokens=6)
    assert completion.text == " offload" and completion.prompt_tokens == 30
    (path, request), = server.requests
    assert path == "/v1/completions" and request["prompt"] == load_chat_template().render(MESSAGES)
    assert request["max_tokens"] == 6 and request["temperature"] == 0 and "echo" not in request
