"use strict";
// A run (or one bench group) as the pages use it: its step rows joined with its
// transcript lines by step, whatever the problem's columns; two runs aligned by step.
(function (E) {
  // Transcript fields that are long text or identify the line: never table columns.
  const NOT_COLUMNS = new Set(["prompt_variable", "prompt_stable", "reply", "prompt_hash", "step", "policy", "seed", "backend", "model"]);
  // Transcript fields the step table shows by default when a transcript has them.
  const SHOWN_FIRST = ["explored", "cache", "saved_latency_s", "parsed_ok", "fallback", "latency_s"];

  function records(table) {
    return table.rows.map((row) => Object.fromEntries(table.columns.map((c, i) => [c, row[i]])));
  }
  function inGroup(record, group) {
    return Object.entries(group).every(([k, v]) => E.same(record[k], v));
  }

  /** Scalar transcript fields, SHOWN_FIRST ones first (a field holding one same text on every line is left out). */
  function transcriptColumns(lines, taken) {
    const seen = new Map();
    for (const line of lines) {
      for (const [key, value] of Object.entries(line)) {
        if (taken.has(key) || NOT_COLUMNS.has(key)) continue;
        let facts = seen.get(key);
        if (!facts) seen.set(key, (facts = { scalar: true, texts: new Set(), other: false }));
        if (typeof value === "string") { if (value.length > 40) facts.scalar = false; else facts.texts.add(value); }
        else if (value !== null && typeof value === "object") facts.scalar = false;
        else if (value !== null) facts.other = true;
      }
    }
    const keep = [...seen].filter(([key, f]) => f.scalar && (f.other || f.texts.size !== 1 || SHOWN_FIRST.includes(key))).map(([key]) => key);
    return [...SHOWN_FIRST.filter((k) => keep.includes(k)), ...keep.filter((k) => !SHOWN_FIRST.includes(k))];
  }

  function numericColumns(columns, rows) {
    return columns.filter((c) => {
      let any = false;
      for (const row of rows) {
        const v = row[c];
        if (v === null || v === undefined) continue;
        if (!E.isNumber(v)) return false;
        any = true;
      }
      return any;
    });
  }

  /** One run, or one group of a bench: rows of its step table with its transcript fields. */
  function runView(run, entry) {
    const group = entry.group || {};
    const tableName = run.main_table;
    const table = tableName ? run.tables[tableName] : { columns: [], rows: [] };
    const groupColumns = Object.keys(group);
    const columns = table.columns.filter((c) => !groupColumns.includes(c));
    const stepColumn = table.columns.includes("step") ? "step" : null;
    const rows = records(table).filter((r) => inGroup(r, group));
    rows.forEach((row, i) => { row.__step = stepColumn ? row[stepColumn] : i; });
    const lines = run.transcript.filter((line) => inGroup(line, group));
    const lineByStep = new Map();
    for (const line of lines) if (line.step !== undefined) lineByStep.set(String(line.step), line);
    const extra = transcriptColumns(lines, new Set(table.columns));
    for (const row of rows) {
      const line = lineByStep.get(String(row.__step)) || {};
      for (const c of extra) row[c] = line[c] === undefined ? null : line[c];
    }
    const rowByStep = new Map(rows.map((r) => [String(r.__step), r]));
    const numeric = numericColumns(columns.filter((c) => c !== stepColumn), rows);
    return {
      run, entry, group, tableName, columns, extra, rows, lines, lineByStep, rowByStep, stepColumn, numeric,
      defaultExtra: extra.filter((c) => SHOWN_FIRST.includes(c)),
      decision: decisionFacts(columns, rows),
    };
  }

  /** How the decisions chart reads a table: the decision column, and right/wrong from action vs oracle action. */
  function decisionFacts(columns, rows) {
    const category = columns.includes("decision") ? "decision" : columns.includes("action") ? "action" : null;
    const hasOracle = columns.includes("action") && columns.includes("oracle_action");
    const label = new Map();
    if (category && columns.includes("action")) for (const r of rows) label.set(String(r.action), r[category]);
    return {
      category,
      hasOracle,
      right: (row) => (hasOracle && row.action !== null && row.oracle_action !== null ? E.same(row.action, row.oracle_action) : null),
      oracleCategory: (row) => (hasOracle ? (label.has(String(row.oracle_action)) ? label.get(String(row.oracle_action)) : row.oracle_action) : null),
    };
  }

  /**
   * Two runs aligned by step. Columns equal on every aligned step are the stream's (the
   * requests both met); the others are shown as A.<col> and B.<col>.
   */
  function align(viewA, viewB, metric) {
    const pairs = [];
    for (const a of viewA.rows) {
      const b = viewB.rowByStep.get(String(a.__step));
      if (b) pairs.push({ step: a.__step, a, b });
    }
    const step = viewA.stepColumn;
    const shared = viewA.columns.filter((c) => viewB.columns.includes(c) && c !== step);
    const stream = pairs.length ? shared.filter((c) => pairs.every((p) => E.same(p.a[c], p.b[c]))) : [];
    const differ = shared.filter((c) => !stream.includes(c));
    const extra = [...new Set([...viewA.extra, ...viewB.extra])];
    const decisionKey = ["action", "decision"].find((c) => shared.includes(c)) || null;
    const rows = pairs.map((p) => {
      const row = { __step: p.step, step: p.step };
      for (const c of stream) row[c] = p.a[c];
      for (const c of [...differ, ...extra]) { row["A." + c] = p.a[c] === undefined ? null : p.a[c]; row["B." + c] = p.b[c] === undefined ? null : p.b[c]; }
      row.differs = decisionKey ? !E.same(p.a[decisionKey], p.b[decisionKey]) : differ.some((c) => !E.same(p.a[c], p.b[c]));
      row.delta = metric && E.isNumber(p.a[metric]) && E.isNumber(p.b[metric]) ? p.b[metric] - p.a[metric] : null;
      return row;
    });
    return { pairs, rows, stream, differ, extra, decisionKey, onlyA: viewA.rows.length - pairs.length, onlyB: viewB.rows.length - pairs.length };
  }

  /** The full prompt of a transcript line: its stable part (found by hash) and its variable part. */
  function prompt(run, line) {
    if (!line || !line.prompt_hash) return null;
    const stable = run.prompts[line.prompt_hash];
    return { hash: line.prompt_hash, stable: stable ? stable.text : null, firstStep: stable ? stable.step : null, variable: line.prompt_variable };
  }

  E.model = { runView, align, prompt, records, inGroup, SHOWN_FIRST };
})(window.EdgeICL);
