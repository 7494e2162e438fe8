"""The prompt templates a run used, so the page can show them and diff two runs' prompts.

A run names its prompt folder in config.yaml under `icl.prompt` (a bench under
bench.json's `icl_options.prompt`); None means the packaged `prompts/<problem>` (for
offloading, `prompts/offloading`). A copy kept in the run folder (`prompt/` or
`prompts/`, holding the .j2 files) is preferred: it is what the run read. Otherwise the
folder is read from disk when the page is served or bundled, and the page says so, since
the files may have changed since the run; a relative path is tried against the current
folder, the runs folder's parent, the runs folder and the run folder.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path
from typing import Any

RUN_FOLDER_COPIES = ("prompt", "prompts")
TEMPLATE_SUFFIX = ".j2"
MAX_TEMPLATE_BYTES = 200_000


def prompt_setting(config: dict[str, Any] | None, bench: dict[str, Any] | None) -> tuple[bool, str | None]:
    """(whether the run had an ICL prompt at all, the prompt folder it names or None for the packaged one)."""
    for section in ((config or {}).get("icl"), (bench or {}).get("icl_options")):
        if isinstance(section, dict):
            prompt = section.get("prompt")
            return True, str(prompt) if prompt else None
    return False, None


def prompt_label(has_prompt: bool, prompt: str | None, problem: str) -> str | None:
    """The short name the run list shows: the folder's name, `default (prompts/<problem>)`, or None."""
    if not has_prompt:
        return None
    return Path(prompt).name or prompt if prompt else f"default (prompts/{packaged_problem(problem)})"


def packaged_problem(problem: str) -> str:
    """The packaged prompt folder for `problem` (offloading when the package has none by that name)."""
    try:
        if problem and files("prompts").joinpath(problem).is_dir():
            return problem
    except (ModuleNotFoundError, ValueError):
        pass
    return "offloading"


def _read_templates(folder: Path) -> dict[str, str]:
    templates: dict[str, str] = {}
    for path in sorted(folder.iterdir()):
        if path.suffix == TEMPLATE_SUFFIX and path.is_file():
            data = path.read_bytes()[:MAX_TEMPLATE_BYTES]
            templates[path.name] = data.decode("utf-8", errors="replace")
    return templates


def _candidates(prompt: str, run_folder: Path, runs_root: Path) -> list[Path]:
    path = Path(prompt).expanduser()
    if path.is_absolute():
        return [path]
    return [Path.cwd() / path, runs_root.parent / path, runs_root / path, run_folder / path]


def locate_templates(run_folder: Path, runs_root: Path, config: dict[str, Any] | None, bench: dict[str, Any] | None, problem: str) -> dict[str, Any]:
    """The run's prompt templates: {"status", "folder", "source", "files", "note"}.

    status: "none" (the run used no prompt), "found", or "missing" (named but not found).
    """
    has_prompt, prompt = prompt_setting(config, bench)
    if not has_prompt:
        return {"status": "none", "folder": None, "source": None, "files": {}, "note": "this run used no LLM prompt"}
    for name in RUN_FOLDER_COPIES:
        copy = run_folder / name
        if copy.is_dir() and not copy.is_symlink():
            found = _read_templates(copy)
            if found:
                return {"status": "found", "folder": prompt or f"prompts/{packaged_problem(problem)}", "source": "run-folder copy",
                        "files": found, "note": f"the copy kept in the run folder ({name}/)"}
    if prompt is None:
        folder = Path(str(files("prompts").joinpath(packaged_problem(problem))))
        label = f"prompts/{packaged_problem(problem)}"
        tried = [folder]
    else:
        label = prompt
        tried = _candidates(prompt, run_folder, runs_root)
    for folder in tried:
        if folder.is_dir():
            found = _read_templates(folder)
            if found:
                return {"status": "found", "folder": label, "source": "disk", "files": found,
                        "note": f"read from {folder.resolve()} when this page was made; the run folder keeps no copy, so the files may have changed since the run"}
    return {"status": "missing", "folder": label, "source": None, "files": {},
            "note": f"prompt folder {label} not found (tried {', '.join(str(p) for p in tried)}); its templates cannot be shown"}
