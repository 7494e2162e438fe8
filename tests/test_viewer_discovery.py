"""The viewer's reading of run folders: which folders are runs, the run list's numbers, a run's page data."""

import csv
import json
import math
import os

import pytest
import yaml
from scipy import stats

from edge_icl.viewer.discovery import find_run_folders, run_list
from edge_icl.viewer.page_files import data_script
from edge_icl.viewer.run_data import read_run
from edge_icl.viewer.safe_paths import BUNDLE_MARKER
from edge_icl.viewer.tables import cell_value, read_table
from tests.viewer_runs import VARIANT_RULE, invoke, summary, transcript


@pytest.fixture(scope="module")
def runs(viewer_runs):
    return viewer_runs


def entries_of(listing, folder, root):
    rel = folder.relative_to(root).as_posix()
    return [e for e in listing["runs"] if e["folder"] == rel]


def test_every_run_and_bench_folder_is_found_nested_or_not(runs):
    found = set(find_run_folders(runs["root"]))
    assert {runs[k].resolve() for k in ("icl", "variant", "oracle", "random", "bench")} == found


def test_run_list_takes_a_runs_metrics_from_its_summary(runs):
    listing = run_list(runs["root"])
    (icl,) = entries_of(listing, runs["icl"], runs["root"])
    facts = summary(runs["icl"])
    assert icl["mean_reward"] == facts["mean_reward"] and icl["oracle_reward"] == facts["oracle_mean_reward"]
    assert icl["accuracy"] == facts["decision_accuracy"] and icl["llm_calls"] == facts["llm_calls"]
    assert (icl["policy"], icl["seed"], icl["steps"], icl["backend"]) == ("icl", 2, 10, "llama-cpp")
    assert icl["prompt"] == "default (prompts/offloading)" and icl["status"] == "complete"
    (variant,) = entries_of(listing, runs["variant"], runs["root"])
    assert variant["prompt"] == "variant"
    (oracle,) = entries_of(listing, runs["oracle"], runs["root"])
    assert oracle["accuracy"] == 1.0 and oracle["llm_calls"] == 0 and oracle["prompt"] is None and oracle["backend"] is None


def test_a_bench_lists_one_run_per_policy_and_seed_with_metrics_from_its_rows(runs):
    entries = entries_of(run_list(runs["root"]), runs["bench"], runs["root"])
    assert {(e["group"]["policy"], e["group"]["seed"]) for e in entries} == {(p, s) for p in ("oracle", "random") for s in (4, 5)}
    with open(runs["bench"] / "steps.csv") as handle:
        rows = [r for r in csv.DictReader(handle) if r["policy"] == "random" and r["seed"] == "5"]
    (random5,) = [e for e in entries if e["group"] == {"policy": "random", "seed": 5}]
    assert random5["steps"] == 10 and random5["seed"] == 5 and random5["kind"] == "bench"
    assert random5["mean_reward"] == pytest.approx(sum(float(r["reward"]) for r in rows) / 10)
    assert random5["accuracy"] == pytest.approx(sum(r["action"] == r["oracle_action"] for r in rows) / 10)


def per_seed_means(folder, arm, column="reward"):
    """{seed: mean of `column`} of the step rows of `arm` (a dict of group columns less the seed), read by hand."""
    with open(folder / "steps.csv") as handle:
        rows = [r for r in csv.DictReader(handle) if all(r[k] == str(v) for k, v in arm.items())]
    return {int(s): sum(float(r[column]) for r in rows if r["seed"] == s) / sum(r["seed"] == s for r in rows) for s in {r["seed"] for r in rows}}


def t_interval(diffs):
    """mean and 95% t interval of `diffs`, by hand."""
    mean = sum(diffs) / len(diffs)
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (len(diffs) - 1))
    half = stats.t.ppf(0.975, len(diffs) - 1) * sd / math.sqrt(len(diffs))
    return mean, [mean - half, mean + half]


def test_a_bench_carries_each_pair_of_policies_over_seeds_paired_by_seed(runs):
    pairs = read_run(runs["root"], runs["bench"])["seed_pairs"]
    assert [(arm["label"], arm["seeds"]) for arm in pairs["arms"]] == [("policy=oracle", [4, 5]), ("policy=random", [4, 5])]
    (reward,) = [p for p in pairs["pairs"] if p["column"] == "reward"]
    oracle, random = per_seed_means(runs["bench"], {"policy": "oracle"}), per_seed_means(runs["bench"], {"policy": "random"})
    diffs = [random[s] - oracle[s] for s in (4, 5)]
    mean, interval = t_interval(diffs)
    assert (reward["a"], reward["b"], reward["seeds"]) == ("policy=oracle", "policy=random", 2)
    assert reward["mean"] == pytest.approx(mean) and reward["ci95"] == pytest.approx(interval)
    assert reward["per_seed"] == pytest.approx({"4": diffs[0], "5": diffs[1]})
    assert "step" not in {p["column"] for p in pairs["pairs"]} and "seed" not in {p["column"] for p in pairs["pairs"]}


