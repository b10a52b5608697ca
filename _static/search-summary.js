/*
 * Search result excerpts without raw TeX (loaded on search.html only, by
 * sphinxext/html_fixes.py, which stops the build on a Sphinx other than the one this was
 * checked against).
 *
 * Sphinx's searchtools.js fetches each result page and cuts the excerpt from the text of
 * its main block (Search.htmlToText), where a formula is still its TeX source:
 * "\(\mathrm{d}y\)". This wraps Search.htmlToText and first replaces every formula
 * (Sphinx's .math elements) by a plain-text reading: "dy", "σ²", "x Wᵀ + b".
 */
(() => {
  "use strict";
  if (typeof Search !== "object" || typeof Search.htmlToText !== "function" ||
      Search.htmlToText.length !== 2) {
    // A Sphinx whose searchtools.js changed: say so on the console (the tests fail on it).
    console.error("search-summary.js: Search.htmlToText(html, anchor) not found; update it");
    return;
  }

  const SYMBOLS = {
    alpha: "α", beta: "β", gamma: "γ", delta: "δ", epsilon: "ε", varepsilon: "ε", zeta: "ζ",
    eta: "η", theta: "θ", kappa: "κ", lambda: "λ", mu: "μ", nu: "ν", xi: "ξ", pi: "π",
    rho: "ρ", sigma: "σ", tau: "τ", phi: "φ", varphi: "φ", chi: "χ", psi: "ψ", omega: "ω",
    Gamma: "Γ", Delta: "Δ", Theta: "Θ", Lambda: "Λ", Sigma: "Σ", Phi: "Φ", Psi: "Ψ", Omega: "Ω",
    partial: "∂", nabla: "∇", sum: "Σ", prod: "∏", int: "∫", infty: "∞", ell: "ℓ",
    cdot: "·", times: "×", odot: "⊙", otimes: "⊗", circ: "∘", ast: "∗", star: "⋆", pm: "±",
    le: "≤", leq: "≤", ge: "≥", geq: "≥", ne: "≠", neq: "≠", approx: "≈", sim: "∼",
    propto: "∝", in: "∈", to: "→", rightarrow: "→", leftarrow: "←", mapsto: "↦",
    dots: "…", ldots: "…", cdots: "⋯", top: "ᵀ", sqrt: "√", lVert: "‖", rVert: "‖",
    Vert: "‖", lvert: "|", rvert: "|", lfloor: "⌊", rfloor: "⌋", lceil: "⌈", rceil: "⌉",
    setminus: "∖", gtrsim: "≳", mid: "|", quad: " ", qquad: " ",
  };
  const OPERATORS = new Set(["tanh", "sinh", "cosh", "sin", "cos", "exp", "log", "ln", "max",
                             "min", "arg", "det", "lim", "sup", "inf"]);
  const SUPERSCRIPTS = {"0": "⁰", "1": "¹", "2": "²", "3": "³", "4": "⁴", "5": "⁵",
                        "6": "⁶", "7": "⁷", "8": "⁸", "9": "⁹", "T": "ᵀ", "-": "⁻"};

  // A reading of a TeX formula as plain text: not typeset, but no backslashes or braces.
  const texToText = (tex) => {
    let text = tex
      .replace(/\\\\(\[[^\]]*\])?/g, " ")                  // line breaks
      .replace(/\\[()[\]]/g, "")                         // \( \) \[ \] delimiters
      .replace(/\\(?:begin|end)\{[^}]*\}/g, " ")            // environments
      .replace(/\\[,;:! ]|&|~/g, " ");                     // spacing, column breaks
    for (let i = 0; i < 5; i++)  // innermost braces first
      text = text
        .replace(/\\(?:mathrm|mathbf|mathbb|mathcal|boldsymbol|operatorname|text|textrm|texttt|hat|tilde|bar)\s*\{([^{}]*)\}/g, "$1")
        .replace(/\\sqrt\s*\{([^{}]*)\}/g, (_, a) => (/^\w+$/.test(a) ? `√${a}` : `√(${a})`))
        .replace(/\\[dt]?frac\s*\{([^{}]*)\}\s*\{([^{}]*)\}/g, (_, a, b) =>
        `${/^\w+$/.test(a) ? a : `(${a})`}/${/^\w+$/.test(b) ? b : `(${b})`}`);
    text = text
      .replace(/\^\{?\\top\}?/g, "ᵀ")
      .replace(/\^(?:\{([-0-9T]+)\}|([0-9T]))/g, (_, a, b) =>
        [...(a || b)].map((c) => SUPERSCRIPTS[c]).join(""))
      .replace(/\\([A-Za-z]+)/g, (_, name) =>
        SYMBOLS[name] ?? (OPERATORS.has(name) ? name : ""))  // other commands: argument kept
      .replace(/\\([{}|%$#_])/g, "$1")
      .replace(/_\{([^{}]*)\}/g, (_, sub) => (/^\w+$/.test(sub) ? `_${sub}` : `_(${sub})`))
      .replace(/[{}]/g, "")
      .replace(/\s+/g, " ")
      .trim();
    return text;
  };

  const htmlToText = Search.htmlToText;
  Search.htmlToText = (htmlString, anchor) => {
    const page = new DOMParser().parseFromString(htmlString, "text/html");
    page.querySelectorAll(".math .eqno").forEach((number) => number.remove());
    page.querySelectorAll(".math").forEach((math) => {
      math.textContent = ` ${texToText(math.textContent)} `;
    });
    return htmlToText(page.documentElement.outerHTML, anchor);
  };
  Search.texToText = texToText;  // for the tests
})();
