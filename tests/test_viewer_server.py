"""The viewer's HTTP server is read-only and hands out only files under RUNS_DIR."""

import http.client
import os

import pytest

from edge_icl.viewer.safe_paths import file_under_root
from edge_icl.viewer.server import in_thread, make_server


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("served")
    root = tmp_path / "runs"
    run = root / "offloading__oracle__1__20260101-000000"
    run.mkdir(parents=True)
    (run / "steps.csv").write_text("step,reward\n0,1.0\n")
    (run / "fig.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (run / "page.html").write_text("<script>alert(1)</script>")
    (tmp_path / "secret.txt").write_text("outside RUNS_DIR")
    os.symlink(tmp_path / "secret.txt", run / "link.txt")
    os.symlink(tmp_path, run / "up")
    server = make_server(root)
    in_thread(server)
    yield server, run
    server.shutdown()
    server.server_close()


def get(server, path, method="GET", host=None):
    connection = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
    connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
    connection.putheader("Host", host or f"127.0.0.1:{server.server_address[1]}")
    connection.endheaders()
    response = connection.getresponse()
    body = response.read()
    connection.close()
    return response.status, response.headers, body


def test_the_page_and_a_runs_files_are_served(served):
    server, run = served
    status, headers, body = get(server, "/")
    assert status == 200 and b"edge-icl" in body and "script-src 'self'" in headers["Content-Security-Policy"]
    status, headers, body = get(server, f"/files/{run.name}/steps.csv")
    assert (status, body) == (200, b"step,reward\n0,1.0\n") and headers["Content-Type"].startswith("text/plain")
    assert headers["X-Content-Type-Options"] == "nosniff" and "sandbox" in headers["Content-Security-Policy"]
    status, headers, _ = get(server, f"/files/{run.name}/fig.png")
    assert status == 200 and headers["Content-Type"] == "image/png"
    status, _, body = get(server, "/data/index.js")
    assert status == 200 and body.startswith(b'EdgeICL.data.receive("data/index.js", ') and run.name.encode() in body


@pytest.mark.parametrize("path", [
    "/files/../secret.txt",
    "/files/%2e%2e/secret.txt",
    "/files/..%2fsecret.txt",
    "/files/..%2Fsecret.txt",
    "/files/{run}/..%2f..%2fsecret.txt",
    "/files/{run}/%2e%2e%2f%2e%2e%2fsecret.txt",
    "/files/%252e%252e/secret.txt",
    "/files//etc/passwd",
    "/files/%2fetc%2fpasswd",
    "/files/{run}/..\\..\\secret.txt",
    "/files/{run}/link.txt",
    "/files/{run}/up/secret.txt",
    "/files/{run}/page.html",
    "/files/{run}/%00steps.csv",
    "/files/{run}/%ff",
    "/static/../edge_icl/viewer/server.py",
    "/static/%2e%2e%2fserver.py",
    "/data/run/..%2f..%2fsecret.txt",
])
def test_paths_outside_runs_dir_or_of_unsafe_types_are_refused(served, path):
    server, run = served
    status, _, body = get(server, path.replace("{run}", run.name))
    assert status in (400, 404) and b"outside RUNS_DIR" not in body and b"<script>" not in body and b"root:" not in body


def test_the_server_is_read_only(served):
    server, run = served
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        status, headers, _ = get(server, f"/files/{run.name}/steps.csv", method=method)
        assert status == 405 and headers["Allow"] == "GET, HEAD"
    assert (run / "steps.csv").read_text() == "step,reward\n0,1.0\n"


def test_a_foreign_host_header_is_refused(served):
    server, _ = served
    status, _, _ = get(server, "/data/index.js", host=f"evil.example:{server.server_address[1]}")
    assert status == 403
    status, _, _ = get(server, "/data/index.js", host=f"localhost:{server.server_address[1]}")
    assert status == 200


def test_file_under_root_resolves_inside_only(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "x.csv").write_text("1")
    assert file_under_root(tmp_path, "a/x.csv") == (tmp_path / "a" / "x.csv").resolve()
    for bad in ("a/../a/x.csv", "/a/x.csv", "a//x.csv", "a/./x.csv", "", "a\\x.csv", "a/x.exe"):
        assert file_under_root(tmp_path, bad) is None