def test_a_single_run_has_no_interval_over_seeds(runs):
    assert read_run(runs["root"], runs["icl"])["seed_pairs"] == {"arms": [], "pairs": []}


def test_a_sweep_lists_each_cell_and_pairs_its_variants_by_seed(tmp_path):
    spec = {"problem": "offloading", "policies": ["lookup"], "seeds": [0, 1, 2], "steps": 10,
            "agent": {"epsilon": 0.3}, "variants": {"latest": {"pool": "latest", "pool_size": 4}, "relevant": {}}}
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    folder = tmp_path / "runs" / "sweep"
    invoke("sweep", str(tmp_path / "spec.yaml"), "--out", str(folder), "--executor", "serial", "--json")
    entries = run_list(tmp_path / "runs")["runs"]
    assert sorted((e["group"]["variant"], e["seed"], e["steps"]) for e in entries) == [(v, s, 10) for v in ("latest", "relevant") for s in (0, 1, 2)]
    pairs = read_run(tmp_path / "runs", folder)["seed_pairs"]
    (reward,) = [p for p in pairs["pairs"] if p["column"] == "reward"]
    latest = per_seed_means(folder, {"policy": "lookup", "variant": "latest"})
    relevant = per_seed_means(folder, {"policy": "lookup", "variant": "relevant"})
    first, second = ("latest", "relevant") if reward["a"].endswith("variant=latest, world=w0") else ("relevant", "latest")
    by_name = {"latest": latest, "relevant": relevant}
    diffs = [by_name[second][s] - by_name[first][s] for s in (0, 1, 2)]
    mean, interval = t_interval(diffs)
    assert reward["a"] == f"policy=lookup, variant={first}, world=w0" and reward["seeds"] == 3
    assert reward["mean"] == pytest.approx(mean) and reward["ci95"] == pytest.approx(interval)


def test_an_interrupted_run_is_listed_with_what_its_rows_say(runs, tmp_path):
    cut = tmp_path / "offloading__random__7__20260101-000000"
    cut.mkdir()
    lines = (runs["oracle"] / "steps.csv").read_text().splitlines()
    (cut / "steps.csv").write_text("\n".join(lines[:4]) + "\n" + lines[4][:9])  # three rows, then half a row
    (entry,) = run_list(tmp_path)["runs"]
    assert entry["status"] == "incomplete" and entry["steps"] == 4 and entry["seed"] == 7 and entry["policy"] == "random"
    assert entry["started"] == "2026-01-01 00:00:00"


def test_the_stable_prompt_is_kept_once_per_hash_and_found_for_every_line(runs):
    data = read_run(runs["root"], runs["icl"])
    lines = transcript(runs["icl"])
    first = {}
    for line in lines:
        if "prompt_stable" in line:
            first.setdefault(line["prompt_hash"], line["prompt_stable"])
    assert {h: p["text"] for h, p in data["prompts"].items()} == first
    assert all("prompt_stable" not in line for line in data["transcript"])
    calls = [line for line in data["transcript"] if line.get("llm_call")]
    assert calls and all(line["prompt_hash"] in data["prompts"] for line in calls)
    assert len(data["transcript"]) == 10


def test_a_runs_prompt_templates_are_read_from_the_folder_its_config_names(runs):
    default = read_run(runs["root"], runs["icl"])["templates"]
    variant = read_run(runs["root"], runs["variant"])["templates"]
    # edge-icl run keeps a copy of the templates it used in the run folder, and the viewer prefers it
    assert default["status"] == variant["status"] == "found" and default["source"] == variant["source"] == "run-folder copy"
    assert VARIANT_RULE in variant["files"]["system.j2"] and VARIANT_RULE not in default["files"]["system.j2"]
    assert set(default["files"]) == set(variant["files"]) == {p.name for p in runs["variant_folder"].glob("*.j2")}
    assert read_run(runs["root"], runs["oracle"])["templates"]["status"] == "none"


def test_a_prompt_folder_gone_from_disk_is_reported_not_guessed(runs, tmp_path):
    moved = tmp_path / "runs"
    (moved / "run").mkdir(parents=True)
    for name in ("config.yaml", "steps.csv"):
        text = (runs["variant"] / name).read_text()
        (moved / "run" / name).write_text(text.replace(str(runs["variant_folder"]), "/no/such/prompt/folder"))
    templates = read_run(moved, moved / "run")["templates"]
    assert templates["status"] == "missing" and templates["files"] == {} and "/no/such/prompt/folder" in templates["note"]


