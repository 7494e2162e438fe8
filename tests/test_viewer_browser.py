"""The run viewer in a real browser (chromium driven by pytest-playwright), served over HTTP and
opened from disk as a bundle: what the list, a run page, a drill-down and a comparison show,
the state kept in the URL, and text from runs never run as markup.

The browser is Debian's chromium on PATH (apt-get install chromium), else Playwright's own
(playwright install chromium); with neither, these tests are skipped and say how to get one."""

import csv
import json
import math
import shutil
from pathlib import Path

import matplotlib
import pytest
import yaml
from scipy import stats

from edge_icl.viewer.bundle import write_bundle
from edge_icl.viewer.discovery import run_list
from edge_icl.viewer.server import in_thread, make_server
from tests.viewer_runs import VARIANT_RULE, summary, transcript

matplotlib.use("Agg")
from matplotlib import pyplot as plt  # noqa: E402

CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync"]
HOSTILE = {
    "reply": '<img src=x onerror="window.__pwned=1">',
    "variable": "</pre><script>window.__pwned=2</script>",
    "stable": '<iframe src="javascript:window.__pwned=3"></iframe>',
    "config": "<svg onload=window.__pwned=4>",
    "service": "<b onmouseover=window.__pwned=5>chatting</b>",
    "folder": "offloading__icl__2__20260101-000000<img src=z onerror=window.__pwned=6>",
}


NO_CHROMIUM = ("no chromium for the browser tests: on Debian `apt-get install chromium`, "
               "elsewhere `playwright install chromium` (Playwright's own build)")


def chromium_launch(playwright) -> dict:
    """How to launch chromium here: Debian's on PATH, else Playwright's own download; skip the tests when neither is there."""
    debian = shutil.which("chromium")
    if debian is not None:
        return {"executable_path": debian}
    own = Path(playwright.chromium.executable_path)  # where `playwright install chromium` puts it
    if own.is_file():
        return {"executable_path": str(own)}  # named: headless, Playwright would look for its headless shell instead
    pytest.skip(NO_CHROMIUM)


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args, playwright):
    return {**browser_type_launch_args, **chromium_launch(playwright), "args": CHROMIUM_ARGS}


def steps_of(folder):
    with open(folder / "steps.csv") as handle:
        return list(csv.DictReader(handle))


def js_fmt(value):
    """The page's number format (EdgeICL.fmt)."""
    if float(value).is_integer():
        return str(int(value))
    size = abs(value)
    return f"{value:.0f}" if size >= 1e5 else f"{value:.1f}" if size >= 100 else f"{value:.3f}" if size >= 1 else f"{value:.4f}"


