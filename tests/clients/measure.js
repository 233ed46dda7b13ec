// What a learner would see wrong in one rendered card (Anki's #qa, or one sheet <article>), measured
// in the page by the real client: sideways scrolling, MathJax errors, TeX left as text, broken
// images, and each figure's rendered width. Shared by the Anki desktop add-on and the Chromium test.
// window.__dldeckMeasure(root) → a plain object (JSON-safe).
(() => {
  const TEX_OUTSIDE_MATH = /\\[a-zA-Z]+|\\\(|\\\)|\\\[|\\\]|\$\$/;
  const SLACK = 1; // CSS px of rounding
  const SCROLLS_ON_ITS_OWN = ".math-display, table, pre";

  function mathjaxProblems(root) {
    // MathJax's own tree for each formula in root: the same tests as the build's formula check.
    const out = [];
    if (!(window.MathJax && MathJax.startup && MathJax.startup.document && MathJax.startup.toMML)) return out;
    for (const item of MathJax.startup.document.getMathItemsWithin(root)) {
      const mml = MathJax.startup.toMML(item.root);
      let problem = null;
      let m = /<merror[^>]*data-mjx-error="([^"]*)"/.exec(mml);
      if (m) problem = `MathJax error: ${m[1]}`;
      else if ((m = /<mtext[^>]*mathcolor="red"[^>]*>([^<]*)</.exec(mml))) problem = `unknown macro ${m[1]}`;
      else if ((m = /<mtext[^>]*>([^<]*\\[^<]*)</.exec(mml))) problem = `raw TeX shown as text: ${m[1]}`;
      if (problem) out.push({ tex: item.math, problem });
    }
    return out;
  }

  function textOutsideMath(root) {
    const copy = root.cloneNode(true);
    copy.querySelectorAll("mjx-container, .katex, math, script, style").forEach((el) => el.remove());
    return copy.textContent || "";
  }

  function overflowsSideways(el, limit) {
    const rect = el.getBoundingClientRect();
    return el.scrollWidth > el.clientWidth + SLACK || rect.right > limit + SLACK || rect.left < -SLACK;
  }

  window.__dldeckMeasure = (root) => {
    const doc = document.documentElement;
    const limit = doc.clientWidth; // the viewport less a vertical scrollbar
    const displays = [...root.querySelectorAll(".math-display, mjx-container[display='true']")]
      .filter((el) => el.matches(".math-display") || !el.closest(".math-display"));
    const wideDisplays = displays.filter((el) => overflowsSideways(el, limit))
      .map((el) => Math.round(el.scrollWidth));
    // What pushes the page sideways: anything past the viewport's right edge that is not inside a
    // box that scrolls on its own (display math, tables, code). Outermost offenders only.
    const sticksOut = [];
    for (const el of root.querySelectorAll("*")) {
      if (el.closest(SCROLLS_ON_ITS_OWN) || el.getBoundingClientRect().right <= limit + SLACK) continue;
      if (sticksOut.some((outer) => outer.contains(el))) continue;
      sticksOut.push(el);
    }
    const raw = textOutsideMath(root).match(TEX_OUTSIDE_MATH);
    const images = [...root.querySelectorAll("img")].map((img) => ({
      src: img.getAttribute("src") || "",
      complete: img.complete,
      naturalWidth: img.naturalWidth,
      width: Math.round(img.getBoundingClientRect().width * 100) / 100,
    }));
    return {
      innerWidth: window.innerWidth,
      pageOverflow: Math.max(0, doc.scrollWidth - limit),
      sticksOut: sticksOut.slice(0, 3).map((el) =>
        `${el.tagName.toLowerCase()}${el.className && typeof el.className === "string" ? "." + el.className.split(" ")[0] : ""}`
        + ` to ${Math.round(el.getBoundingClientRect().right)}px`),
      wideDisplays,
      mathjax: !!(window.MathJax && MathJax.startup),
      mathjaxProblems: mathjaxProblems(root),
      rawTex: raw ? raw[0] : null,
      images,
      brokenImages: images.filter((i) => !i.complete || i.naturalWidth === 0).map((i) => i.src.slice(0, 80)),
      background: getComputedStyle(document.body).backgroundColor,
      color: getComputedStyle(root).color,
    };
  };
})();
