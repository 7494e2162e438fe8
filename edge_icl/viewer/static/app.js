"use strict";
// The router: #/ (run list), #/run?run=ID (one run), #/compare?a=ID&b=ID (two runs).
// A page rebuilds when the URL changes from outside (a link, back/forward, a pasted
// address); the pages' own changes of state rewrite the URL without a rebuild.
(function (E) {
  const main = document.getElementById("app");
  let index = null;

  E.setCrumbs = function (items) {
    E.replace(document.getElementById("crumbs"), items.map((item, i) => [
      i ? E.el("span", { class: "sep" }, "›") : null,
      item.href ? E.el("a", { href: item.href }, item.label) : E.el("span", { class: "here" }, item.label)]));
  };

  function failure(error) {
    E.replace(main, E.el("div", { class: "empty error" }, "Cannot show this page: ", String(error && error.message ? error.message : error)));
  }

  E.render = async function (force) {
    if (!force && location.hash === E.renderedHash) return;
    E.renderedHash = location.hash;
    document.body.dataset.ready = "0";
    E.drawer.close(true);
    try {
      if (!index) {
        index = await E.data.load("data/index.js");
        E.replace(document.getElementById("root"), index.root);
      }
      const { page } = E.state.read();
      window.scrollTo(0, 0);
      if (page === "/run") await E.pages.run(main, index);
      else if (page === "/compare") await E.pages.compare(main, index);
      else { E.setCrumbs([{ label: "runs" }]); E.pages.list(main, index); }
      document.body.dataset.page = page;
      document.body.dataset.ready = "1";
    } catch (error) {
      failure(error);
      document.body.dataset.ready = "error";
      throw error;
    }
  };

  window.addEventListener("hashchange", () => E.render());
  window.addEventListener("popstate", () => E.render());
  E.render();
})(window.EdgeICL);
