"use strict";
// The run list: every run and bench group under RUNS_DIR with its metrics; sortable,
// filterable by text; tick two runs to compare them. State: q, sort, desc, sel.
(function (E) {
  const { el } = E;
  const COLUMNS = [
    { key: "name", label: "run" },
    { key: "policy", label: "policy" },
    { key: "seed", label: "seed", num: true },
    { key: "steps", label: "steps", num: true },
    { key: "mean_reward", label: "mean reward", num: true, digits: 3 },
    { key: "oracle_reward", label: "oracle reward", num: true, digits: 3, title: "mean reward of the oracle on the same stream" },
    { key: "accuracy", label: "accuracy", num: true, digits: 3, title: "share of steps where the decision equals the oracle's" },
    { key: "llm_calls", label: "LLM calls", num: true },
    { key: "backend", label: "backend" },
    { key: "model", label: "model" },
    { key: "prompt", label: "prompt" },
    { key: "started", label: "started" },
  ];
  const groupText = (run) => Object.entries(run.group || {}).map(([k, v]) => `${k}=${v}`).join(", ");

  function matches(run, words) {
    const text = [run.name, groupText(run), run.problem, run.kind, run.policy, run.seed, run.backend, run.model, run.prompt, run.status, run.started,
      run.valid === false ? "not valid" : null]
      .map((v) => (v === null || v === undefined ? "" : String(v))).join(" ").toLowerCase();
    return words.every((w) => text.includes(w));
  }

  function compareValues(a, b) {
    const nullA = a === null || a === undefined, nullB = b === null || b === undefined;
    if (nullA || nullB) return nullA === nullB ? 0 : nullA ? 1 : -1;
    if (typeof a === "number" && typeof b === "number") return a - b;
    return String(a).localeCompare(String(b), undefined, { numeric: true });
  }

  E.pages.list = function (main, index) {
    const params = E.state.read().params;
    let sort = params.get("sort") || "started";
    let desc = params.has("desc") ? params.get("desc") === "1" : sort === "started";
    const selected = params.getAll("sel").filter((id) => index.runs.some((r) => r.id === id));
    const search = el("input", { type: "search", class: "filter", value: params.get("q") || "", placeholder: "filter runs: name, policy, seed, model, prompt…", "aria-label": "filter runs" });
    const count = el("span", { class: "count" });
    const compareButton = el("button", { type: "button", class: "primary", disabled: true }, "Compare selected");
    const hint = el("span", { class: "hint" });
    const body = el("tbody");
    const headRow = el("tr");

    function drawHead() {
      E.replace(headRow, el("th", { class: "pick", title: "tick two runs to compare them" }, "⇄"), COLUMNS.map((c) => {
        const arrow = c.key === sort ? (desc ? " ▼" : " ▲") : "";
        return el("th", { class: (c.num ? "num " : "") + "sortable" + (c.key === sort ? " sorted" : ""), title: c.title || `sort by ${c.label}`, scope: "col",
          "data-key": c.key, on: { click: () => { desc = c.key === sort ? !desc : c.num; sort = c.key; E.state.update({ sort, desc: desc ? 1 : 0 }); drawHead(); drawBody(); } } }, c.label + arrow);
      }));
    }

    function drawCompare() {
      compareButton.disabled = selected.length !== 2;
      if (selected.length === 2) {
        const [a, b] = selected.map((id) => index.runs.find((r) => r.id === id));
        hint.textContent = E.same(a.seed, b.seed) ? `same seed ${a.seed}: the same request stream` : `seeds differ (${E.fmt(a.seed)} vs ${E.fmt(b.seed)}): not the same stream`;
        hint.className = "hint " + (E.same(a.seed, b.seed) ? "" : "warn");
      } else {
        hint.textContent = selected.length ? "tick one more run" : "tick two runs on the same seed to compare them";
        hint.className = "hint";
      }
    }

    function drawBody() {
      const words = search.value.toLowerCase().split(/\s+/).filter(Boolean);
      const shown = index.runs.filter((r) => matches(r, words)).sort((a, b) => compareValues(a[sort], b[sort]) * (desc ? -1 : 1));
      count.textContent = `${shown.length} of ${index.runs.length} runs`;
      E.replace(body, shown.map((run) => {
        const box = el("input", { type: "checkbox", "aria-label": "select for comparison", checked: selected.includes(run.id) || null, on: {
          change: () => {
            if (box.checked) { selected.push(run.id); while (selected.length > 2) selected.shift(); }
            else selected.splice(selected.indexOf(run.id), 1);
            E.state.update({ sel: selected });
            drawBody();
            drawCompare();
          } } });
        const link = E.state.href("/run", { run: run.id });
        return el("tr", { class: selected.includes(run.id) ? "selected" : "", "data-id": run.id },
          el("td", { class: "pick" }, box),
          el("td", { class: "run-name" }, el("a", { href: link }, run.name.split("__").map((part, i) => [i ? [el("wbr"), "__"] : null, part])),
            run.kind === "bench" ? E.widgets.chip("bench", "bench") : null,
            run.status !== "complete" ? E.widgets.chip(run.status, "warn", "no summary.json: still running, or stopped") : null,
            run.valid === false ? E.widgets.chip("not valid", "warn", E.invalidReason(run)) : null,
            groupText(run) ? el("div", { class: "sub" }, groupText(run)) : null),
          COLUMNS.slice(1).map((c) => el("td", { class: (c.num ? "num " : "") + c.key, title: typeof run[c.key] === "number" ? String(run[c.key]) : null },
            c.key === "started" && run.started ? [run.started.split(" ")[0], el("div", { class: "sub" }, run.started.split(" ")[1] || "")]
              : c.digits && E.isNumber(run[c.key]) ? run[c.key].toFixed(c.digits) : E.fmt(run[c.key]))));
      }));
    }

    search.addEventListener("input", () => { E.state.update({ q: search.value }); drawBody(); });
    compareButton.addEventListener("click", () => { location.hash = E.state.href("/compare", { a: selected[0], b: selected[1] }); });
    drawHead();
    drawBody();
    drawCompare();
    E.replace(main,
      el("div", { class: "page-head" }, el("h1", null, "Runs"), el("p", { class: "muted" }, "Every run and bench folder under ", el("code", null, index.root), ". Click a run to open it; tick two on the same seed to compare them.")),
      E.widgets.notes(index.notes),
      index.runs.length ? null : el("div", { class: "empty" }, "No runs here yet. Make one with ", el("code", null, `edge-icl run --out ${index.root}`), "."),
      el("div", { class: "toolbar" }, search, count, el("span", { class: "spacer" }), hint, compareButton),
      el("div", { class: "table-wrap" }, el("table", { class: "runs" }, el("thead", null, headRow), body)));
  };
})(window.EdgeICL);
