"use strict";
// Plain SVG charts drawn here (no library, nothing from the network): a line chart with a
// hover read-out, a decisions-over-time strip, and a scatter with the y = x diagonal.
// Every label is a text node; clicking a step calls the chart's onPick(step).
(function (E) {
  const { svg, el } = E;
  const MARGIN = { top: 14, right: 18, bottom: 40, left: 62 };
  const PALETTE = { a: "#2f6fdf", b: "#d9730d", oracle: "#7a828e", right: "#1a7f37", wrong: "#cf222e", grid: "#e6e8eb", axis: "#57606a" };

  function niceStep(span, count) {
    const raw = span / Math.max(count, 1);
    const power = 10 ** Math.floor(Math.log10(raw));
    const unit = raw / power;
    return (unit >= 5 ? 10 : unit >= 2 ? 5 : unit >= 1 ? 2 : 1) * power;
  }
  function ticks(lo, hi, count) {
    if (!(hi > lo)) { hi = lo + 1; lo = lo - 1; }
    const step = niceStep(hi - lo, count);
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
    return out;
  }
  function tickLabel(v) {
    const size = Math.abs(v);
    if (size >= 1e5 || (size > 0 && size < 1e-3)) return v.toExponential(1);
    return String(Number(v.toPrecision(6)));
  }
  function extent(values, pad) {
    const finite = values.filter(E.isNumber);
    if (!finite.length) return [0, 1];
    let lo = Math.min(...finite), hi = Math.max(...finite);
    if (lo === hi) { lo -= 1; hi += 1; }
    const margin = (hi - lo) * (pad || 0);
    return [lo - margin, hi + margin];
  }

  /** The plotting frame: an <svg> sized to the container, scales, grid and axes. */
  function frame(container, opts) {
    const width = Math.max(320, Math.round(container.clientWidth || 720));
    const height = opts.height || 260;
    const plotW = width - MARGIN.left - MARGIN.right, plotH = height - MARGIN.top - MARGIN.bottom;
    const [x0, x1] = opts.x, [y0, y1] = opts.y;
    const x = (v) => MARGIN.left + ((v - x0) / (x1 - x0 || 1)) * plotW;
    const y = (v) => MARGIN.top + plotH - ((v - y0) / (y1 - y0 || 1)) * plotH;
    const root = svg("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img", "aria-label": opts.title || "chart" });
    const grid = svg("g", { class: "grid" });
    for (const t of opts.yTicks || ticks(y0, y1, 5)) {
      grid.append(svg("line", { x1: MARGIN.left, x2: width - MARGIN.right, y1: y(t), y2: y(t), stroke: PALETTE.grid }));
      if (!opts.yLabels) grid.append(svg("text", { x: MARGIN.left - 6, y: y(t), "text-anchor": "end", "dominant-baseline": "middle", class: "tick" }, tickLabel(t)));
    }
    for (const t of ticks(x0, x1, Math.max(2, Math.floor(plotW / 90)))) {
      grid.append(svg("line", { x1: x(t), x2: x(t), y1: MARGIN.top + plotH, y2: MARGIN.top + plotH + 4, stroke: PALETTE.axis }));
      grid.append(svg("text", { x: x(t), y: MARGIN.top + plotH + 16, "text-anchor": "middle", class: "tick" }, tickLabel(t)));
    }
    grid.append(svg("line", { x1: MARGIN.left, x2: width - MARGIN.right, y1: MARGIN.top + plotH, y2: MARGIN.top + plotH, stroke: PALETTE.axis }));
    grid.append(svg("line", { x1: MARGIN.left, x2: MARGIN.left, y1: MARGIN.top, y2: MARGIN.top + plotH, stroke: PALETTE.axis }));
    if (opts.xLabel) grid.append(svg("text", { x: MARGIN.left + plotW / 2, y: height - 6, "text-anchor": "middle", class: "axis-label" }, opts.xLabel));
    if (opts.yLabel) grid.append(svg("text", { x: 14, y: MARGIN.top + plotH / 2, "text-anchor": "middle", class: "axis-label", transform: `rotate(-90 14 ${MARGIN.top + plotH / 2})` }, opts.yLabel));
    root.append(grid);
    return { root, x, y, width, height, plotW, plotH };
  }

  function legend(items) {
    return el("div", { class: "legend" }, items.map((item) =>
      el("span", { class: "legend-item" }, el("span", { class: "swatch " + (item.kind || "line"), style: { "--swatch": item.color } }), item.label)));
  }

  function nearest(sorted, value) {
    let lo = 0, hi = sorted.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (sorted[mid] < value) lo = mid + 1; else hi = mid;
    }
    if (lo > 0 && Math.abs(sorted[lo - 1] - value) <= Math.abs(sorted[lo] - value)) lo--;
    return sorted[lo];
  }

  /**
   * Lines over steps. series: [{label, color, points: [[x, y]], dash, width, faint}];
   * hovering shows every series' value at the nearest step; a click calls onPick(step).
   */
  function line(container, opts) {
    const xs = [...new Set(opts.series.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b);
    const f = frame(container, { ...opts, x: extent(xs), y: extent(opts.series.flatMap((s) => s.points.map((p) => p[1])), 0.05) });
    for (const s of opts.series) {
      let d = "";
      let pen = false;
      for (const [px, py] of s.points) {
        if (!E.isNumber(py)) { pen = false; continue; }
        d += `${pen ? "L" : "M"}${f.x(px).toFixed(1)},${f.y(py).toFixed(1)}`;
        pen = true;
      }
      f.root.append(svg("path", { d, fill: "none", stroke: s.color, "stroke-width": s.width || 1.5, "stroke-dasharray": s.dash || null, opacity: s.faint ? 0.45 : 1, class: "series" }));
    }
    const guide = svg("line", { y1: MARGIN.top, y2: MARGIN.top + f.plotH, stroke: PALETTE.axis, "stroke-dasharray": "3 3", opacity: 0 });
    const overlay = svg("rect", { x: MARGIN.left, y: MARGIN.top, width: f.plotW, height: f.plotH, fill: "transparent", class: "overlay" });
    f.root.append(guide, overlay);
    const tip = el("div", { class: "tooltip", hidden: true });
    const byX = opts.series.map((s) => new Map(s.points));
    const at = (event) => {
      const box = f.root.getBoundingClientRect();
      const sx = ((event.clientX - box.left) / box.width) * f.width;
      const x0 = f.x(xs[0]), x1 = f.x(xs[xs.length - 1]);
      return nearest(xs, xs[0] + ((sx - x0) / ((x1 - x0) || 1)) * (xs[xs.length - 1] - xs[0]));
    };
    overlay.addEventListener("mousemove", (event) => {
      if (!xs.length) return;
      const step = at(event);
      guide.setAttribute("x1", f.x(step));
      guide.setAttribute("x2", f.x(step));
      guide.setAttribute("opacity", 1);
      E.replace(tip, el("div", { class: "tip-head" }, `${opts.xLabel || "x"} ${step}`),
        opts.series.map((s, i) => el("div", null, el("span", { class: "swatch line", style: { "--swatch": s.color } }), `${s.label}: ${E.fmt(byX[i].get(step))}`)),
        opts.onPick ? el("div", { class: "tip-hint" }, "click: open this step") : null);
      tip.hidden = false;
      const holder = container.getBoundingClientRect();
      tip.style.setProperty("left", `${Math.min(event.clientX - holder.left + 14, holder.width - 230)}px`);
      tip.style.setProperty("top", `${event.clientY - holder.top + 12}px`);
    });
    overlay.addEventListener("mouseleave", () => { tip.hidden = true; guide.setAttribute("opacity", 0); });
    if (opts.onPick) overlay.addEventListener("click", (event) => xs.length && opts.onPick(at(event)));
    E.replace(container, legend(opts.series.map((s) => ({ label: s.label, color: s.color, kind: s.dash ? "dash" : "line" }))), f.root, tip);
  }

  /**
   * Decisions over time: one row per decision; a dot where the decision was right
   * (equal to the oracle's), a cross where wrong, with a ring on the oracle's choice;
   * hollow marks for explored (random) steps.
   * points: [{x, category, oracleCategory, right (true/false/null), explored, label}]
   */
  function decisions(container, opts) {
    const categories = opts.categories;
    const rowH = 30;
    const height = MARGIN.top + MARGIN.bottom + rowH * Math.max(categories.length, 1);
    const xs = opts.points.map((p) => p.x);
    const index = new Map(categories.map((c, i) => [c, i]));
    const yOf = (i) => i;
    const f = frame(container, { ...opts, height, x: extent(xs), y: [-0.6, categories.length - 0.4], yTicks: categories.map((_, i) => yOf(i)), yLabels: true });
    categories.forEach((c, i) => f.root.append(svg("text", { x: MARGIN.left - 8, y: f.y(i), "text-anchor": "end", "dominant-baseline": "middle", class: "tick category" }, c)));
    const marks = svg("g", { class: "marks" });
    const r = Math.max(1.6, Math.min(4, f.plotW / Math.max(opts.points.length, 1) / 2.2));  // dense runs: smaller marks
    for (const p of opts.points) {
      if (!index.has(p.category)) continue;
      const cx = f.x(p.x), cy = f.y(index.get(p.category));
      const color = p.right === false ? PALETTE.wrong : p.right === true ? PALETTE.right : PALETTE.oracle;
      const group = svg("g", { class: "mark" + (opts.onPick ? " pickable" : ""), "data-step": p.x });
      group.append(svg("title", null, p.label));
      if (p.right === false && index.has(p.oracleCategory)) {
        group.append(svg("circle", { cx, cy: f.y(index.get(p.oracleCategory)), r: r + 1, fill: "none", stroke: PALETTE.oracle, "stroke-width": 1.2, "stroke-dasharray": "2 1.5" }));
      }
      if (p.right === false) {
        group.append(svg("path", { d: `M${cx - r},${cy - r}L${cx + r},${cy + r}M${cx - r},${cy + r}L${cx + r},${cy - r}`, stroke: color, "stroke-width": p.explored ? 1.2 : 2.2 }));
      } else {
        group.append(svg("circle", { cx, cy, r, fill: p.explored ? "#fff" : color, stroke: color, "stroke-width": 1.5 }));
      }
      if (opts.onPick) group.addEventListener("click", () => opts.onPick(p.x));
      marks.append(group);
    }
    f.root.append(marks);
    E.replace(container, legend([
      { label: "right (= oracle)", color: PALETTE.right, kind: "dot" },
      { label: "wrong", color: PALETTE.wrong, kind: "cross" },
      { label: "explored (random)", color: PALETTE.right, kind: "ring" },
      { label: "oracle's choice when wrong", color: PALETTE.oracle, kind: "dashring" },
    ]), f.root);
  }

  /** Per-step values of run A (x) against run B (y), with the y = x diagonal. points: [{x, y, step, differs, label}] */
  function scatter(container, opts) {
    const all = opts.points.flatMap((p) => [p.x, p.y]);
    const [lo, hi] = extent(all, 0.05);
    const f = frame(container, { ...opts, height: opts.height || 320, x: [lo, hi], y: [lo, hi] });
    f.root.append(svg("line", { x1: f.x(lo), y1: f.y(lo), x2: f.x(hi), y2: f.y(hi), stroke: PALETTE.oracle, "stroke-dasharray": "5 4" }));
    const marks = svg("g", { class: "marks" });
    for (const p of opts.points) {
      if (!E.isNumber(p.x) || !E.isNumber(p.y)) continue;
      const dot = svg("circle", { cx: f.x(p.x), cy: f.y(p.y), r: 4, fill: p.differs ? PALETTE.b : PALETTE.a, "fill-opacity": 0.7, stroke: "#fff", "stroke-width": 0.8, class: "pickable", "data-step": p.step });
      dot.append(svg("title", null, p.label));
      if (opts.onPick) dot.addEventListener("click", () => opts.onPick(p.step));
      marks.append(dot);
    }
    f.root.append(marks);
    E.replace(container, legend([
      { label: "same decision", color: PALETTE.a, kind: "dot" },
      { label: "different decisions", color: PALETTE.b, kind: "dot" },
      { label: "above the diagonal: B earned more", color: PALETTE.oracle, kind: "dash" },
    ]), f.root);
  }

  E.charts = { line, decisions, scatter, ticks, PALETTE };
})(window.EdgeICL);
