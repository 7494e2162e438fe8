"""`edge-icl` in a process of its own, as a user starts it from a terminal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _interruptible() -> None:
    # A test run started in the background (`cmd &` in a script, nohup) ignores SIGINT, and
    # a child inherits that: Python then never raises KeyboardInterrupt. A terminal's child
    # gets the default, which is what the tests of Ctrl-C check.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def edge_icl(*args: str, **popen: Any) -> subprocess.Popen:
    """`edge-icl ARGS` (this checkout's code) in its own process; Ctrl-C (SIGINT) reaches it as in a terminal."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "edge_icl", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=_interruptible, **popen,
    )
