"""read → verify → figures → emit: the build, one pass per module.

Authors rebuild after every edit, so a build redoes only what the edit touched:

- a stamp of every input (content, configuration, dldeck's own code, options) and every output
  lets an unchanged rebuild stop before importing anything heavy ("up to date"; `inputs`);
- each content file's cards, read and linted, are cached by the file's bytes, the glossary and the
  images it shows, so an edit re-reads only its file (`dldeck.source`, kept as JSON by
  `dldeck.source.codec`);
- claim results are cached per card, keyed by the card's check sources, its file, the facts, the
  time limit and the verifier's code, so an edit re-verifies only the cards it touched (`claims`);
- what a card's claims and figures depend on is described once per card digest (`cardkeys`), so an
  unchanged card costs a look-up, not a walk through its sentences;
- figures are cached per card the same way, and their files by content hash, in figures/ (`figures`);
- formula conversions (KaTeX MathML, TeX → Typst) are cached per formula (`formulas`);
- each card's Anki fields, HTML view and Typst markup are kept per card (`fragments`), keyed by its
  digest, what the claims pass proved about it and its figures, so outputs render only edited cards;
- the PDF is typeset in parts of at least 120 cards, each cached by the hash of its Typst input,
  and joined, so an edit re-typesets one part and the join (`sheetpdf`);
- each of these goes through one `Executor` (`executor`): inputs hashed → result cached → reused.

Caches live in `build/cache/` (see `dldeck.buildcache`); only successes are cached, so a failed
build never poisons them. Heavy libraries (sympy, matplotlib, typst) are imported inside the pass
that needs them, and only when it has work. Work runs side by side on all cores: while worker
processes verify claims, figures are drawn and formulas compiled in forked processes (`child`),
and the PDF's parts and join are typeset in fresh child processes (`dldeck.emit.typeset`, so the
memory Typst holds is returned when each is done) while the deck and HTML are written. Typst's
thread pool does not survive a fork, so nothing is forked to use Typst once it ran. Outputs are
written to a new output folder and switched in as one set by a single rename only when every pass
succeeded (`passes`, which knows the order; `publish`, which switches), so a failed or killed build
leaves the previous outputs untouched.
"""

from dldeck.pipeline.inputs import CONFIG_FILES, MANIFEST_NAME, build_inputs
from dldeck.pipeline.outcome import BuildResult, CheckSummary, Progress, Work
from dldeck.pipeline.passes import BACKENDS, DECK_NAME, build, check

__all__ = ["BACKENDS", "CONFIG_FILES", "DECK_NAME", "MANIFEST_NAME", "BuildResult", "CheckSummary",
           "Progress", "Work", "build", "build_inputs", "check"]
