"""Which files under RUNS_DIR the viewer may read and hand out, and as what.

The server and the bundle writer both go through `file_under_root`: a path is resolved
(symlinks followed, `..` collapsed) and refused unless it lands inside the resolved
RUNS_DIR; only file types that a browser shows inertly are handed out (images, and text
served as text/plain), never HTML or SVG, which could run script in the viewer's origin.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

IMAGE_TYPES = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif", ".webp": "image/webp"}
TEXT_SUFFIXES = {".csv", ".json", ".jsonl", ".yaml", ".yml", ".txt", ".md", ".log"}
# A folder holding this file is a bundle written by the viewer: not a run folder.
BUNDLE_MARKER = ".edge-icl-bundle"


def served_type(path: Path) -> str | None:
    """The Content-Type the viewer hands `path` out as, or None when it never hands such a file out."""
    suffix = path.suffix.lower()
    if suffix in IMAGE_TYPES:
        return IMAGE_TYPES[suffix]
    if suffix in TEXT_SUFFIXES:
        return "text/plain; charset=utf-8"
    return None


def is_inside(path: Path, root: Path) -> bool:
    """Whether `path`, symlinks resolved, is `root` or lies under it (`root` already resolved)."""
    try:
        path.resolve(strict=True).relative_to(root)
    except (OSError, ValueError, RuntimeError):
        return False
    return True


def file_under_root(root: Path, relative: str) -> Path | None:
    """The regular file `relative` (a '/'-separated path, already URL-decoded) names under `root`, or None.

    None for: an absolute path, a backslash or NUL, any `..` or empty component, a target
    outside `root` once symlinks are resolved, a missing or non-regular file, or a type
    the viewer does not hand out.
    """
    if not relative or "\\" in relative or "\x00" in relative:
        return None
    parts = PurePosixPath(relative).parts
    if relative.startswith("/") or any(part in ("..", ".", "") for part in relative.split("/")) or not parts:
        return None
    root = root.resolve()
    candidate = root.joinpath(*parts)
    if not is_inside(candidate, root) or not candidate.is_file() or served_type(candidate) is None:
        return None
    return candidate.resolve()
