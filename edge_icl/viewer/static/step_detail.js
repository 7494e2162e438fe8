"use strict";
// One step in full: what was decided and how, the candidate scores or the raw reply,
// latency, tokens, cache, and the whole prompt (stable part found by its hash, and the
// variable part). Every text from the run is shown verbatim, as text.
(function (E) {
  const { el } = E;
  const W = () => E.widgets;
  // Transcript fields laid out by this view; any other field is listed under "other fields".
  const LAID_OUT = new Set(["step", "policy", "seed", "explored", "llm_call", "decision", "parsed_ok", "fallback", "mode",
    "backend", "model", "prompt_hash", "prompt_variable", "prompt_stable", "reply", "scores", "calibration", "score_method",
    "latency_s", "calibration_latency_s", "prompt_tokens", "evaluated_tokens", "completion_tokens", "cache",
    "saved_latency_s", "raw_reply_chars", "censored"]);

  function verdict(view, row) {
    const right = view.decision.right(row);
    if (right === null) return null;
    return right ? W().chip("right: = oracle", "right") : W().chip(`wrong: oracle chose ${E.fmt(view.decision.oracleCategory(row))}`, "wrong");
  }

  function how(line) {
    if (!line) return W().chip("no transcript line (no LLM call)", "muted");
    if (line.explored) return W().chip("explored: random decision, no LLM call", "explored");
    const parts = [W().chip(`LLM call${line.mode ? ` (${line.mode} mode)` : ""}`, "llm")];
    if (line.parsed_ok === false) parts.push(W().chip(`reply named no decision: fallback ${E.fmt(line.fallback)}`, "wrong"));
    if (line.cache) parts.push(W().chip(`cache ${line.cache}`, line.cache === "hit" ? "right" : "muted"));
    return parts;
  }

  function scoresTable(line) {
    const scores = line.scores || {};
    const calibration = line.calibration || null;
    const censored = new Set(Array.isArray(line.censored) ? line.censored.map(String) : []);
    const answers = [...new Set([...Object.keys(scores), ...Object.keys(calibration || {}), ...censored])];
    const adjusted = (a) => (E.isNumber(scores[a]) ? (calibration ? (E.isNumber(calibration[a]) ? scores[a] - calibration[a] : null) : scores[a]) : null);
    const chosen = String(line.decision || "").trim();
    return el("table", { class: "grid-table scores" },
      el("thead", null, el("tr", null, el("th", null, "candidate answer"), el("th", null, "log-prob"),
        calibration ? [el("th", null, "content-free"), el("th", { title: "log-prob minus its content-free log-prob: what the decision compares" }, "calibrated")] : null)),
      el("tbody", null, answers.map((a) => el("tr", { class: a.trim() === chosen ? "chosen" : "" },
        el("td", { class: "mono" }, JSON.stringify(a), a.trim() === chosen ? " ◀ chosen" : "", censored.has(a) ? " (censored)" : ""),
        el("td", { class: "num" }, E.fmt(scores[a])),
        calibration ? [el("td", { class: "num" }, E.fmt(calibration[a])), el("td", { class: "num strong" }, E.fmt(adjusted(a)))] : null))));
  }

  function promptBlock(view, line) {
    const prompt = E.model.prompt(view.run, line);
    if (!prompt) return null;
    return el("div", { class: "prompt" },
      el("h3", null, "Prompt"),
      el("div", { class: "part-head" }, "stable part (task description and pool) · hash ", el("code", null, prompt.hash),
        prompt.firstStep !== null && prompt.firstStep !== undefined ? ` · first sent at step ${prompt.firstStep}` : ""),
      prompt.stable === null ? el("div", { class: "notes" }, "⚠ this hash's stable text is not in the transcript (cut short?)") : W().pre(prompt.stable, "stable"),
      el("div", { class: "part-head" }, "variable part (closest examples and the query)"),
      W().pre(prompt.variable, "variable"));
  }

  /** The full prompt text of a line (stable + variable), or null. */
  function promptText(view, line) {
    const prompt = E.model.prompt(view.run, line);
    return prompt ? `${prompt.stable === null ? "[stable part missing]\n" : prompt.stable}${prompt.variable || ""}` : null;
  }

  function render(view, row) {
    const line = view.lineByStep.get(String(row.__step)) || null;
    const facts = {};
    if (line) {
      for (const key of ["latency_s", "calibration_latency_s", "prompt_tokens", "evaluated_tokens", "completion_tokens", "cache", "saved_latency_s", "raw_reply_chars", "score_method", "backend", "model"]) {
        if (line[key] !== undefined) facts[key] = line[key];
      }
    }
    const other = line ? Object.fromEntries(Object.entries(line).filter(([k]) => !LAID_OUT.has(k))) : {};
    const category = view.decision.category;
    return el("div", { class: "step-detail" },
      el("div", { class: "verdict" },
        category ? el("span", { class: "decision-big" }, E.fmt(row[category])) : null, verdict(view, row), how(line)),
      el("div", { class: "cards small" },
        "reward" in row ? W().card("reward", E.fmt(row.reward), "oracle_reward" in row ? `oracle ${E.fmt(row.oracle_reward)}` : null) : null,
        line && line.latency_s !== undefined ? W().card("latency", `${E.fmt(line.latency_s)} s`, line.calibration_latency_s ? `+ ${E.fmt(line.calibration_latency_s)} s calibration` : null) : null,
        line && line.prompt_tokens !== undefined ? W().card("tokens", `${E.fmt(line.prompt_tokens)} prompt`, `${E.fmt(line.evaluated_tokens)} evaluated · ${E.fmt(line.completion_tokens)} completion`) : null,
        line && line.cache ? W().card("cache", line.cache, line.saved_latency_s !== undefined ? `saved ${E.fmt(line.saved_latency_s)} s` : null) : null),
      line && line.scores ? [el("h3", null, "Candidate scores", line.score_method ? ` (${line.score_method})` : ""), scoresTable(line)] : null,
      line && line.reply !== undefined && line.reply !== null ? [el("h3", null, "Raw reply", line.raw_reply_chars !== undefined ? ` (${line.raw_reply_chars} characters)` : ""), W().pre(line.reply, "reply")] : null,
      line && Array.isArray(line.censored) && line.censored.length && !line.scores ? el("p", null, "censored: ", line.censored.join(", ")) : null,
      promptBlock(view, line),
      el("h3", null, `Step row (${view.tableName || "table"})`),
      W().kvTable(Object.fromEntries([...view.columns, ...Object.keys(view.group)].map((c) => [c, row[c] === undefined ? view.group[c] : row[c]]))),
      line ? [el("h3", null, "Call facts"), W().kvTable(facts)] : null,
      Object.keys(other).length ? [el("h3", null, "Other transcript fields"), W().kvTable(other)] : null);
  }

  E.stepDetail = { render, promptText };
})(window.EdgeICL);
