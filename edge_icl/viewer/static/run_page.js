"use strict";
// One run: its facts, reward per step against the oracle, decisions over time, its
// figures, the step table with a filter expression, and the drill-down of any step.
// State: run, filter, y (charted column), ma (moving-average window), step.
(function (E) {
  const { el } = E;
  const W = () => E.widgets;

  function groupText(group) {
    return Object.entries(group || {}).map(([k, v]) => `${k}=${v}`).join(", ");
  }

  function header(index, run, entry) {
    const chips = [
      entry.problem ? W().chip(entry.problem) : null,
      entry.policy !== null ? W().chip(`policy ${entry.policy}`) : null,
      entry.seed !== null ? W().chip(`seed ${entry.seed}`) : null,
      entry.backend ? W().chip(`${entry.backend}${entry.model ? " · " + entry.model : ""}`, "llm") : null,
      entry.prompt ? W().chip(`prompt ${entry.prompt}`, "llm") : null,
      entry.status !== "complete" ? W().chip(`${entry.status}: no summary.json`, "warn") : null,
      entry.valid === false ? W().chip("not valid: " + E.invalidReason(entry), "warn") : null,
    ];
    const controls = [];
    if (run.entries.length > 1) {
      const select = el("select", { "aria-label": "bench group", on: { change: () => { location.hash = E.state.href("/run", { run: select.value }); } } },
        run.entries.map((e) => el("option", { value: e.id, selected: e.id === entry.id || null }, `${groupText(e.group)} · mean reward ${E.fmt(e.mean_reward)}`)));
      controls.push(el("label", null, "run in this bench ", select));
    }
    const peers = index.runs.filter((r) => r.id !== entry.id && E.same(r.seed, entry.seed) && r.steps);
    if (peers.length && entry.steps) {
      const select = el("select", { "aria-label": "compare with", on: { change: () => { if (select.value) location.hash = E.state.href("/compare", { a: entry.id, b: select.value }); } } },
        el("option", { value: "" }, "choose a run on the same seed…"),
        peers.map((p) => el("option", { value: p.id }, `${p.name}${p.group && Object.keys(p.group).length ? " [" + groupText(p.group) + "]" : ""} · ${E.fmt(p.policy)}${p.prompt ? " · " + p.prompt : ""}`)));
      controls.push(el("label", null, "compare with ", select));
    }
    return el("div", { class: "page-head" },
      el("h1", { class: "run-title" }, run.name, Object.keys(entry.group || {}).length ? el("span", { class: "group" }, ` [${groupText(entry.group)}]`) : null),
      el("div", { class: "chips" }, chips), controls.length ? el("div", { class: "controls" }, controls) : null);
  }

  function cards(run, entry, view) {
    const summary = run.summary || {};
    const explored = view.rows.filter((r) => r.explored === true).length;
    const gap = E.isNumber(entry.mean_reward) && E.isNumber(entry.oracle_reward) ? entry.mean_reward - entry.oracle_reward : null;
    return el("div", { class: "cards" },
      entry.mean_reward !== null ? W().card("mean reward", E.fmt(entry.mean_reward), entry.oracle_reward !== null ? `oracle ${E.fmt(entry.oracle_reward)} · gap ${E.fmt(gap)}` : null) : null,
      entry.accuracy !== null ? W().card("accuracy vs oracle", entry.accuracy.toFixed(3), "share of steps with the oracle's decision") : null,
      view.stepColumn ? W().card("steps", E.fmt(entry.steps ?? view.rows.length), view.lines.length ? `${explored} explored` : null) : null,
      entry.llm_calls ? W().card("LLM calls", E.fmt(entry.llm_calls), summary.parse_failures !== undefined && !Object.keys(entry.group || {}).length ? `${summary.parse_failures} parse failures` : null) : null,
      summary.llm_median_latency_ms !== undefined && !Object.keys(entry.group || {}).length ? W().card("median LLM latency", `${E.fmt(summary.llm_median_latency_ms)} ms`) : null);
  }

  function charts(view, holder) {
    const params = E.state.read().params;
    const numeric = view.numeric.filter((c) => !c.startsWith("oracle_"));
    if (!view.stepColumn || !numeric.length || !view.rows.length) return null;
    let column = numeric.includes(params.get("y")) ? params.get("y") : numeric.includes("reward") ? "reward" : numeric[0];
    let window = Math.max(1, parseInt(params.get("ma"), 10) || Math.max(5, Math.round(view.rows.length / 10)));
    const pick = (step) => openStep(view, step);
    const lineBox = el("div", { class: "chart-box" });
    const decisionBox = el("div", { class: "chart-box" });
    const columnSelect = el("select", { "aria-label": "charted column", on: { change: () => { column = columnSelect.value; E.state.update({ y: column }); draw(); } } },
      numeric.map((c) => el("option", { value: c, selected: c === column || null }, c)));
    const windowInput = el("input", { type: "number", min: 1, max: 1000, value: window, class: "narrow", "aria-label": "moving-average window", on: { change: () => { window = Math.max(1, parseInt(windowInput.value, 10) || 1); E.state.update({ ma: window }); draw(); } } });
    function draw() {
      const steps = view.rows.map((r) => r.__step);
      const values = view.rows.map((r) => r[column]);
      const average = E.stats.movingAverage(values, window);
      const series = [
        { label: column, color: E.charts.PALETTE.a, width: 1, faint: true, points: steps.map((s, i) => [s, values[i]]) },
        { label: `${column}, moving average (${window})`, color: E.charts.PALETTE.a, width: 2.5, points: steps.map((s, i) => [s, average[i]]) },
      ];
      const oracle = `oracle_${column}`;
      if (view.numeric.includes(oracle)) {
        const ov = view.rows.map((r) => r[oracle]);
        const ma = E.stats.movingAverage(ov, window);
        series.splice(1, 0, { label: oracle, color: E.charts.PALETTE.oracle, width: 1, faint: true, points: steps.map((s, i) => [s, ov[i]]) });
        series.push({ label: `${oracle}, moving average`, color: E.charts.PALETTE.oracle, width: 2, dash: "6 4", points: steps.map((s, i) => [s, ma[i]]) });
      }
      E.charts.line(lineBox, { series, xLabel: view.stepColumn || "row", yLabel: column, onPick: pick, title: `${column} per step` });
    }
    holder.append(W().section(`Per step`, el("div", { class: "toolbar" }, el("label", null, "column ", columnSelect), el("label", null, "moving average over ", windowInput, " steps")), lineBox));
    draw();
    if (view.decision.category) {
      const categories = [...new Set(view.rows.map((r) => r[view.decision.category]).filter((v) => v !== null).map(String))].sort();
      holder.append(W().section("Decisions over time", decisionBox));
      E.charts.decisions(decisionBox, {
        categories, xLabel: view.stepColumn || "row", onPick: pick, title: "decisions over time",
        points: view.rows.map((r) => ({
          x: r.__step, category: String(r[view.decision.category]), right: view.decision.right(r), explored: r.explored === true,
          oracleCategory: String(view.decision.oracleCategory(r)),
          label: `step ${r.__step}: ${E.fmt(r[view.decision.category])}${view.decision.right(r) === false ? ` (oracle: ${E.fmt(view.decision.oracleCategory(r))})` : ""}${r.explored === true ? " · explored" : ""}`,
        })),
      });
    }
    return true;
  }

  let table = null;
  function openStep(view, step, keepUrl) {
    const row = view.rowByStep.get(String(step));
    if (!row) return;
    if (!keepUrl) E.state.update({ step });
    const shown = table && table.shown().includes(row) ? table.shown() : view.rows;
    const at = shown.indexOf(row);
    document.querySelectorAll("table.steps tr.selected").forEach((tr) => tr.classList.remove("selected"));
    const tr = document.querySelector(`table.steps tr[data-step="${CSS.escape(String(step))}"]`);
    if (tr) tr.classList.add("selected");
    E.drawer.open({
      title: el("span", null, `${view.stepColumn ? "Step" : "Row"} ${step}`, el("span", { class: "muted" }, ` · ${view.run.name}${Object.keys(view.group).length ? " [" + groupText(view.group) + "]" : ""}`)),
      body: E.stepDetail.render(view, row),
      onPrev: at > 0 ? () => openStep(view, shown[at - 1].__step) : null,
      onNext: at >= 0 && at < shown.length - 1 ? () => openStep(view, shown[at + 1].__step) : null,
      onClose: () => { E.state.update({ step: null }); document.querySelectorAll("table.steps tr.selected").forEach((t) => t.classList.remove("selected")); },
    });
  }

  function stepSection(view) {
    const holder = el("div");
    if (!view.tableName) return null;
    const columns = [...view.columns.map((c) => ({ key: c, cls: view.numeric.includes(c) ? "num" : "" })),
      ...view.defaultExtra.map((c) => ({ key: c, cls: "tx" + (view.numeric.includes(c) ? " num" : ""), title: `${c}: from transcript.jsonl` }))];
    table = W().stepTable(holder, {
      columns, names: [...view.columns, ...view.extra], rows: view.rows, param: "filter",
      rowClass: (row) => { const r = view.decision.right(row); return (r === false ? "wrong" : r === true ? "right" : "") + (row.explored === true ? " explored" : ""); },
      onRow: (row) => openStep(view, row.__step),
      noun: view.stepColumn ? "steps" : "rows",
      placeholder: view.decision.hasOracle ? 'filter, e.g. service == "reasoning" and action != oracle_action' : "filter expression over the columns",
    });
    const title = view.tableName === "steps.csv" ? "Steps" : `Rows of ${view.tableName}`;
    return W().section(title, view.extra.length ? el("p", { class: "muted small" }, "Shaded columns come from transcript.jsonl; every transcript field (", view.extra.join(", "), ") can be used in the filter. Click a row for the full step.") : el("p", { class: "muted small" }, `Click a row for the full ${view.stepColumn ? "step" : "row"}.`), holder);
  }

  function otherTables(run) {
    const names = Object.keys(run.tables).filter((n) => n !== run.main_table);
    return names.map((name) => {
      const t = run.tables[name];
      const rows = E.model.records(t);
      rows.forEach((r, i) => { r.__step = i; });
      const holder = el("div");
      W().stepTable(holder, { columns: t.columns.map((c) => ({ key: c, cls: rows.some((r) => E.isNumber(r[c])) ? "num" : "" })), names: t.columns, rows, param: `filter_${name}`, noun: "rows" });
      return W().details(`Table ${name} (${t.rows.length} rows)`, false, holder);
    });
  }

  function figures(run) {
    if (!run.figures.length) return null;
    return W().section("Figures", el("div", { class: "figures" }, run.figures.map((f) =>
      el("figure", null, el("a", { href: f.url, target: "_blank", rel: "noopener" }, el("img", { src: f.url, alt: f.name, loading: "lazy" })), el("figcaption", null, f.name)))));
  }

  /** A summary's mappings of mappings (per policy, per solver) as tables, the rest as key/value rows. */
  function summaryParts(summary, skip) {
    const tables = [], rest = {};
    for (const [key, value] of Object.entries(summary)) {
      if (skip.includes(key)) continue;
      const table = value && typeof value === "object" && !Array.isArray(value) ? W().nestedTable(value) : null;
      if (table) tables.push(el("h3", null, key), el("div", { class: "table-wrap" }, table));
      else rest[key] = value;
    }
    return [...tables, Object.keys(rest).length ? W().kvTable(rest) : null];
  }

  function facts(run, entry) {
    const out = [];
    if (run.summary) out.push(W().details("Summary (summary.json)", true, summaryParts(run.summary, ["config"])));
    if (run.config) out.push(W().details("Config (config.yaml)", false, W().kvTable(run.config)));
    if (run.bench) out.push(W().details("Bench settings (bench.json)", false, W().kvTable(run.bench, { skip: ["config"] })));
    if (run.run) out.push(W().details("run.json", false, W().kvTable(run.run)));
    for (const [name, value] of Object.entries(run.json || {})) out.push(W().details(name, false, W().kvTable(value)));
    const templates = run.templates;
    if (templates && templates.status !== "none") {
      out.push(W().details(`Prompt templates (${templates.folder})`, false,
        el("p", { class: templates.status === "found" ? "muted small" : "notes" }, templates.note),
        Object.entries(templates.files).map(([name, text]) => [el("h3", null, name), W().pre(text)])));
    }
    out.push(W().details(`Files (${run.files.length})`, false, el("ul", { class: "files" }, run.files.map((f) =>
      el("li", null, f.url ? el("a", { href: f.url, target: "_blank", rel: "noopener" }, f.name) : f.name, el("span", { class: "muted" }, ` ${(f.bytes / 1024).toFixed(1)} kB`))))));
    return out;
  }

  E.pages.run = async function (main, index) {
    const params = E.state.read().params;
    const listed = index.runs.find((r) => r.id === params.get("run"));
    if (!listed) {
      E.replace(main, el("div", { class: "empty" }, "No run ", el("code", null, params.get("run") || "(none)"), " under this runs folder. ", el("a", { href: "#/" }, "Back to the list")));
      return;
    }
    const run = await E.data.load(listed.data);
    const entry = run.entries.find((e) => e.id === listed.id) || listed;
    const view = E.model.runView(run, entry);
    E.setCrumbs([{ label: "runs", href: "#/" }, { label: run.name + (Object.keys(entry.group).length ? ` [${groupText(entry.group)}]` : "") }]);
    const chartHolder = el("div", { class: "charts" });
    E.replace(main, header(index, run, entry), W().notes(run.notes), cards(run, entry, view), chartHolder);
    charts(view, chartHolder);
    main.append(...[figures(run), stepSection(view), ...otherTables(run), ...facts(run, entry)].filter(Boolean));
    if (params.get("step") !== null) openStep(view, params.get("step"), true);
  };
})(window.EdgeICL);
