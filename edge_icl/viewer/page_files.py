"""The files the page is made of, the same for the server and the static bundle.

The page is `index.html` plus the assets in `static/`; the runs reach it as small
scripts (`data/index.js`, `data/run/<hash>.js`) that hand their JSON to
`EdgeICL.data.receive`: a page opened from disk (file://) may load scripts but may not
fetch files, so one way of loading serves both.
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

INDEX_DATA = "data/index.js"


def static_assets() -> dict[str, bytes]:
    """{name: content} of every file in the package's static/ folder (index.html included)."""
    folder = files("edge_icl.viewer").joinpath("static")
    return {entry.name: entry.read_bytes() for entry in folder.iterdir() if entry.is_file() and not entry.name.startswith(".")}


def data_script(key: str, value: Any) -> bytes:
    """A script handing `value` (JSON-safe) to the page as the data of `key` (the script's own relative URL).

    `<`, `>` and `&` are escaped inside the JSON so no text from a run can close a script
    element or read as markup, wherever the script ends up.
    """
    text = json.dumps(value, allow_nan=False, ensure_ascii=True, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return f"EdgeICL.data.receive({json.dumps(key)}, {text});\n".encode()
