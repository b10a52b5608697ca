// Figures and display equations (sphinxext/figures.py).
//
// The browser scrolls to the element named in the address (#equation-...) as soon as the
// page has loaded, before MathJax has typeset the formulas: typesetting changes the height of
// everything above, and the target ends up far from the top of the window. Scroll to it again
// once MathJax has laid out the page, unless the reader has scrolled since. A formula too
// wide for the screen scrolls inside its own box (figures.css): that box must be reachable
// with the keyboard.
(function () {
  "use strict";

  function target() {
    if (!location.hash) return null;
    try {
      return document.getElementById(decodeURIComponent(location.hash.slice(1)));
    } catch (e) {
      return null;
    }
  }

  function focusableScrollers() {
    for (const box of document.querySelectorAll('div.math > mjx-container[display="true"]')) {
      if (box.scrollWidth > box.clientWidth + 1 && !box.hasAttribute("tabindex")) {
        box.setAttribute("tabindex", "0");
      }
    }
  }

  function afterMath(callback) {
    const started = Date.now();
    (function wait() {
      const mathjax = window.MathJax;
      if (mathjax && mathjax.startup && mathjax.startup.promise) {
        mathjax.startup.promise.then(callback, callback);
      } else if (Date.now() - started < 60000) {
        setTimeout(wait, 50);
      }
    })();
  }

  let readerScrolled = false;
  for (const event of ["wheel", "touchmove", "keydown", "mousedown"]) {
    window.addEventListener(event, () => { readerScrolled = true; }, { passive: true, once: true });
  }

  function land() {
    const element = target();
    if (element && !readerScrolled) {
      // "instant": Furo asks for smooth scrolling, which would still be under way when the
      // layout settles; the target keeps Furo's scroll-margin-top (room for its header)
      element.scrollIntoView({ block: "start", behavior: "instant" });
    }
  }

  const loaded = new Promise((resolve) => {
    if (document.readyState === "complete") resolve();
    else window.addEventListener("load", resolve, { once: true });
  });
  afterMath(() => {
    // webfonts and images may still change the layout after typesetting: wait for them too
    const fonts = document.fonts ? document.fonts.ready : Promise.resolve();
    Promise.all([fonts, loaded]).then(() => {
      focusableScrollers();
      land();
      document.documentElement.dataset.mathLaidOut = "true";
    });
  });
})();
