"""A read-only HTTP server for the run viewer: the page, its data, and files under RUNS_DIR.

GET and HEAD only (anything else: 405). Routes: `/` (the page), `/static/<asset>`,
`/data/index.js` (the run list), `/data/run/<hash>.js` (one run, read afresh on each
request, so a reload shows a run still in progress) and `/files/<run folder>/<file>`,
which hands out images and text files that resolve inside RUNS_DIR and nothing else
(see safe_paths). The Host header must name the address served, so a web page that
rebinds its own name to 127.0.0.1 cannot read the runs.
"""

from __future__ import annotations

import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from edge_icl.viewer.discovery import require_runs, run_list
from edge_icl.viewer.page_files import INDEX_DATA, data_script, static_assets
from edge_icl.viewer.run_data import read_run, run_folder_by_data_name
from edge_icl.viewer.safe_paths import file_under_root, served_type

PAGE_POLICY = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
               "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
FILE_POLICY = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
ASSET_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
               ".svg": "image/svg+xml", ".png": "image/png"}
LOCAL_NAMES = ("127.0.0.1", "localhost", "[::1]")


class ViewerHandler(BaseHTTPRequestHandler):
    """Answers one request; `root` (RUNS_DIR, resolved), `assets` and `hosts` are set on the subclass `serve` makes."""

    root: Path
    assets: dict[str, bytes]
    hosts: frozenset[str] | None  # accepted Host headers; None accepts any (a non-local bind the user asked for)
    server_version = "edge-icl-view"
    sys_version = ""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002  (quiet: the URL was printed once)
        pass

    def _send(self, status: int, body: bytes, content_type: str, policy: str = PAGE_POLICY, cache: str = "no-store") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Security-Policy", policy)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        self.send_header("Cache-Control", cache)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _refuse(self, status: HTTPStatus, why: str) -> None:
        self._send(status, f"{status.value} {status.phrase}: {why}\n".encode(), "text/plain; charset=utf-8")

    def do_GET(self) -> None:  # noqa: N802  (http.server's naming)
        if self.hosts is not None and self.headers.get("Host", "").lower() not in self.hosts:
            self._refuse(HTTPStatus.FORBIDDEN, "unexpected Host header")
            return
        path = urlsplit(self.path).path
        if path in ("/", "/index.html"):
            self._send(HTTPStatus.OK, self.assets["index.html"], ASSET_TYPES[".html"])
        elif path.startswith("/static/"):
            name = path.removeprefix("/static/")
            if name in self.assets and name != "index.html":
                self._send(HTTPStatus.OK, self.assets[name], ASSET_TYPES.get(Path(name).suffix, "application/octet-stream"), cache="no-cache")
            else:
                self._refuse(HTTPStatus.NOT_FOUND, "no such asset")
        elif path == "/" + INDEX_DATA:
            self._send(HTTPStatus.OK, data_script(INDEX_DATA, run_list(self.root)), ASSET_TYPES[".js"])
        elif path.startswith("/data/run/"):
            folder = run_folder_by_data_name(self.root, path.removeprefix("/data/run/"))
            if folder is None:
                self._refuse(HTTPStatus.NOT_FOUND, "no such run")
            else:
                self._send(HTTPStatus.OK, data_script(path.lstrip("/"), read_run(self.root, folder)), ASSET_TYPES[".js"])
        elif path.startswith("/files/"):
            try:
                relative = unquote(path.removeprefix("/files/"), errors="strict")
            except UnicodeDecodeError:
                self._refuse(HTTPStatus.BAD_REQUEST, "path is not UTF-8")
                return
            self._send_file(relative)
        else:
            self._refuse(HTTPStatus.NOT_FOUND, "no such page")

    def _send_file(self, relative: str) -> None:
        file = file_under_root(self.root, relative)
        if file is None:
            self._refuse(HTTPStatus.NOT_FOUND, "not a file the viewer serves")
            return
        self._send(HTTPStatus.OK, file.read_bytes(), served_type(file) or "application/octet-stream", policy=FILE_POLICY)

    def do_HEAD(self) -> None:  # noqa: N802
        self.do_GET()

    def _read_only(self) -> None:
        self.send_response(HTTPStatus.METHOD_NOT_ALLOWED)
        self.send_header("Allow", "GET, HEAD")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _read_only  # noqa: N815


class ViewerServer(ThreadingHTTPServer):
    daemon_threads = True

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        shown = f"[{host}]" if ":" in str(host) else host
        return f"http://{shown}:{port}/"


def make_server(root: Path, host: str = "127.0.0.1", port: int = 0) -> ViewerServer:
    """A server for RUNS_DIR `root` bound to host:port (port 0: a free port); call serve_forever() or use in_thread().

    NoRunsError when `root` holds no run yet (runs written later are listed as they appear).
    """
    require_runs(root)
    handler = type("BoundViewerHandler", (ViewerHandler,), {"root": root.resolve(), "assets": static_assets(), "hosts": None})
    server = ViewerServer((host, port), handler)
    bound_port = server.server_address[1]
    if host in ("127.0.0.1", "localhost", "::1"):
        handler.hosts = frozenset(f"{name}:{bound_port}" for name in LOCAL_NAMES)
    return server


def in_thread(server: ViewerServer) -> threading.Thread:
    """Serve in a daemon thread (tests); stop with server.shutdown()."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return thread