def test_a_run_folder_copy_of_the_templates_wins_over_the_disk(runs, tmp_path):
    root = tmp_path / "runs"
    copy = root / "run"
    copy.mkdir(parents=True)
    (copy / "config.yaml").write_text((runs["variant"] / "config.yaml").read_text())
    (copy / "prompt").mkdir()
    (copy / "prompt" / "system.j2").write_text("the system text this run really used\n")
    templates = read_run(root, copy)["templates"]
    assert templates["source"] == "run-folder copy" and templates["files"] == {"system.j2": "the system text this run really used\n"}


def test_csv_cells_become_the_values_they_spell_and_nan_becomes_null(tmp_path):
    assert [cell_value(t) for t in ("3", "-2", "0.5", "1e-3", "True", "local", "", "nan", "inf")] == [3, -2, 0.5, 0.001, True, "local", None, "nan", "inf"]
    (tmp_path / "t.csv").write_text("a,b\n1,x\n2\n")
    assert read_table(tmp_path / "t.csv") == {"columns": ["a", "b"], "rows": [[1, "x"], [2, None]]}


def test_page_data_holds_no_nan_and_no_markup(tmp_path):
    run = tmp_path / "offloading__x__1__20260101-000000"
    run.mkdir()
    (run / "summary.json").write_text('{"mean_reward": NaN, "model": "</script><script>alert(1)</script>"}')
    (run / "transcript.jsonl").write_text('{"step": 0, "latency_s": Infinity, "reply": "<img src=x onerror=alert(1)>"}\nnot json\n')
    data = read_run(tmp_path, run)
    assert data["summary"]["mean_reward"] is None and data["transcript"][0]["latency_s"] is None
    assert any("line 2: not JSON" in note for note in data["notes"])
    script = data_script("data/run/x.js", data).decode()
    assert "<" not in script and ">" not in script and "NaN" not in script and "Infinity" not in script
    payload = script[script.index(", ") + 2 : script.rindex(");")]
    assert json.loads(payload)["summary"]["model"] == "</script><script>alert(1)</script>"


def test_discovery_does_not_follow_symlinks_or_enter_bundles(runs, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "summary.json").write_text('{"secret": 1}')
    root = tmp_path / "runs"
    root.mkdir()
    os.symlink(outside, root / "linked-run")
    (root / "site").mkdir()
    (root / "site" / BUNDLE_MARKER).write_text("")
    (root / "site" / "summary.json").write_text("{}")
    real = root / "real"
    real.mkdir()
    os.symlink(outside / "summary.json", real / "summary.json")  # a marker file pointing outside does not count
    (real / "steps.csv").write_text("step,reward\n0,1.5\n")
    assert find_run_folders(root) == [real.resolve()]
    data = read_run(root, real)
    assert data["summary"] is None and [f["name"] for f in data["files"]] == ["steps.csv"]
    assert math.isclose(run_list(root)["runs"][0]["mean_reward"], 1.5)


def test_a_run_the_fallback_decided_is_listed_not_valid_and_a_healthy_one_valid(runs, tmp_path):
    from typer.testing import CliRunner

    from edge_icl.cli import app
    from tests.test_backend_openai_http import fake_server

    (icl,) = entries_of(run_list(runs["root"]), runs["icl"], runs["root"])
    assert icl["valid"] is True and icl["fallback_share"] == summary(runs["icl"])["fallback_share"]
    (oracle,) = entries_of(run_list(runs["root"]), runs["oracle"], runs["root"])
    assert oracle["valid"] is True and oracle["fallback_share"] is None  # no LLM: nothing to judge
    with fake_server() as server:  # a server that answers garbage: every decision is the fallback's
        server.reply = lambda path, body: (200, "{'choices': [oops")
        common = ["--backend", "openai", "--base-url", server.base_url, "--model", "fake", "--exploration", "none", "--steps", "3"]
        assert CliRunner().invoke(app, ["run", "--out", str(tmp_path / "runs"), "--json", *common]).exit_code == 3
        bench = ["bench", "offloading", "--out", str(tmp_path / "runs"), "--json", "--policies", "icl,oracle", "--seeds", "1", *common]
        assert CliRunner().invoke(app, bench).exit_code == 3
    listing = run_list(tmp_path / "runs")
    by_name = {(e["kind"], (e["group"] or {}).get("policy")): e for e in listing["runs"]}
    run, bench_icl, bench_oracle = by_name[("run", None)], by_name[("bench", "icl")], by_name[("bench", "oracle")]
    assert run["valid"] is False and run["fallback_share"] == 1.0 and run["max_fallback_share"] == 0.2
    assert bench_icl["valid"] is False and bench_icl["fallback_share"] == 1.0  # a bench group: from its transcript lines
    assert bench_oracle["valid"] is True and bench_oracle["fallback_share"] is None
