"use strict";
// Small statistics and text diffs for the pages: means, the paired step difference, the
// trailing moving average, and a line diff of two texts. No interval is computed here: the
// steps of one run are not independent draws; the compare page's interval is over seeds,
// computed in Python with the page data (edge_icl/viewer/seed_pairs.py).
(function (E) {
  function mean(values) {
    return values.length ? values.reduce((s, v) => s + v, 0) / values.length : null;
  }

  /**
   * Paired difference b - a over the steps where both are numbers: its mean, and how often
   * b is larger, equal, smaller. No interval: a learning agent's steps are not independent.
   */
  function pairedDifference(a, b) {
    const diffs = [];
    for (let i = 0; i < a.length; i++) if (E.isNumber(a[i]) && E.isNumber(b[i])) diffs.push(b[i] - a[i]);
    const out = { n: diffs.length, mean: mean(diffs), larger: 0, equal: 0, smaller: 0 };
    for (const d of diffs) {
      if (Math.abs(d) < 1e-9) out.equal++; else if (d > 0) out.larger++; else out.smaller++;
    }
    return out;
  }

  /** Trailing moving average; the first window-1 points average what exists so far (as agent.offloading_bench). */
  function movingAverage(values, window) {
    const out = [];
    let sum = 0, count = 0;
    const kept = [];
    for (const v of values) {
      const x = E.isNumber(v) ? v : null;
      kept.push(x);
      if (x !== null) { sum += x; count++; }
      if (kept.length > window) {
        const gone = kept.shift();
        if (gone !== null) { sum -= gone; count--; }
      }
      out.push(count ? sum / count : null);
    }
    return out;
  }

  /**
   * A side-by-side line diff of two texts (longest common subsequence of lines).
   * Rows: {kind: "same"|"changed"|"removed"|"added", a, b, aLine, bLine}; a run of
   * removed lines next to a run of added ones is paired as changed lines.
   */
  function lineDiff(textA, textB) {
    const a = textA.split("\n"), b = textB.split("\n");
    const n = a.length, m = b.length;
    const lcs = Array.from({ length: n + 1 }, () => new Int32Array(m + 1));
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
    const ops = [];
    let i = 0, j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && a[i] === b[j]) { ops.push({ kind: "same", a: a[i], b: b[j], aLine: i + 1, bLine: j + 1 }); i++; j++; }
      else if (j < m && (i >= n || lcs[i][j + 1] >= lcs[i + 1][j])) { ops.push({ kind: "added", a: null, b: b[j], aLine: null, bLine: j + 1 }); j++; }
      else { ops.push({ kind: "removed", a: a[i], b: null, aLine: i + 1, bLine: null }); i++; }
    }
    const rows = [];
    for (let k = 0; k < ops.length;) {
      if (ops[k].kind === "same") { rows.push(ops[k]); k++; continue; }
      const removed = [], added = [];
      while (k < ops.length && ops[k].kind !== "same") { (ops[k].kind === "removed" ? removed : added).push(ops[k]); k++; }
      for (let p = 0; p < Math.max(removed.length, added.length); p++) {
        const r = removed[p], d = added[p];
        if (r && d) rows.push({ kind: "changed", a: r.a, b: d.b, aLine: r.aLine, bLine: d.bLine });
        else rows.push(r || d);
      }
    }
    return rows;
  }

  E.stats = { mean, pairedDifference, movingAverage, lineDiff };
})(window.EdgeICL);
