// The landing table (table.cheatsheet, index.rst).
//
// 1. Its formulas keep their scripts legible: MathJax shrinks a script of a script (the
//    subscripts inside a fraction, the i of e^{x_i}) to half the text size, about 2.4 pt
//    once the table is printed on one page. For the math inside the table only, scripts
//    stop at 71 % of the text size (MathML's scriptminsize), as a first-level script.
// 2. On a narrow screen the table scrolls sideways: its wrapper then gets the class
//    "scrolls" (a shadow at the edge, see cheatsheet.css) and a line above it says so.
//
// Loaded on every page, after the MathJax configuration and before MathJax itself runs.
(function () {
  "use strict";

  var SCRIPT_MIN_SIZE = ".71em";

  function inCheatsheet(math) {
    var node = math && math.start && math.start.node;
    var element = node && (node.nodeType === 1 ? node : node.parentElement);
    return Boolean(element && element.closest && element.closest("table.cheatsheet"));
  }

  if (window.MathJax && !window.MathJax.version) {
    var startup = window.MathJax.startup || {};
    var previousReady = startup.ready;
    startup.ready = function () {
      if (previousReady) previousReady();
      else window.MathJax.startup.defaultReady();
      var input = window.MathJax.startup.input || [];
      input.forEach(function (jax) {
        if (!jax.postFilters) return;
        jax.postFilters.add(function (args) {
          if (!inCheatsheet(args.math)) return;
          var root = (args.data && args.data.root) || args.math.root;
          root.walkTree(function (node) {
            node.attributes.set("scriptminsize", SCRIPT_MIN_SIZE);
          });
        });
      });
    };
    window.MathJax.startup = startup;
  }

  function markScrolling() {
    document.querySelectorAll("table.cheatsheet").forEach(function (table) {
      var wrapper = table.parentElement;
      var scrolls = wrapper.scrollWidth > wrapper.clientWidth + 1;
      wrapper.classList.toggle("scrolls", scrolls);
      var hint = wrapper.previousElementSibling;
      if (!hint || !hint.classList.contains("cheatsheet-scroll-hint")) {
        hint = document.createElement("p");
        hint.className = "cheatsheet-scroll-hint";
        hint.textContent = "The table scrolls sideways \u2192 (the Layer column stays in view).";
        wrapper.parentElement.insertBefore(hint, wrapper);
      }
      hint.hidden = !scrolls;
    });
  }

  function start() {
    markScrolling();
    window.addEventListener("resize", markScrolling);
    // typeset math changes the widths
    if (window.MathJax && window.MathJax.startup && window.MathJax.startup.promise) {
      window.MathJax.startup.promise.then(markScrolling);
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
