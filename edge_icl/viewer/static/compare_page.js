"use strict";
// Two runs on the same stream, step by step: the paired difference of a per-step column
// (reward by default), its 95 % interval over seeds where A and B are two arms of one bench
// or sweep run on several seeds (computed with the page data, edge_icl/viewer/seed_pairs.py),
// a scatter of A against B, the aligned table with a "different only" filter, both
// drill-downs side by side, and a diff of the two prompt folders' templates. No interval is
// drawn over the steps of one run: a learning agent's steps are not independent.
// State: a, b, y, diff, filter, step.
(function (E) {
  const { el } = E;
  const W = () => E.widgets;
  const groupText = (group) => Object.entries(group || {}).map(([k, v]) => `${k}=${v}`).join(", ");
  const title = (entry) => entry.name + (Object.keys(entry.group || {}).length ? ` [${groupText(entry.group)}]` : "");

  function side(letter, entry) {
    return el("div", { class: `side-card ${letter.toLowerCase()}` },
      el("div", { class: "side-letter" }, letter),
      el("div", null,
        el("a", { href: E.state.href("/run", { run: entry.id }), class: "mono" }, title(entry)),
        el("div", { class: "chips" },
          W().chip(`policy ${E.fmt(entry.policy)}`), W().chip(`seed ${E.fmt(entry.seed)}`),
          entry.prompt ? W().chip(`prompt ${entry.prompt}`, "llm") : null,
          entry.backend ? W().chip(`${entry.backend}${entry.model ? " · " + entry.model : ""}`, "llm") : null)));
  }

  const NOT_OVER_STEPS = "No interval over the steps of one run: a learning agent's steps are not independent (each decision changes the pool that later ones read).";

  /**
   * B − A over seeds, paired by seed: the folder's seed pair of A's and B's arms (a bench's
   * policy, a sweep's policy × variant × world) for `metric`, or {reason} when there is none.
   */
  function overSeeds(runA, runB, entryA, entryB, metric) {
    if (!metric) return { reason: "No numeric column in both runs." };
    const single = [entryA, entryB].filter((entry) => !Object.keys(entry.group || {}).length).length;
    if (single) return { reason: `${NOT_OVER_STEPS} ${single === 2 ? "A and B are single runs" : "One of them is a single run"}, one seed each: run a bench or a sweep on several seeds for an interval over seeds.` };
    if (runA.id !== runB.id) return { reason: `${NOT_OVER_STEPS} A and B are in different folders: an interval over seeds is given for two policies of one bench or sweep run on several seeds.` };
    const data = runA.seed_pairs || { arms: [], pairs: [] };
    const armOf = (entry) => data.arms.find((arm) => Object.keys(arm.group).every((k) => E.same(arm.group[k], entry.group[k])));
    const a = armOf(entryA), b = armOf(entryB);
    if (!a || !b) return { reason: `${NOT_OVER_STEPS} This folder's runs are not told apart by seed, so nothing pairs them over seeds.` };
    if (a === b) return { reason: `A and B are ${a.label} on two seeds: no other arm to pair with.` };
    const forward = data.pairs.find((p) => p.a === a.label && p.b === b.label && p.column === metric);
    const backward = data.pairs.find((p) => p.a === b.label && p.b === a.label && p.column === metric);
    const pair = forward || backward;
    if (!pair || !pair.ci95) {
      const common = a.seeds.filter((s) => b.seeds.some((t) => E.same(s, t))).length;
      return { reason: `${NOT_OVER_STEPS} ${a.label} and ${b.label} share ${common} seed${common === 1 ? "" : "s"} with ${metric}: an interval over seeds needs two.` };
    }
    const sign = forward ? 1 : -1;
    return { a, b, n: pair.seeds, mean: sign * pair.mean, lo: forward ? pair.ci95[0] : -pair.ci95[1], hi: forward ? pair.ci95[1] : -pair.ci95[0],
      perSeed: Object.entries(pair.per_seed).map(([seed, d]) => `${seed}: ${E.fmt(sign * d)}`).join(", ") };
  }

  function templatesDiff(runA, runB) {
    const ta = runA.templates, tb = runB.templates;
    const notes = [];
    for (const [letter, t] of [["A", ta], ["B", tb]]) {
      if (!t || t.status === "none") notes.push(el("p", { class: "muted" }, `${letter}: this run used no LLM prompt.`));
      else notes.push(el("p", { class: t.status === "found" ? "muted small" : "notes" }, `${letter}: ${t.folder} · ${t.note}`));
    }
    const filesA = (ta && ta.files) || {}, filesB = (tb && tb.files) || {};
    const names = [...new Set([...Object.keys(filesA), ...Object.keys(filesB)])].sort();
    const same = names.filter((n) => filesA[n] === filesB[n]);
    const changed = names.filter((n) => filesA[n] !== filesB[n]);
    const section = W().section("Prompt templates, A → B", ...notes,
      names.length && !changed.length ? el("p", { class: "identical" }, "All templates are identical.") : null,
      changed.map((name) => el("div", { class: "template-diff", "data-template": name },
        el("h3", null, name, filesA[name] === undefined ? " (only in B)" : filesB[name] === undefined ? " (only in A)" : ""),
        W().textDiff(filesA[name] || "", filesB[name] || "", [`A: ${ta.folder}`, `B: ${tb.folder}`]))),
      same.length && changed.length ? el("p", { class: "muted small" }, "Identical in both: ", same.join(", ")) : null);
    section.classList.add("templates");
    return section;
  }

  E.pages.compare = async function (main, index) {
    const params = E.state.read().params;
    const listedA = index.runs.find((r) => r.id === params.get("a"));
    const listedB = index.runs.find((r) => r.id === params.get("b"));
    if (!listedA || !listedB) {
      E.replace(main, el("div", { class: "empty" }, "Pick two runs to compare on the ", el("a", { href: "#/" }, "run list"), "."));
      return;
    }
    const [runA, runB] = await Promise.all([E.data.load(listedA.data), E.data.load(listedB.data)]);
    const entryA = runA.entries.find((e) => e.id === listedA.id) || listedA;
    const entryB = runB.entries.find((e) => e.id === listedB.id) || listedB;
    const viewA = E.model.runView(runA, entryA), viewB = E.model.runView(runB, entryB);
    const numeric = viewA.numeric.filter((c) => viewB.numeric.includes(c));
    const metric = numeric.includes(params.get("y")) ? params.get("y") : numeric.includes("reward") ? "reward" : numeric[0] || null;
    const aligned = E.model.align(viewA, viewB, metric);
    E.setCrumbs([{ label: "runs", href: "#/" }, { label: "compare" }]);

    const warnings = [];
    if (!E.same(entryA.seed, entryB.seed)) warnings.push(`The seeds differ (${E.fmt(entryA.seed)} vs ${E.fmt(entryB.seed)}): the runs met different request streams, so a step-by-step comparison says little.`);
    if (!aligned.pairs.length) warnings.push("No step appears in both runs.");
    if (aligned.onlyA || aligned.onlyB) warnings.push(`Steps in one run only: ${aligned.onlyA} in A, ${aligned.onlyB} in B (left out below).`);

    const all = E.stats.pairedDifference(aligned.pairs.map((p) => p.a[metric]), aligned.pairs.map((p) => p.b[metric]));
    const differing = aligned.rows.filter((r) => r.differs).length;
    const accuracy = (view) => { const r = view.rows.map((x) => view.decision.right(x)).filter((x) => x !== null); return r.length ? r.filter(Boolean).length / r.length : null; };
    const shownStats = el("div", { class: "shown-stats" });
    const metricSelect = el("select", { "aria-label": "compared column", on: { change: () => { E.state.update({ y: metricSelect.value }); E.render(true); } } },
      numeric.map((c) => el("option", { value: c, selected: c === metric || null }, c)));
    const meanOf = (letter) => E.stats.mean(aligned.pairs.map((p) => p[letter][metric]).filter(E.isNumber));

    const seeds = overSeeds(runA, runB, entryA, entryB, metric);
    const seedText = E.same(entryA.seed, entryB.seed) && entryA.seed !== null && entryA.seed !== undefined ? ` of seed ${E.fmt(entryA.seed)}` : "";
    const cards = el("div", { class: "cards" },
      W().card(`B − A mean ${metric || ""}`, all.mean === null ? "–" : E.fmt(all.mean), all.n ? `over the ${all.n} steps${seedText}` : null),
      W().card(`B − A mean ${metric || ""}, over seeds`, seeds.reason ? "no interval" : `${E.fmt(seeds.mean)}  [${E.fmt(seeds.lo)}, ${E.fmt(seeds.hi)}]`,
        seeds.reason || `95 % t interval over ${seeds.n} seeds, paired by seed (each seed's mean ${metric}, ${seeds.b.label} − ${seeds.a.label}; per seed ${seeds.perSeed})`, "wide-card over-seeds"),
      W().card("B earned more / same / less", `${all.larger} / ${all.equal} / ${all.smaller}`, "steps"),
      aligned.decisionKey ? W().card("decisions differ", `${differing} of ${aligned.rows.length}`, "steps") : null,
      metric ? W().card(`mean ${metric}`, `A ${E.fmt(meanOf("a"))} · B ${E.fmt(meanOf("b"))}`) : null,
      viewA.decision.hasOracle ? W().card("accuracy vs oracle", `A ${E.fmt(accuracy(viewA))} · B ${E.fmt(accuracy(viewB))}`) : null);

    const scatterBox = el("div", { class: "chart-box" });
    const lineBox = el("div", { class: "chart-box" });
    const tableHolder = el("div");
    const diffOnly = el("input", { type: "checkbox", checked: params.get("diff") === "1" || null, "aria-label": "different only" });
    const pair = (c, cls) => ["A", "B"].map((s) => ({ key: `${s}.${c}`, cls: `${cls} side-${s.toLowerCase()}` }));
    const columns = [{ key: "step", cls: "num" },
      ...aligned.differ.flatMap((c) => pair(c, viewA.numeric.includes(c) ? "num" : "")),
      metric ? { key: "delta", label: `Δ ${metric}`, cls: "num delta", title: `B − A ${metric}` } : null,
      ...aligned.extra.filter((c) => E.model.SHOWN_FIRST.includes(c) && c !== "latency_s").flatMap((c) => pair(c, "tx")),
      ...aligned.stream.map((c) => ({ key: c, cls: (viewA.numeric.includes(c) ? "num " : "") + "stream", title: `${c}: the same in both runs` }))].filter(Boolean);
    const names = ["step", "differs", "delta", ...aligned.stream, ...aligned.differ.flatMap((c) => [`A.${c}`, `B.${c}`]), ...aligned.extra.flatMap((c) => [`A.${c}`, `B.${c}`])];
    let table = null;

    function openPair(step, keepUrl) {
      const row = aligned.rows.find((r) => String(r.__step) === String(step));
      if (!row) return;
      if (!keepUrl) E.state.update({ step });
      const shown = table && table.shown().includes(row) ? table.shown() : aligned.rows;
      const at = shown.indexOf(row);
      const a = viewA.rowByStep.get(String(step)), b = viewB.rowByStep.get(String(step));
      const promptA = E.stepDetail.promptText(viewA, viewA.lineByStep.get(String(step)));
      const promptB = E.stepDetail.promptText(viewB, viewB.lineByStep.get(String(step)));
      E.drawer.open({
        wide: true,
        title: el("span", null, `Step ${step}`, el("span", { class: "muted" }, row.differs ? " · decisions differ" : " · same decision")),
        body: el("div", null,
          aligned.stream.length ? el("div", { class: "stream-facts" }, aligned.stream.map((c) => el("span", null, el("b", null, c), " ", E.fmt(row[c])))) : null,
          promptA !== null && promptB !== null ? W().details("Full prompt, A → B", false, W().textDiff(promptA, promptB, ["A", "B"])) : null,
          el("div", { class: "pair" },
            el("div", { class: "pair-side a" }, el("h2", null, "A · ", title(entryA)), E.stepDetail.render(viewA, a)),
            el("div", { class: "pair-side b" }, el("h2", null, "B · ", title(entryB)), E.stepDetail.render(viewB, b)))),
        onPrev: at > 0 ? () => openPair(shown[at - 1].__step) : null,
        onNext: at >= 0 && at < shown.length - 1 ? () => openPair(shown[at + 1].__step) : null,
        onClose: () => E.state.update({ step: null }),
      });
    }

    table = W().stepTable(tableHolder, {
      columns, names, rows: aligned.rows, param: "filter",
      placeholder: 'filter, e.g. A.decision != B.decision and service == "reasoning"',
      keep: () => (diffOnly.checked ? (row) => row.differs : () => true),
      controls: [el("label", { class: "check" }, diffOnly, " different only")],
      rowClass: (row) => (row.differs ? "differs" : ""),
      onRow: (row) => openPair(row.__step),
      onChange: (shown) => {
        if (!metric) return;
        const d = E.stats.pairedDifference(shown.map((r) => r[`A.${metric}`] ?? r[metric]), shown.map((r) => r[`B.${metric}`] ?? r[metric]));
        E.replace(shownStats, shown.length === aligned.rows.length ? "" : `On the ${shown.length} steps shown: B − A mean ${metric} ${d.mean === null ? "–" : E.fmt(d.mean)} (no interval: the steps of one run are not independent)`);
      },
    });
    diffOnly.addEventListener("change", () => { E.state.update({ diff: diffOnly.checked ? 1 : null }); table.render(); });

    E.replace(main,
      el("div", { class: "page-head" }, el("h1", null, "Compare"),
        el("div", { class: "sides" }, side("A", entryA), side("B", entryB)),
        el("div", { class: "controls" }, el("a", { href: E.state.href("/compare", { a: entryB.id, b: entryA.id }) }, "⇄ swap A and B"), numeric.length > 1 ? el("label", null, "compared column ", metricSelect) : null)),
      W().notes(warnings),
      cards,
      el("div", { class: "charts two" },
        metric ? W().section(`${metric}: A (x) against B (y), per step`, scatterBox) : null,
        metric ? W().section(`${metric} per step, moving average`, lineBox) : null),
      W().section("Steps side by side", el("p", { class: "muted small" },
        aligned.stream.length ? `Columns equal in both runs at every step (the stream, shown grey at the right): ${aligned.stream.join(", ")}. ` : "No column is equal in both runs at every step. ",
        "Click a row for both steps in full."), shownStats, tableHolder),
      templatesDiff(runA, runB));
    if (metric) {
      E.charts.scatter(scatterBox, {
        xLabel: `A ${metric}`, yLabel: `B ${metric}`, onPick: (step) => openPair(step),
        points: aligned.pairs.map((p, i) => ({ x: p.a[metric], y: p.b[metric], step: p.step, differs: aligned.rows[i].differs,
          label: `step ${p.step}: A ${E.fmt(p.a[metric])}, B ${E.fmt(p.b[metric])}${aligned.decisionKey ? ` · A ${E.fmt(p.a[aligned.decisionKey])}, B ${E.fmt(p.b[aligned.decisionKey])}` : ""}` })),
      });
      const window = Math.max(5, Math.round(aligned.pairs.length / 10));
      const steps = aligned.pairs.map((p) => p.step);
      const maA = E.stats.movingAverage(aligned.pairs.map((p) => p.a[metric]), window), maB = E.stats.movingAverage(aligned.pairs.map((p) => p.b[metric]), window);
      E.charts.line(lineBox, {
        xLabel: viewA.stepColumn || "row", yLabel: metric, onPick: (step) => openPair(step),
        series: [
          { label: `A, moving average (${window})`, color: E.charts.PALETTE.a, width: 2.5, points: steps.map((s, i) => [s, maA[i]]) },
          { label: `B, moving average (${window})`, color: E.charts.PALETTE.b, width: 2.5, points: steps.map((s, i) => [s, maB[i]]) },
        ],
      });
    }
    if (params.get("step") !== null) openPair(params.get("step"), true);
  };
})(window.EdgeICL);
