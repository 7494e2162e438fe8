"use strict";
// Pieces the pages share: key/value tables, metric cards, the filterable step table,
// the drill-down drawer, side-by-side text diffs.
(function (E) {
  const { el } = E;
  const ROW_LIMIT = 500;

  /** {a: {b: 1}} -> [["a.b", 1]]; lists of scalars stay one value. */
  function flatten(value, prefix, out) {
    out = out || [];
    if (value && typeof value === "object" && !Array.isArray(value) && Object.keys(value).length) {
      for (const [k, v] of Object.entries(value)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
    } else if (Array.isArray(value) && value.some((v) => v && typeof v === "object")) {
      value.forEach((v, i) => flatten(v, `${prefix}[${i}]`, out));
    } else {
      out.push([prefix, value]);
    }
    return out;
  }

  function valueText(value) {
    if (Array.isArray(value)) return value.length ? value.map((v) => E.fmt(v)).join(", ") : "[]";
    return E.fmt(value);
  }

  /** A two-column table of a mapping, nested keys joined with dots. */
  function kvTable(mapping, opts) {
    const rows = flatten(mapping || {}, "", []).filter(([k]) => !(opts && opts.skip && opts.skip.some((s) => k === s || k.startsWith(s + "."))));
    return el("table", { class: "kv" }, el("tbody", null, rows.map(([k, v]) =>
      el("tr", null, el("th", { scope: "row" }, k), el("td", { title: typeof v === "number" ? String(v) : null }, valueText(v))))));
  }

  /** A mapping of mappings of scalars (e.g. a bench's per-policy metrics) as a table; null if it is not one. */
  function nestedTable(mapping) {
    const rows = Object.entries(mapping || {});
    if (!rows.length || !rows.every(([, v]) => v && typeof v === "object" && !Array.isArray(v))) return null;
    const columns = [...new Set(rows.flatMap(([, v]) => Object.keys(v)))];
    if (!rows.every(([, v]) => Object.values(v).every((x) => x === null || typeof x !== "object"))) return null;
    return el("table", { class: "grid-table" },
      el("thead", null, el("tr", null, el("th", null, ""), columns.map((c) => el("th", null, c.replace(/_/g, " "))))),
      el("tbody", null, rows.map(([name, v]) => el("tr", null, el("th", { scope: "row" }, name), columns.map((c) => el("td", { class: "num", title: String(v[c]) }, E.fmt(v[c])))))));
  }

  function card(label, value, sub, cls) {
    return el("div", { class: "card " + (cls || "") }, el("div", { class: "card-label" }, label), el("div", { class: "card-value" }, value), sub ? el("div", { class: "card-sub" }, sub) : null);
  }

  function chip(text, cls, title) {
    return el("span", { class: "chip " + (cls || ""), title: title || null }, text);
  }

  function section(title, ...children) {
    return el("section", { class: "panel" }, el("h2", null, title), ...children);
  }

  function details(title, open, ...children) {
    return el("details", { class: "panel fold", open: open || null }, el("summary", null, title), ...children);
  }

  function notes(list) {
    if (!list || !list.length) return null;
    return el("div", { class: "notes", role: "note" }, list.map((n) => el("div", null, "⚠ ", n)));
  }

  /** A block of text from a run, shown verbatim. */
  function pre(text, cls) {
    return el("pre", { class: "text " + (cls || "") }, text === null || text === undefined ? "" : String(text));
  }

  /**
   * The filterable table of steps. opts: columns [{key, label, title, cls}], names (what
   * a filter may use), rows, param (URL parameter of the filter), keep (a row test applied
   * before the filter), rowClass, onRow, selected (step), controls (extra toolbar nodes),
   * onChange(shownRows), noun.
   */
  function stepTable(holder, opts) {
    const params = E.state.read().params;
    const input = el("input", { type: "search", class: "filter mono", spellcheck: "false", autocomplete: "off", value: params.get(opts.param) || "",
      placeholder: opts.placeholder || 'filter, e.g. service == "reasoning" and action != oracle_action', "aria-label": "filter expression" });
    const message = el("div", { class: "filter-error", role: "alert", hidden: true });
    const count = el("span", { class: "count" });
    const help = el("details", { class: "help" }, el("summary", null, "syntax"),
      el("p", null, "Compare with ", el("code", null, "== != < <= > >="), ", combine with ", el("code", null, "and or not"), " and parentheses; text in quotes, numbers as they are, ", el("code", null, "true false null"), "."),
      el("p", null, "Columns: ", opts.names.map((n, i) => [i ? ", " : "", el("code", null, n)])));
    const body = el("tbody");
    const head = el("thead", null, el("tr", null, opts.columns.map((c) => el("th", { class: c.cls || "", title: c.title || null, scope: "col" }, c.label || c.key))));
    const more = el("div", { class: "more" });
    let limit = ROW_LIMIT;
    let test = () => true;
    let shown = [];

    function compile() {
      try {
        test = E.expr.compile(input.value, opts.names);
        message.hidden = true;
        input.classList.remove("bad");
      } catch (error) {
        if (!(error instanceof E.expr.ExprError)) throw error;
        test = () => true;
        E.replace(message, "Filter not applied: ", error.message);
        message.hidden = false;
        input.classList.add("bad");
      }
    }
    function render() {
      const keep = opts.keep ? opts.keep() : () => true;
      shown = opts.rows.filter((row) => keep(row) && test(row));
      count.textContent = `${shown.length} of ${opts.rows.length} ${opts.noun || "steps"}`;
      const selected = E.state.read().params.get("step");
      E.replace(body, shown.slice(0, limit).map((row) => {
        const tr = el("tr", { class: (opts.rowClass ? opts.rowClass(row) : "") + (selected !== null && String(row.__step) === selected ? " selected" : ""), "data-step": row.__step, tabindex: 0 },
          opts.columns.map((c) => {
            const v = row[c.key];
            return el("td", { class: c.cls || "", title: v !== null && v !== undefined && String(v).length > 12 ? String(v) : null }, c.render ? c.render(row) : E.fmt(v));
          }));
        if (opts.onRow) {
          tr.addEventListener("click", () => opts.onRow(row));
          tr.addEventListener("keydown", (event) => { if (event.key === "Enter") opts.onRow(row); });
        }
        return tr;
      }));
      E.replace(more, shown.length > limit ? el("button", { type: "button", on: { click: () => { limit = Infinity; render(); } } }, `show all ${shown.length} rows`) : null);
      if (opts.onChange) opts.onChange(shown);
    }
    let timer = null;
    input.addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(() => { E.state.update({ [opts.param]: input.value }); compile(); render(); }, 200);
    });
    compile();
    E.replace(holder,
      el("div", { class: "toolbar" }, input, count, ...(opts.controls || [])), message, help,
      el("div", { class: "table-wrap" }, el("table", { class: "steps" }, head, body)), more);
    render();
    return { render, shown: () => shown, input };
  }

  // --- the drill-down drawer ---------------------------------------------------------
  const drawer = {
    open(opts) {
      const node = document.getElementById("drawer");
      E.replace(document.getElementById("drawer-title"), opts.title);
      E.replace(document.getElementById("drawer-body"), opts.body);
      document.getElementById("drawer-body").scrollTop = 0;
      node.classList.toggle("wide", Boolean(opts.wide));
      node.hidden = false;
      drawer.current = opts;
      document.getElementById("drawer-prev").disabled = !opts.onPrev;
      document.getElementById("drawer-next").disabled = !opts.onNext;
    },
    close(silent) {
      document.getElementById("drawer").hidden = true;
      const opts = drawer.current;
      drawer.current = null;
      if (opts && opts.onClose && !silent) opts.onClose();
    },
    current: null,
  };
  document.getElementById("drawer-close").addEventListener("click", () => drawer.close());
  document.getElementById("drawer-prev").addEventListener("click", () => drawer.current && drawer.current.onPrev && drawer.current.onPrev());
  document.getElementById("drawer-next").addEventListener("click", () => drawer.current && drawer.current.onNext && drawer.current.onNext());
  document.addEventListener("keydown", (event) => {
    if (!drawer.current || ["INPUT", "SELECT", "TEXTAREA"].includes(document.activeElement.tagName)) return;
    if (event.key === "Escape") drawer.close();
    else if (event.key === "j" && drawer.current.onNext) drawer.current.onNext();
    else if (event.key === "k" && drawer.current.onPrev) drawer.current.onPrev();
  });

  /** Two texts side by side, lines paired by their longest common subsequence; identical texts say so. */
  function textDiff(textA, textB, labels) {
    if (textA === textB) return el("div", { class: "identical" }, "identical");
    const rows = E.stats.lineDiff(textA, textB);
    return el("div", { class: "table-wrap" }, el("table", { class: "diff" },
      el("colgroup", null, el("col", { class: "ln" }), el("col"), el("col", { class: "ln" }), el("col")),
      el("thead", null, el("tr", null, el("th", { colspan: 2 }, labels ? labels[0] : "A"), el("th", { colspan: 2 }, labels ? labels[1] : "B"))),
      el("tbody", null, rows.map((r) => el("tr", { class: r.kind },
        el("td", { class: "ln" }, r.aLine === null ? "" : String(r.aLine)), el("td", { class: "side a" }, r.a === null ? "" : r.a),
        el("td", { class: "ln" }, r.bLine === null ? "" : String(r.bLine)), el("td", { class: "side b" }, r.b === null ? "" : r.b))))));
  }

  E.widgets = { kvTable, nestedTable, card, chip, section, details, notes, pre, stepTable, textDiff, flatten };
  E.drawer = drawer;
})(window.EdgeICL);
