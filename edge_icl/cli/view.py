"""`edge-icl view`: browse run folders in a local web page, or write the page as a static folder."""

from __future__ import annotations

import webbrowser
from pathlib import Path

import typer

from edge_icl.cli.app import app, err_console, fail


@app.command()
def view(
    runs_dir: Path = typer.Argument(Path("runs"), help="Folder holding run and bench folders (searched recursively)."),
    bundle: Path | None = typer.Option(None, "--bundle", help="Write the page as a static folder OUT that opens from disk, instead of serving it."),
    host: str = typer.Option("127.0.0.1", help="Address to serve on (the default is reachable from this machine only)."),
    port: int = typer.Option(0, min=0, max=65535, help="Port to serve on; 0 picks a free one."),
    no_browser: bool = typer.Option(False, "--no-browser", help="Do not open a browser; only print the URL."),
) -> None:
    """See runs in a browser: the run list, each run's steps, prompts and replies, two runs compared.

    Serves a read-only page on 127.0.0.1 (only files under RUNS_DIR) until Ctrl+C, or
    with --bundle writes the same page as a folder to open from disk or share.
    """
    from edge_icl.viewer import BundleError, NoRunsError, make_server, write_bundle  # the viewer loads only for this command

    if not runs_dir.is_dir():
        fail(f"RUNS_DIR: {runs_dir} is not a folder")
    if bundle is not None:
        try:
            report = write_bundle(runs_dir, bundle)
        except (BundleError, NoRunsError) as error:
            fail(str(error))
        typer.echo(f"wrote {report.index} ({report.runs} runs in {report.folders} folders, {report.files} files copied)")
        typer.echo(f"open: {report.index.resolve().as_uri()}")
        return
    try:
        server = make_server(runs_dir, host, port)
    except NoRunsError as error:
        fail(str(error))
    except OSError as error:
        fail(f"cannot serve on {host}:{port}: {error.strerror or error}")
    if host not in ("127.0.0.1", "localhost", "::1"):
        err_console.print(f"[yellow]warning:[/] serving on {host}: anyone who can reach this address can read the runs", highlight=False)
    typer.echo(f"serving {runs_dir.resolve()} at {server.url}  (Ctrl+C stops)")
    if not no_browser:
        webbrowser.open(server.url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
