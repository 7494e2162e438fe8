"use strict";
// The viewer's namespace and the helpers every page uses.
// Text from a run (prompts, replies, config values, column values) reaches the page only
// as text nodes or through setAttribute on an allow-list of attributes: never parsed as HTML,
// never an event-handler attribute, never a URL that is not one of the page's own.
window.EdgeICL = {};
(function (E) {
  const SVG_NS = "http://www.w3.org/2000/svg";
  const ATTRIBUTES = new Set([
    "class", "id", "href", "src", "alt", "title", "type", "value", "placeholder", "for", "name", "colspan",
    "role", "tabindex", "checked", "disabled", "selected", "spellcheck", "autocomplete", "min", "max", "step",
    "width", "height", "viewBox", "x", "y", "x1", "x2", "y1", "y2", "cx", "cy", "r", "d", "points", "fill",
    "stroke", "stroke-width", "stroke-dasharray", "text-anchor", "dominant-baseline", "transform", "opacity",
    "fill-opacity", "rx", "preserveAspectRatio", "loading", "target", "rel", "open", "scope", "size", "hidden",
  ]);
  const OWN_URL = /^(#|files\/|static\/|data\/)/;

  function setAttributes(node, attrs) {
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "on") {
        for (const [event, handler] of Object.entries(value)) node.addEventListener(event, handler);
      } else if (key === "style") {
        for (const [prop, v] of Object.entries(value)) node.style.setProperty(prop, String(v));
      } else if (key.startsWith("data-") || key.startsWith("aria-") || ATTRIBUTES.has(key)) {
        const text = value === true ? "" : String(value);
        if ((key === "href" || key === "src") && !OWN_URL.test(text)) throw new Error("not one of the page's own URLs: " + text);
        node.setAttribute(key, text);
      } else {
        throw new Error("attribute not allowed: " + key);
      }
    }
  }

  function appendChildren(node, children) {
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      if (Array.isArray(child)) appendChildren(node, child);
      else if (child instanceof Node) node.appendChild(child);
      else node.appendChild(document.createTextNode(String(child)));
    }
    return node;
  }

  /** An HTML element; strings among the children become text nodes. */
  E.el = function (tag, attrs, ...children) {
    const node = document.createElement(tag);
    setAttributes(node, attrs);
    return appendChildren(node, children);
  };
  /** An SVG element; strings among the children become text nodes. */
  E.svg = function (tag, attrs, ...children) {
    const node = document.createElementNS(SVG_NS, tag);
    setAttributes(node, attrs);
    return appendChildren(node, children);
  };
  E.clear = function (node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  };
  E.replace = function (node, ...children) {
    return appendChildren(E.clear(node), children);
  };

  /** A value as the page prints it: numbers to a few significant digits, null as a dash. */
  E.fmt = function (value) {
    if (value === null || value === undefined || value === "") return "–";
    if (typeof value === "boolean") return value ? "true" : "false";
    if (typeof value === "number") {
      if (Number.isInteger(value)) return String(value);
      const size = Math.abs(value);
      if (size >= 1e5) return value.toFixed(0);
      if (size >= 100) return value.toFixed(1);
      if (size >= 1) return value.toFixed(3);
      if (size >= 1e-3) return value.toFixed(4);
      return size === 0 ? "0" : value.toExponential(2);
    }
    if (typeof value === "object") return JSON.stringify(value);
    return String(value);
  };
  E.isNumber = (value) => typeof value === "number" && Number.isFinite(value);
  /** Why a run list entry is not valid (its `fallback_share` above `max_fallback_share`, agent/fallback_share.py). */
  E.invalidReason = (entry) =>
    `the fallback made ${E.isNumber(entry.fallback_share) ? Math.round(entry.fallback_share * 100) + "%" : "most"} of the LLM decisions, ` +
    `above max_fallback_share ${E.fmt(entry.max_fallback_share)}: not a result of the LLM`;
  E.same = (a, b) => (a === null || a === undefined ? null : String(a)) === (b === null || b === undefined ? null : String(b));

  // --- the page's state lives in the URL: #/<page>?<params> ---------------------------
  E.state = {
    read() {
      const hash = location.hash.replace(/^#/, "");
      const cut = hash.indexOf("?");
      const page = (cut < 0 ? hash : hash.slice(0, cut)) || "/";
      return { page, params: new URLSearchParams(cut < 0 ? "" : hash.slice(cut + 1)) };
    },
    href(page, params) {
      const query = new URLSearchParams(params).toString();
      return "#" + page + (query ? "?" + query : "");
    },
    /** Change some parameters of the current page without rebuilding it (push: a new history entry). */
    update(changes, push) {
      const { page, params } = E.state.read();
      for (const [key, value] of Object.entries(changes)) {
        params.delete(key);
        if (Array.isArray(value)) value.forEach((v) => params.append(key, v));
        else if (value !== null && value !== undefined && value !== "" && value !== false) params.set(key, String(value));
      }
      const hash = E.state.href(page, params);
      if (hash !== location.hash) {
        history[push ? "pushState" : "replaceState"](null, "", hash);
        E.renderedHash = location.hash;
      }
    },
  };

  // --- data: scripts that hand their JSON to EdgeICL.data.receive (file:// cannot fetch) --
  E.data = {
    received: new Map(),
    waiting: new Map(),
    receive(key, value) {
      this.received.set(key, value);
      for (const waiter of this.waiting.get(key) || []) waiter.resolve(value);
      this.waiting.delete(key);
    },
    load(key) {
      if (this.received.has(key)) return Promise.resolve(this.received.get(key));
      return new Promise((resolve, reject) => {
        const first = !this.waiting.has(key);
        if (first) this.waiting.set(key, []);
        this.waiting.get(key).push({ resolve, reject });
        if (!first) return;
        const fail = (why) => {
          for (const waiter of this.waiting.get(key) || []) waiter.reject(new Error(why));
          this.waiting.delete(key);
        };
        const script = document.createElement("script");
        script.src = key;
        script.addEventListener("error", () => { script.remove(); fail("cannot load " + key); });
        script.addEventListener("load", () => { script.remove(); if (this.waiting.has(key)) fail(key + " held no data"); });
        document.head.appendChild(script);
      });
    },
  };

  E.pages = {};
})(window.EdgeICL);
