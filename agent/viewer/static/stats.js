"use strict";
// Small statistics and text diffs for the pages: means, the paired-difference interval,
// the trailing moving average, and a line diff of two texts.
(function (E) {
  // Student's t, 97.5 % quantile, df = 1..30 (scipy.stats.t.ppf(0.975, df)).
  const T975 = [12.706205, 4.302653, 3.182446, 2.776445, 2.570582, 2.446912, 2.364624, 2.306004, 2.262157, 2.228139,
    2.200985, 2.178813, 2.160369, 2.144787, 2.13145, 2.119905, 2.109816, 2.100922, 2.093024, 2.085963, 2.079614,
    2.073873, 2.068658, 2.063899, 2.059539, 2.055529, 2.051831, 2.048407, 2.04523, 2.042272];

  /** The 97.5 % quantile of Student's t with `df` degrees of freedom (Cornish-Fisher expansion above 30). */
  function tQuantile975(df) {
    if (df < 1) return NaN;
    if (df <= 30 && Number.isInteger(df)) return T975[df - 1];
    const z = 1.959963984540054;
    const z3 = z ** 3, z5 = z ** 5, z7 = z ** 7, z9 = z ** 9;
    return z + (z3 + z) / (4 * df) + (5 * z5 + 16 * z3 + 3 * z) / (96 * df ** 2)
      + (3 * z7 + 19 * z5 + 17 * z3 - 15 * z) / (384 * df ** 3)
      + (79 * z9 + 776 * z7 + 1482 * z5 - 1920 * z3 - 945 * z) / (92160 * df ** 4);
  }

  function mean(values) {
    return values.length ? values.reduce((s, v) => s + v, 0) / values.length : null;
  }

  /**
   * Paired difference b - a over the pairs where both are numbers: its mean and 95 %
   * interval (paired t), and how often b is larger, equal, smaller.
   */
  function pairedDifference(a, b) {
    const diffs = [];
    for (let i = 0; i < a.length; i++) if (E.isNumber(a[i]) && E.isNumber(b[i])) diffs.push(b[i] - a[i]);
    const n = diffs.length;
    const m = mean(diffs);
    const out = { n, mean: m, lo: null, hi: null, sd: null, larger: 0, equal: 0, smaller: 0 };
    for (const d of diffs) {
      if (Math.abs(d) < 1e-9) out.equal++; else if (d > 0) out.larger++; else out.smaller++;
    }
    if (n >= 2) {
      const variance = diffs.reduce((s, d) => s + (d - m) ** 2, 0) / (n - 1);
      out.sd = Math.sqrt(variance);
      const half = tQuantile975(n - 1) * out.sd / Math.sqrt(n);
      out.lo = m - half;
      out.hi = m + half;
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

  E.stats = { tQuantile975, mean, pairedDifference, movingAverage, lineDiff };
})(window.EdgeICL);