def hostile_copy(source, root):
    """A copy of a generate-mode ICL run whose texts hold markup, as a run could if a model or a user wrote it."""
    folder = root / HOSTILE["folder"]
    shutil.copytree(source, folder)
    lines = transcript(folder)
    call = next(line for line in lines if line.get("llm_call"))
    call.update(reply=HOSTILE["reply"], prompt_variable=HOSTILE["variable"], prompt_stable=HOSTILE["stable"] + call.get("prompt_stable", ""))
    (folder / "transcript.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    config = yaml.safe_load((folder / "config.yaml").read_text())
    config["icl"]["model"] = HOSTILE["config"]
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    rows = steps_of(folder)
    rows[0]["service"] = HOSTILE["service"]
    with open(folder / "steps.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return folder, call["step"]


def with_cache_fields(source, root):
    """A copy of a score-mode ICL run whose calls carry the fields being added to transcripts: cache, saved latency, censored answers."""
    folder = root / "offloading__icl__2__20260102-000000"
    shutil.copytree(source, folder)
    lines = transcript(folder)
    calls = [line for line in lines if line.get("llm_call")]
    for i, line in enumerate(calls):
        line.update(cache="hit" if i % 2 else "miss", saved_latency_s=0.25 if i % 2 else 0.0, censored=[" offload"] if i % 2 else [])
    (folder / "transcript.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    return folder, [line["step"] for line in calls if line["cache"] == "hit"]


@pytest.fixture(scope="module")
def site(viewer_runs, tmp_path_factory):
    """The session's runs plus a figure and a hostile run; served over HTTP and written as a bundle."""
    root = tmp_path_factory.mktemp("browser") / "runs"
    shutil.copytree(viewer_runs["root"], root, symlinks=True)
    figure, axes = plt.subplots(figsize=(3, 2))
    axes.plot([0, 1, 2], [1, 3, 2])
    figure.savefig(root / "nested" / "deeper" / viewer_runs["oracle"].name / "reward.png", dpi=60)
    plt.close(figure)
    hostile, hostile_step = hostile_copy(viewer_runs["variant"], root)
    cached, hits = with_cache_fields(viewer_runs["icl"], root)
    server = make_server(root)
    in_thread(server)
    bundle = write_bundle(root, root.parent / "site")
    runs = {key: root / viewer_runs[key].relative_to(viewer_runs["root"]) for key in ("icl", "variant", "oracle", "random", "bench")}
    yield {"root": root, "http": server.url, "file": bundle.index.resolve().as_uri(), "hostile": hostile, "hostile_step": hostile_step,
           "cached": cached, "hits": hits, **runs}
    server.shutdown()
    server.server_close()


def watch(page):
    """Script errors and dialogs of `page`, collected."""
    errors = []
    page.set_default_timeout(10_000)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("dialog", lambda dialog: (errors.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    return errors


@pytest.fixture()
def viewer(page):
    """The page, failing the test on any script error or dialog."""
    errors = watch(page)
    yield page
    assert errors == []


@pytest.fixture()
def viewer_without_csp(browser):
    """A page that ignores the viewer's Content-Security-Policy, so that only the rendering stands between run text and script."""
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    errors = watch(page)
    yield page
    context.close()
    assert errors == []


def show(page, base, fragment=""):
    page.goto("about:blank")
    page.goto(base + fragment)
    page.wait_for_function("() => document.body.dataset.ready === '1'")


def run_id(site, key):
    return site[key].relative_to(site["root"]).as_posix()


def test_run_list_shows_every_run_with_its_metrics_sortable_and_filterable(viewer, site):
    show(viewer, site["http"])
    listing = run_list(site["root"])["runs"]
    rows = viewer.locator("table.runs tbody tr")
    assert rows.count() == len(listing) == 10
    icl = viewer.locator(f'table.runs tr[data-id="{run_id(site, "icl")}"]')
    facts = summary(site["icl"])
    assert icl.locator("td.mean_reward").text_content() == f"{facts['mean_reward']:.3f}"
    assert icl.locator("td.accuracy").text_content() == f"{facts['decision_accuracy']:.3f}"
    assert icl.locator("td.llm_calls").text_content() == str(facts["llm_calls"])
    assert icl.locator("td.prompt").text_content() == "default (prompts/offloading)"
    viewer.fill("input.filter", "oracle")
    expected = [r for r in listing if "oracle" in f"{r['name']} {r['policy']}"]
    assert rows.count() == len(expected) == 3 and "q=oracle" in viewer.url
    viewer.fill("input.filter", "")
    viewer.click('th[data-key="mean_reward"]')
    values = [float(t) for t in viewer.locator("table.runs td.mean_reward").all_text_contents()]
    assert values == sorted(values, reverse=True) and "sort=mean_reward" in viewer.url
    viewer.click('th[data-key="mean_reward"]')
    ascending = [float(t) for t in viewer.locator("table.runs td.mean_reward").all_text_contents()]
    assert ascending == sorted(values)
    viewer.reload()
    viewer.wait_for_function("() => document.body.dataset.ready === '1'")
    assert [float(t) for t in viewer.locator("table.runs td.mean_reward").all_text_contents()] == ascending
    icl.locator("input[type=checkbox]").check()
    viewer.locator(f'table.runs tr[data-id="{run_id(site, "variant")}"] input[type=checkbox]').check()
    assert "same seed 2" in viewer.locator(".hint").text_content()
    viewer.click("text=Compare selected")
    viewer.wait_for_function("() => document.body.dataset.page === '/compare' && document.body.dataset.ready === '1'")
    assert viewer.locator(".side-card.a a").text_content() == site["icl"].name


def test_run_page_draws_the_run_and_filters_its_steps_with_an_expression(viewer, site):
    show(viewer, site["http"], f"#/run?run={run_id(site, 'icl')}")
    rows = steps_of(site["icl"])
    assert viewer.locator("svg.chart").count() == 2
    assert viewer.locator(".marks .mark").count() == len(rows) == 10
    wrong = [r for r in rows if r["action"] != r["oracle_action"]]
    assert viewer.locator("svg.chart .mark path").count() == len(wrong)  # a cross per wrong decision
    table = viewer.locator("table.steps tbody tr")
    assert table.count() == 10
    service = rows[0]["service"]
    viewer.fill("input.filter", f'service == "{service}" or action != oracle_action')
    expected = [r for r in rows if r["service"] == service or r["action"] != r["oracle_action"]]
    viewer.wait_for_function(f"() => document.querySelector('.count').textContent === '{len(expected)} of 10 steps'")
    assert [int(t) for t in table.locator("td:first-child").all_text_contents()] == [int(r["step"]) for r in expected]
    assert "filter=service" in viewer.url
    viewer.reload()
    viewer.wait_for_function("() => document.body.dataset.ready === '1'")
    assert viewer.input_value("input.filter") == f'service == "{service}" or action != oracle_action' and table.count() == len(expected)
    explored = [line for line in transcript(site["icl"]) if line.get("explored")]
    viewer.fill("input.filter", "explored == true and not (reward > 1000)")
    viewer.wait_for_function(f"() => document.querySelector('.count').textContent === '{len(explored)} of 10 steps'")
    viewer.fill("input.filter", 'service = "chatting"')
    viewer.wait_for_selector(".filter-error:not([hidden])")
    assert "compare with '=='" in viewer.text_content(".filter-error") and table.count() == 10
    viewer.fill("input.filter", "servce == 1")
    viewer.wait_for_function("() => document.querySelector('.filter-error').textContent.includes(\"unknown column 'servce'\")")


def test_step_drill_down_shows_the_full_prompt_the_scores_and_the_call(viewer, site):
    lines = transcript(site["icl"])
    first_text = {}
    for line in lines:
        if "prompt_stable" in line:
            first_text.setdefault(line["prompt_hash"], line["prompt_stable"])
    calls = [line for line in lines if line.get("llm_call")]
    call = next((line for line in calls if "prompt_stable" not in line), calls[-1])  # one whose stable text is on an earlier line, if any
    show(viewer, site["http"], f"#/run?run={run_id(site, 'icl')}")
    viewer.click(f'table.steps tr[data-step="{call["step"]}"]')
    drawer = viewer.locator("#drawer")
    assert drawer.is_visible() and f"step={call['step']}" in viewer.url
    assert drawer.locator("pre.stable").text_content() == first_text[call["prompt_hash"]]
    assert drawer.locator("pre.variable").text_content() == call["prompt_variable"]
    chosen = drawer.locator("table.scores tr.chosen td").first.text_content()
    assert chosen.startswith(json.dumps(f" {call['decision']}"))
    assert drawer.locator("table.scores tbody tr").count() == len(call["scores"])
    assert f"{js_fmt(call['latency_s'])} s" in drawer.text_content() and f"{call['prompt_tokens']} prompt" in drawer.text_content()
    viewer.reload()
    viewer.wait_for_function("() => document.body.dataset.ready === '1'")
    assert drawer.is_visible() and drawer.locator("pre.variable").text_content() == call["prompt_variable"]
    explored = next(line for line in lines if line.get("explored"))
    show(viewer, site["http"], f"#/run?run={run_id(site, 'icl')}&step={explored['step']}")
    assert "explored: random decision, no LLM call" in drawer.text_content() and drawer.locator("pre.stable").count() == 0
    reply = next(line for line in transcript(site["variant"]) if line.get("llm_call"))
    show(viewer, site["http"], f"#/run?run={run_id(site, 'variant')}&step={reply['step']}")
    assert drawer.locator("pre.reply").text_content() == reply["reply"]
    viewer.keyboard.press("Escape")
    assert not drawer.is_visible() and "step=" not in viewer.url


def test_compare_aligns_two_prompt_variants_step_by_step(viewer, site):
    a, b = steps_of(site["icl"]), steps_of(site["variant"])
    differing = [ra["step"] for ra, rb in zip(a, b) if ra["action"] != rb["action"]]
    diffs = [float(rb["reward"]) - float(ra["reward"]) for ra, rb in zip(a, b)]
    mean = sum(diffs) / len(diffs)
    show(viewer, site["http"], f"#/compare?a={run_id(site, 'icl')}&b={run_id(site, 'variant')}")
    cards = viewer.locator(".card-value").all_text_contents()
    assert cards[0] == js_fmt(mean) and viewer.locator(".card-sub").first.text_content() == "over the 10 steps of seed 2"
    # two single runs: no interval over their steps (not independent), and the page says why
    over_seeds = viewer.locator(".card.over-seeds")
    assert over_seeds.locator(".card-value").text_content() == "no interval"
    assert "steps are not independent" in over_seeds.text_content() and "single runs" in over_seeds.text_content()
    assert "paired t" not in viewer.text_content("main")
    assert viewer.evaluate("typeof EdgeICL.stats.tQuantile975") == "undefined"  # the page carries no t table
    assert cards[3] == f"{len(differing)} of 10"
    assert viewer.locator("svg.chart circle.pickable").count() == 10
    rows = viewer.locator("table.steps tbody tr")
    assert rows.count() == 10
    viewer.check("text=different only")
    assert [t for t in rows.locator("td:first-child").all_text_contents()] == differing and "diff=1" in viewer.url
    viewer.reload()
    viewer.wait_for_function("() => document.body.dataset.ready === '1'")
    assert viewer.is_checked("text=different only") and rows.count() == len(differing)
    system = viewer.locator('.template-diff[data-template="system.j2"]')
    assert VARIANT_RULE in system.locator("tr.added td.side.b, tr.changed td.side.b").all_text_contents()[0]
    assert viewer.locator(".template-diff").count() == 1 and "query.j2" in viewer.text_content("section.templates")
    viewer.uncheck("text=different only")
    viewer.click('table.steps tr[data-step="3"]')
    assert viewer.locator("#drawer.wide .pair-side").count() == 2 and "step=3" in viewer.url


@pytest.mark.parametrize("mode", ["http", "file"])
def test_two_policies_of_a_bench_are_compared_over_seeds_paired_by_seed(viewer, site, mode):
    rows = steps_of(site["bench"])
    means = {(p, s): sum(float(r["reward"]) for r in rows if (r["policy"], r["seed"]) == (p, s)) / 10 for p in ("oracle", "random") for s in ("4", "5")}
    diffs = [means["random", s] - means["oracle", s] for s in ("4", "5")]
    mean = sum(diffs) / 2
    half = stats.t.ppf(0.975, 1) * math.sqrt(sum((d - mean) ** 2 for d in diffs)) / math.sqrt(2)
    entries = {(r["group"]["policy"], r["group"]["seed"]): r["id"] for r in run_list(site["root"])["runs"] if r["kind"] == "bench"}
    oracle, random = entries["oracle", 4].replace(" ", "%20"), entries["random", 4].replace(" ", "%20")
    show(viewer, site[mode], f"#/compare?a={oracle}&b={random}")
    over_seeds = viewer.locator(".card.over-seeds")
    assert over_seeds.locator(".card-value").text_content() == f"{js_fmt(mean)}  [{js_fmt(mean - half)}, {js_fmt(mean + half)}]"
    assert "95 % t interval over 2 seeds, paired by seed" in over_seeds.text_content()
    show(viewer, site[mode], f"#/compare?a={random}&b={oracle}")  # swapped: A - B
    assert over_seeds.locator(".card-value").text_content() == f"{js_fmt(-mean)}  [{js_fmt(-mean - half)}, {js_fmt(-mean + half)}]"
    show(viewer, site[mode], f"#/compare?a={oracle}&b={entries['oracle', 5].replace(' ', '%20')}")  # one policy, two seeds
    assert over_seeds.locator(".card-value").text_content() == "no interval" and "policy=oracle on two seeds" in over_seeds.text_content()


@pytest.mark.parametrize("mode", ["http", "file"])
def test_text_from_runs_is_shown_as_text_and_never_run(viewer_without_csp, site, mode):
    viewer = viewer_without_csp
    hostile = site["hostile"].name
    show(viewer, site[mode])
    assert viewer.locator(f'table.runs tr[data-id="{hostile}"] td.run-name a').text_content() == hostile
    show(viewer, site[mode], f"#/run?run={hostile}&step={site['hostile_step']}")
    drawer = viewer.locator("#drawer")
    assert drawer.locator("pre.reply").text_content() == HOSTILE["reply"]
    assert drawer.locator("pre.variable").text_content() == HOSTILE["variable"]
    assert drawer.locator("pre.stable").text_content().startswith(HOSTILE["stable"])
    assert HOSTILE["service"] in viewer.text_content("table.steps")
    viewer.keyboard.press("Escape")
    viewer.click("summary:has-text('Config (config.yaml)')")
    assert HOSTILE["config"] in viewer.text_content("details.panel[open]:has-text('Config')")
    show(viewer, site[mode], f"#/compare?a={hostile}&b={run_id(site, 'variant')}&step={site['hostile_step']}")
    assert HOSTILE["reply"] in viewer.text_content("#drawer")
    injected = viewer.evaluate("""() => ({
        handlers: [...document.querySelectorAll("*")].filter((e) => [...e.attributes].some((a) => a.name.startsWith("on"))).length,
        scripts: [...document.scripts].filter((s) => !s.src.includes("/static/")).length,
        frames: document.querySelectorAll("iframe").length,
        images: document.querySelectorAll("img").length,
    })""")
    assert injected == {"handlers": 0, "scripts": 0, "frames": 0, "images": 0}
    assert viewer.evaluate("window.__pwned") is None


def test_the_bundle_opens_from_disk_with_runs_figures_and_comparisons(viewer, site):
    show(viewer, site["file"])
    assert viewer.url.startswith("file://") and viewer.locator("table.runs tbody tr").count() == 10
    show(viewer, site["file"], f"#/run?run={run_id(site, 'oracle')}")
    image = viewer.locator(".figures img")
    image.wait_for()
    viewer.wait_for_function("() => document.querySelector('.figures img').complete")
    assert image.evaluate("img => img.naturalWidth") > 0 and viewer.text_content(".figures figcaption") == "reward.png"
    bench = next(r for r in run_list(site["root"])["runs"] if r["group"] == {"policy": "random", "seed": 5})
    show(viewer, site["file"], f"#/compare?a={run_id(site, 'icl')}&b={run_id(site, 'variant')}&diff=1")
    assert viewer.is_checked("text=different only")
    viewer.goto(site["file"] + "#/run?run=" + bench["id"].replace(" ", "%20"))
    viewer.wait_for_function("() => document.body.dataset.page === '/run' && document.body.dataset.ready === '1'")
    assert viewer.locator("table.steps tbody tr").count() == 10 and "policy=random, seed=5" in viewer.text_content("h1")


def test_filter_expressions_are_parsed_without_eval_and_bad_ones_say_why(viewer, site):
    show(viewer, site["http"])
    row = {"service": "reasoning", "action": 1, "oracle_action": 0, "reward": -2.5, "explored": False, "A.reward": 3, "cache": None}
    cases = {
        'service == "reasoning" and action != oracle_action': True,
        "reward < -2 and not explored": True,
        "(action == 0 or oracle_action == 0) and reward >= -2.5": True,
        "service == 'knowledge' or A.reward > 3": False,
        "cache == null and explored == false": True,
        "reward > 1e1 or action <= 0.5": False,
        "": True,
    }
    got = viewer.evaluate("([cases, row]) => cases.map((c) => EdgeICL.expr.compile(c, Object.keys(row))(row))", [list(cases), row])
    assert got == list(cases.values())
    errors = {
        'service = "x"': "compare with '=='",
        "action && reward": "write 'and'",
        "(reward > 1": "expected ')'",
        'service == "open': "is not closed",
        "reward >": "expected a value",
        "rewrd > 1": "unknown column 'rewrd'",
        "reward > 1 reward": "unexpected 'reward'",
        "alert(1)": "unexpected '('",
        "constructor == 1": "unknown column 'constructor'",
    }
    messages = viewer.evaluate("([cases, names]) => cases.map((c) => { try { EdgeICL.expr.compile(c, names); return 'no error'; } catch (e) { return e.message; } })",
                               [list(errors), list(row)])
    for (source, expected), message in zip(errors.items(), messages):
        assert expected in message, (source, message)


def test_cache_hits_and_censored_answers_are_shown_and_filterable(viewer, site):
    show(viewer, site["http"], f"#/run?run={site['cached'].name}")
    assert "cache" in viewer.locator("table.steps thead th.tx").all_text_contents()
    viewer.fill("input.filter", 'cache == "hit" and saved_latency_s > 0')
    viewer.wait_for_function(f"() => document.querySelector('.count').textContent === '{len(site['hits'])} of 10 steps'")
    viewer.click(f'table.steps tr[data-step="{site["hits"][0]}"]')
    drawer = viewer.locator("#drawer")
    assert "cache hit" in drawer.text_content() and "saved 0.2500 s" in drawer.text_content()
    censored = drawer.locator("table.scores tbody tr", has_text='" offload"')
    assert "(censored)" in censored.text_content() and "(censored)" not in drawer.locator("table.scores tbody tr", has_text='" local"').text_content()
