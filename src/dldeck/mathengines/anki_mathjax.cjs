// Compile TeX formulas with the MathJax bundle Anki's reviewer loads, configured the way Anki 26.x
// configures it (aqt/data/web/js/mathjax.js: packages +noerrors +mathtools -textmacros), TeX → MathML.
// Reads a JSON array of [tex, display] on stdin; writes a JSON array of problems (null when fine).
// Usage: node anki_mathjax.cjs <mathjax-full>/es5/tex-chtml-full.js
"use strict";
const path = require("path");
const Module = require("module");

const bundle = path.resolve(process.argv[2]);
// The bundle carries the speech rule engine, which asks Node for modules it only needs for speech;
// nothing here speaks, so they resolve to inert stand-ins (and the bundle loads from any folder).
const speechOnly = new Set(["xmldom-sre", "wicked-good-xpath", "commander"]);
const inert = new Proxy(function () {}, {
  get: (target, key) => (key === Symbol.toPrimitive ? () => "" : inert),
  apply: () => inert,
  construct: () => inert,
});
const load = Module._load;
Module._load = function (request, ...rest) {
  return speechOnly.has(request) ? inert : load.call(this, request, ...rest);
};

const packages = ["noerrors", "mathtools"];
global.MathJax = {
  tex: {
    displayMath: [["\\[", "\\]"]],
    processEscapes: false,
    processEnvironments: false,
    processRefs: false,
    packages: { "[+]": packages, "[-]": ["textmacros"] },
  },
  // Anki's loader list names [tex]/noerrors and [tex]/mathtools, which the bundle already holds; Node
  // needs a DOM-free document, the one thing added (from the same MathJax package as the bundle).
  loader: { load: ["adaptors/liteDOM"], paths: { mathjax: path.dirname(bundle) }, require: require },
  startup: { typeset: false },
};

function unescape(text) {
  return text
    .replace(/&#x([0-9A-Fa-f]+);/g, (_, hex) => String.fromCodePoint(parseInt(hex, 16)))
    .replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&amp;/g, "&")
    .trim();
}

// What a learner would see instead of the formula: an error box (noerrors shows the source),
// an unknown macro (noundefined shows it in red), or TeX left as text inside \text{…}.
function problem(mathml) {
  let m = /<merror[^>]*data-mjx-error="([^"]*)"/.exec(mathml);
  if (m) return `MathJax error: ${unescape(m[1])}`;
  m = /<mtext[^>]*mathcolor="red"[^>]*>([^<]*)</.exec(mathml);
  if (m) return `unknown macro ${unescape(m[1])} (shown in red)`;
  m = /<mtext[^>]*>([^<]*\\[^<]*)</.exec(mathml);
  if (m) return `raw TeX shown as text: ${unescape(m[1])}`;
  return null;
}

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  try {
    require(bundle);
  } catch (error) {
    process.stderr.write(`cannot load ${bundle}: ${error.message}\n`);
    process.exit(2);
  }
  MathJax.startup.promise.then(() => {
    const out = JSON.parse(input).map(([tex, display]) => {
      try {
        return problem(MathJax.tex2mml(tex, { display: display }));
      } catch (error) {
        return `MathJax error: ${error.message || error}`;
      }
    });
    process.stdout.write(JSON.stringify({ version: MathJax.version, problems: out }));
  }).catch((error) => {
    process.stderr.write(`MathJax did not start: ${error}\n`);
    process.exit(2);
  });
});
