"use strict";
// Filter expressions over a table's columns, e.g.
//   service == "reasoning" and action != oracle_action
// A small recursive-descent parser (no eval, no Function): comparisons == != < <= > >=,
// and / or / not, parentheses, numbers, "strings" or 'strings', true / false / null,
// and column names (letters, digits, _ and ., as in A.reward on the compare page).
// Grammar:  or := and ("or" and)* ; and := not ("and" not)* ; not := "not" not | cmp ;
//           cmp := value (op value)? ; value := number | string | name | "-" value | "(" or ")"
(function (E) {
  class ExprError extends Error {}

  const KEYWORDS = { and: "and", or: "or", not: "not", true: "literal", false: "literal", null: "literal" };
  const LITERALS = { true: true, false: false, null: null };

  function tokenize(source) {
    const tokens = [];
    let i = 0;
    while (i < source.length) {
      const c = source[i];
      if (/\s/.test(c)) { i++; continue; }
      const two = source.slice(i, i + 2);
      if (two === "==" || two === "!=" || two === "<=" || two === ">=") { tokens.push({ type: "op", value: two, pos: i }); i += 2; continue; }
      if (c === "<" || c === ">") { tokens.push({ type: "op", value: c, pos: i }); i++; continue; }
      if (c === "(" || c === ")" || c === "-") { tokens.push({ type: c, pos: i }); i++; continue; }
      if (c === "=") throw new ExprError(`'=' at position ${i + 1}: compare with '=='`);
      if (two === "&&" || two === "||") throw new ExprError(`'${two}' at position ${i + 1}: write '${two === "&&" ? "and" : "or"}'`);
      if (c === "!") throw new ExprError(`'!' at position ${i + 1}: write 'not', or '!=' to compare`);
      if (c === '"' || c === "'") {
        let j = i + 1;
        let text = "";
        while (j < source.length && source[j] !== c) {
          if (source[j] === "\\" && j + 1 < source.length) j++;
          text += source[j];
          j++;
        }
        if (j >= source.length) throw new ExprError(`string opened at position ${i + 1} is not closed`);
        tokens.push({ type: "literal", value: text, pos: i });
        i = j + 1;
        continue;
      }
      const number = /^(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?/.exec(source.slice(i));
      if (number) {
        if (/^[A-Za-z_]/.test(source.slice(i + number[0].length))) throw new ExprError(`bad number at position ${i + 1}`);
        tokens.push({ type: "literal", value: Number(number[0]), pos: i });
        i += number[0].length;
        continue;
      }
      const name = /^[A-Za-z_][A-Za-z0-9_.]*/.exec(source.slice(i));
      if (name) {
        const word = name[0];
        const kind = Object.prototype.hasOwnProperty.call(KEYWORDS, word) ? KEYWORDS[word] : "name";
        tokens.push(kind === "literal" ? { type: "literal", value: LITERALS[word], pos: i } : { type: kind, value: word, pos: i });
        i += word.length;
        continue;
      }
      throw new ExprError(`unexpected '${c}' at position ${i + 1}`);
    }
    tokens.push({ type: "end", pos: source.length });
    return tokens;
  }

  function describe(token) {
    if (token.type === "end") return "the end";
    if (token.type === "literal") return typeof token.value === "string" ? `"${token.value}"` : String(token.value);
    return `'${token.value !== undefined ? token.value : token.type}'`;
  }

  function parse(source) {
    const tokens = tokenize(source);
    let at = 0;
    const peek = () => tokens[at];
    const next = () => tokens[at++];
    const expect = (type, what) => {
      const token = next();
      if (token.type !== type) throw new ExprError(`expected ${what} at position ${token.pos + 1}, found ${describe(token)}`);
      return token;
    };
    function orExpr() {
      let left = andExpr();
      while (peek().type === "or") { next(); left = { type: "or", left, right: andExpr() }; }
      return left;
    }
    function andExpr() {
      let left = notExpr();
      while (peek().type === "and") { next(); left = { type: "and", left, right: notExpr() }; }
      return left;
    }
    function notExpr() {
      if (peek().type === "not") { next(); return { type: "not", arg: notExpr() }; }
      return comparison();
    }
    function comparison() {
      const left = value();
      if (peek().type !== "op") return left;
      const op = next().value;
      return { type: "cmp", op, left, right: value() };
    }
    function value() {
      const token = next();
      if (token.type === "literal") return { type: "literal", value: token.value };
      if (token.type === "name") return { type: "name", name: token.value, pos: token.pos };
      if (token.type === "-") return { type: "neg", arg: value() };
      if (token.type === "(") { const inner = orExpr(); expect(")", "')'"); return inner; }
      throw new ExprError(`expected a value at position ${token.pos + 1}, found ${describe(token)}`);
    }
    const tree = orExpr();
    if (peek().type !== "end") throw new ExprError(`unexpected ${describe(peek())} at position ${peek().pos + 1}`);
    return tree;
  }

  function checkNames(node, known) {
    if (!node || typeof node !== "object") return;
    if (node.type === "name" && !known.has(node.name)) {
      const list = [...known];
      const shown = list.slice(0, 40).join(", ") + (list.length > 40 ? ", …" : "");
      throw new ExprError(`unknown column '${node.name}' at position ${node.pos + 1}; columns: ${shown}`);
    }
    for (const child of [node.left, node.right, node.arg]) checkNames(child, known);
  }

  // Comparison: numbers (and numeric text, and booleans as 1/0) compare as numbers,
  // anything else as text; null equals only null and is neither smaller nor larger.
  function asNumber(v) {
    if (typeof v === "number") return v;
    if (typeof v === "boolean") return v ? 1 : 0;
    if (typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v))) return Number(v);
    return null;
  }
  function compare(op, a, b) {
    if (a === null || a === undefined || b === null || b === undefined) {
      const equal = (a === null || a === undefined) && (b === null || b === undefined);
      return op === "==" ? equal : op === "!=" ? !equal : false;
    }
    let x, y;
    const na = asNumber(a), nb = asNumber(b);
    if (na !== null && nb !== null && (typeof a !== "string" || typeof b !== "string")) { x = na; y = nb; }
    else if (typeof a === "boolean" || typeof b === "boolean") { x = String(a); y = String(b); }
    else if (typeof a === "string" && typeof b === "string") { x = a; y = b; }
    else { x = String(a); y = String(b); }
    switch (op) {
      case "==": return x === y;
      case "!=": return x !== y;
      case "<": return x < y;
      case "<=": return x <= y;
      case ">": return x > y;
      default: return x >= y;
    }
  }
  function truthy(v) {
    if (v === null || v === undefined) return false;
    if (typeof v === "string") return v !== "" && v !== "0" && v.toLowerCase() !== "false";
    return Boolean(v);
  }
  function evaluate(node, row) {
    switch (node.type) {
      case "literal": return node.value;
      case "name": return Object.prototype.hasOwnProperty.call(row, node.name) ? row[node.name] : null;
      case "neg": { const v = asNumber(evaluate(node.arg, row)); return v === null ? null : -v; }
      case "not": return !truthy(evaluate(node.arg, row));
      case "and": return truthy(evaluate(node.left, row)) && truthy(evaluate(node.right, row));
      case "or": return truthy(evaluate(node.left, row)) || truthy(evaluate(node.right, row));
      case "cmp": return compare(node.op, evaluate(node.left, row), evaluate(node.right, row));
      default: throw new ExprError("unknown node " + node.type);
    }
  }

  /**
   * Compile `source` into a row test; `columns` are the names it may use.
   * An empty expression keeps every row. Throws ExprError with a one-line message.
   */
  function compile(source, columns) {
    if (!source || !source.trim()) return () => true;
    const tree = parse(source);
    checkNames(tree, new Set(columns));
    return (row) => truthy(evaluate(tree, row));
  }

  E.expr = { compile, parse, tokenize, ExprError };
})(window.EdgeICL);
