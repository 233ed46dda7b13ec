"""Claims through the whole pass (worker processes included): true ones hold, seeded mistakes fail
with the right line and values an author can act on."""

from __future__ import annotations

import pytest

from dldeck.model import Card, CheckBlock, Collection, Paragraph, SourceSpan, Text
from dldeck.verify import ClaimResult, VerifyReport, verify_collection


def make_card(slug: str, *blocks: tuple[int, str], path: str | None = None, order: int = 0) -> Card:
    """A card whose check blocks open at the given fence lines."""
    path = path or f"content/{slug}.md"
    answer = tuple(CheckBlock(source, SourceSpan(path, fence)) for fence, source in blocks)
    answer = (Paragraph((Text("answer"),), SourceSpan(path, 2)),) + answer
    return Card(
        slug, (Text("q"),), answer, (), (), "deck", "", (), (slug,), "basic", SourceSpan(path, 1), order
    )


def verify(*cards: Card, root: str = "", timeout: float = 60.0) -> VerifyReport:
    """Generous limit: these tests are about verdicts, and the suite may share 2 cores with others."""
    return verify_collection(Collection(tuple(cards), root), timeout=timeout, jobs=2)


def by_line(slug: str, source: str) -> dict[int, ClaimResult]:
    """One card with one check block of `source`: its results by line."""
    return {r.line: r for r in verify(make_card(slug, (0, source))).results}


def only(report: VerifyReport, line: int) -> ClaimResult:
    matches = [r for r in report.results if r.line == line]
    assert len(matches) == 1, report.results
    return matches[0]


SYMBOLIC_TRUTHS = """\
sigma(x) := 1/(1 + exp(-x))
softplus(x) := log(1 + exp(x))
diff(sigma(x), x) == sigma(x)*(1 - sigma(x))
diff(tanh(x), x) == 1 - tanh(x)**2
diff(softplus(x), x) == sigma(x)
tanh(x) == 2*sigma(2*x) - 1
subs(diff(sigma(x), x), x, 0) == 1/4
maximum(diff(sigma(x), x), x) == 1/4
argmax(diff(sigma(x), x), x) == 0
diff(sigma(x), x) <= 1/4
sigma(x) > 0
limit(sigma(x), x, oo) == 1
limit(softplus(x) - x, x, oo) == 0
integrate(exp(-x**2), (x, -oo, oo)) == sqrt(pi)
"""


def test_activation_identities_are_proved_symbolically():
    report = verify(make_card("activations", (20, SYMBOLIC_TRUTHS)))
    assert report.ok, report.diagnostics
    claims = [r for r in report.results]
    assert len(claims) == 12
    assert all(r.status == "symbolic" for r in claims), claims
    assert report.count("symbolic") == 12 and report.count("failed") == 0


def test_layer_claims_from_the_format_doc_hold():
    source = """\
assume C, N, K, G: positive integer
params(Conv2d(C, N, K, groups=G, bias=False)) == C*N*K**2/G
params(Conv2d(C, N, K, groups=G, bias=False)) == params(Conv2d(C, N, K, bias=False))/G
output_shape(Conv2d(3, 64, 3, stride=2, padding=1), (1, 3, 224, 224)) == (1, 64, 112, 112)
output_shape(ConvTranspose2d(64, 32, 4, stride=2, padding=1), (1, 64, 56, 56)) == (1, 32, 112, 112)
receptive_field([Conv2d(1, 1, 3), Conv2d(1, 1, 3), Conv2d(1, 1, 3)]) == 7
params(BatchNorm2d(C)) == 2*C
approx(sqrt(2), 1.41421356)
"""
    report = verify(make_card("layers", (30, source)))
    assert report.ok, report.diagnostics
    assert report.count("symbolic") == 7


def test_identity_sympy_cannot_simplify_is_verified_numerically():
    # Hermite's identity: true for all real x, beyond sympy's simplifier.
    report = verify(make_card("hermite", (5, "floor(x) + floor(x + 1/2) == floor(2*x)\n")))
    assert report.ok, report.diagnostics
    assert only(report, 6).status == "numeric"


def test_false_identity_fails_with_a_counterexample():
    report = verify(make_card("floor", (5, "1 == 1\nfloor(x + y) == floor(x) + floor(y)\n")))
    result = only(report, 7)
    assert result.status == "failed"
    assert result.message.startswith("claim does not hold: floor(x + y) == floor(x) + floor(y)")
    assert "at x=" in result.message and ", y=" in result.message and "lhs=" in result.message
    assert [str(d) for d in report.diagnostics] == [f"content/floor.md:7: {result.message}"]
    assert not report.ok


def test_cases_that_leave_a_range_out_fail_but_a_single_point_left_out_holds():
    # ReLU' as cases: leaving out 0 (not differentiable there) is right; leaving out (0, 1] is not,
    # though sympy reads the missing range as undefined, which sampling used to skip
    report = verify(make_card("relu", (5, "diff(Max(0, x), x) == Piecewise((1, x > 0), (0, x < 0))\n"
                                          "diff(Max(0, x), x) == Piecewise((1, x > 1), (0, x < 0))\n")))
    assert only(report, 6).status in ("symbolic", "numeric")
    result = only(report, 7)
    assert result.status == "failed" and "rhs has no value here" in result.message, result.message


def test_a_series_claimed_beyond_where_it_converges_fails():
    report = verify(make_card("geometric", (5, "assume g: positive\n"
                                               "sum(g**k, (k, 0, oo)) == 1/(1 - g)\n")))
    result = only(report, 7)
    assert result.status == "failed" and "lhs has no value here" in result.message, result.message


def test_false_inequality_reports_where_it_breaks():
    report = verify(make_card("bound", (5, "diff(1/(1 + exp(-x)), x) <= 1/5\n")))
    result = only(report, 6)
    assert result.status == "failed" and "at x=" in result.message and "rhs=0.2" in result.message


# --------------------------------------------------------------------------- seeded mistakes


def test_batchnorm_parameters_are_not_twice_the_batch_size():
    source = "assume C, m: positive integer\nparams(BatchNorm2d(C)) == 2*C\nparams(BatchNorm2d(C)) == 2*m\n"
    report = verify(make_card("bn", (40, source)))
    assert only(report, 42).status == "symbolic"
    bad = only(report, 43)
    assert bad.status == "failed"
    assert str(report.diagnostics[0]).startswith(
        "content/bn.md:43: claim does not hold: params(BatchNorm2d(C)) == 2*m — computed 2*C"
    )


def test_adam_eps_written_10e_minus_8_is_caught():
    source = "eps := 10e-8\napprox(1e-8, 1e-8)\napprox(eps, 1e-8, 1e-12)\n"
    report = verify(make_card("adam", (12, source)))
    assert only(report, 14).status == "symbolic"
    bad = only(report, 15)
    assert bad.status == "failed" and "computed 1e-07, expected 1e-08" in bad.message
    assert [d.line for d in report.diagnostics] == [15]


def test_conv_output_size_without_floor_fails():
    source = """\
assume H: positive integer
output_shape(Conv2d(3, 8, 3, stride=2), (1, 3, H, H))[2] == floor((H - 3)/2) + 1
output_shape(Conv2d(3, 8, 3, stride=2), (1, 3, H, H))[2] == (H - 3)/2 + 1
output_shape(Conv2d(3, 8, 3, stride=2), (1, 3, 224, 224)) == (1, 8, (224 - 3)/2 + 1, (224 - 3)/2 + 1)
"""
    report = verify(make_card("conv-floor", (50, source)))
    assert only(report, 52).status in ("symbolic", "numeric")
    symbolic_miss = only(report, 53)
    assert symbolic_miss.status == "failed" and "at H=" in symbolic_miss.message
    numeric_miss = only(report, 54)
    assert numeric_miss.status == "failed"
    assert "computed (1, 8, 111, 111), right side (1, 8, 223/2, 223/2)" in numeric_miss.message
    assert [d.line for d in report.diagnostics] == [53, 54]


def test_dilated_three_by_three_spans_five_not_seven():
    source = (
        "receptive_field([Conv2d(1, 1, 3, dilation=2)]) == 5\n"
        "receptive_field([Conv2d(1, 1, 3, dilation=2)]) == 7\n"
    )
    report = verify(make_card("dilation", (8, source)))
    assert only(report, 9).status == "symbolic"
    assert only(report, 10).status == "failed"
    assert "computed 5, right side 7" in only(report, 10).message


# --------------------------------------------------------------------------- language features in claims


def test_definitions_chain_across_blocks_of_one_card_only():
    first = make_card("one", (10, "k := 3\n"), (20, "f(x) := k*x\nf(2) == 6\n"))
    second = make_card("two", (10, "k == 3\n"), order=1)
    report = verify(first, second)
    assert only(report, 22).status == "symbolic"
    other = [r for r in report.results if r.slug == "two"][0]
    assert other.status == "failed"  # `k` is just a symbol in another card


def test_tuples_inequalities_and_not_equal():
    source = """\
(1, 2) == [1, 2]
(1, 2) == (1, 2, 3)
x**2 + 1 > 0
1/4 < 1/5
exp(x) != 0
sin(x)**2 + cos(x)**2 != 1
assume n: positive integer
sum(k, (k, 1, n)) == n*(n + 1)/2
n**2 >= n
"""
    report = verify(make_card("misc", (0, source)))
    statuses = {r.line: r.status for r in report.results}
    assert statuses == {
        1: "symbolic",
        2: "failed",
        3: "symbolic",
        4: "failed",
        5: "symbolic",
        6: "failed",
        8: "symbolic",
        9: "symbolic",
    }


def test_facts_are_read_from_the_reviewed_table(tmp_path):
    facts = tmp_path / "content" / "_facts"
    facts.mkdir(parents=True)
    (facts / "frameworks.toml").write_text(
        '["keras.optimizer.clipnorm.default"]\nvalue = "None"\nsource = "Keras API docs"\n\n'
        '["inception-v4.residual"]\nvalue = false\nsource = "Szegedy et al. 2016"\n\n'
        '["adam.eps.default"]\nvalue = 1e-8\nsource = "torch.optim.Adam docs"\n',
        encoding="utf-8",
    )
    source = """\
fact('keras.optimizer.clipnorm.default') == 'None'
fact('inception-v4.residual') == False
fact('inception-v4.residual') == True
approx(fact('adam.eps.default'), 1e-8, 1e-20)
fact('no.such.key') == 1
"""
    report = verify(make_card("facts", (0, source)), root=str(tmp_path))
    statuses = {r.line: r.status for r in report.results}
    assert statuses == {1: "symbolic", 2: "symbolic", 3: "failed", 4: "symbolic", 5: "error"}
    assert "unknown fact «no.such.key»" in only(report, 5).message


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("x ==\n", "cannot parse «x ==»"),
        ("sigma(x)\n", "a claim must be a comparison"),
        ("gamma(x) == 1\n", "unknown function «gamma»"),
        ("Conv2d(3, 8, 3, strides=2) == 1\n", "unexpected keyword argument 'strides'"),
        ("params(Conv2d(3, 8, 3, groups=2)) == 1\n", "in_channels must be divisible by groups"),
        ("assume x: fuzzy\n", "unknown assumption «fuzzy»"),
    ],
)
def test_malformed_claims_are_errors_naming_the_line(source: str, fragment: str):
    report = verify(make_card("bad", (3, "1 == 1\n" + source)))
    errors = [r for r in report.results if r.status == "error"]
    assert len(errors) == 1 and fragment in errors[0].message, report.results
    assert errors[0].line == 5
    assert str(report.diagnostics[0]).startswith("content/bad.md:5: ")


def test_a_failed_definition_is_named_by_later_uses():
    report = verify(make_card("broken", (0, "k := gamma(3)\nk == 2\n")))
    assert only(report, 2).status == "error"
    assert "definition on line 1 failed" in only(report, 2).message


def test_reports_are_deterministic():
    source = "floor(x + y) == floor(x) + floor(y)\nfloor(x) + floor(x + 1/2) == floor(2*x)\nx**2 >= 1\n"
    cards = [make_card(f"c{i}", (0, source), order=i) for i in range(3)]
    assert verify(*cards) == verify(*cards)


def test_infinite_limits_compare_as_values():
    source = "limit(1/x**2, x, 0) == oo\nlimit(-log(x), x, 0, '+') == oo\nlimit(x, x, oo) == -oo\n"
    report = verify(make_card("infinite", (5, source)))
    assert only(report, 6).status == "symbolic"
    assert only(report, 7).status == "symbolic"
    failed = only(report, 8)
    assert failed.status == "failed" and "computed oo, right side -oo" in failed.message


def test_not_equal_with_free_symbols_is_solved_not_sampled():
    """Random points almost never land where two expressions agree: a `!=` is proved by solving, and a
    solution (or a bisected zero) is the counterexample."""
    source = """\
q != p
d != 768
x**2 != -1
assume n: positive integer
2*n != 5
n != 3
1/(1 + exp(-x)) != x/4 + 1/4
1/(1 + exp(-x)) != x
(q, 1) != (2, 1)
q != (1, 2)
(q, p) != (p + 1, q)
"""
    report = verify(make_card("ne", (0, source)))
    results = {r.line: r for r in report.results}
    assert {line: r.status for line, r in results.items()} == {
        1: "failed", 2: "failed", 3: "symbolic", 5: "symbolic", 6: "failed", 7: "failed", 8: "failed",
        9: "failed", 10: "failed", 11: "symbolic"}
    assert "at d=768" in results[2].message
    assert "at n=3" in results[6].message
    assert "at q=(1, 2)" in results[10].message


def test_not_equal_under_a_condition_fails_where_the_condition_makes_the_sides_agree():
    """`Piecewise((w*Max(0, b), b < 0), (1, True)) != 0`: zero on a whole region (b < 0), which no
    sign change shows; a sample point there is the counterexample. The third is `若 u>0, FFN(x)≠…`
    read with its condition: sympy's solveset calls its zeros in V none, and a sample point refutes it."""
    source = ("Piecewise((w*Max(0, b), b < 0), (1, True)) != 0\n"
              "Piecewise((w*Max(0, b) + 1, b < 0), (1, True)) != 0\n"
              "u := x*W + b\n"
              "Piecewise((Max(0, u)*V + c, u > 0), (u*V + c + 1, True)) != u*V + c\n")
    results = verify(make_card("region", (0, source))).results
    statuses = [r.status for r in results]
    assert statuses[0] == "failed" and statuses[1] != "failed"
    assert statuses[2] == "failed" and "both sides are" in results[2].message


def test_a_limit_in_a_parameter_is_checked_where_it_is_infinite():
    """sympy writes lim w^T (T → oo) as exp(oo*sign(log(w))): +oo for w > 1 is a value, not a hole in the
    claim, and the expression's "nonzero" assumption does not hold (it is 0 for |w| < 1)."""
    source = """\
assume w: positive
Piecewise((limit(w**T, T, oo), w < 1), (0, True)) == 0
Piecewise((limit(w**T, T, oo), w < 2), (0, True)) == 0
Piecewise((limit(w**T, T, oo), w < 1), (1, True)) != 0
limit(w**T, T, oo) < 1
"""
    statuses = {r.line: r.status for r in verify(make_card("limits", (0, source))).results}
    assert statuses[2] in ("symbolic", "numeric")
    assert statuses[3] == "failed"
    assert statuses[4] == "failed"
    assert statuses[5] == "failed"


def test_simplify_is_remembered_per_expression_with_its_assumptions() -> None:
    """A worker simplifies an expression once; one over a symbol with other assumptions is another."""
    import sympy

    from dldeck.verify.values import simplified

    plain, positive = sympy.Symbol("x"), sympy.Symbol("x", positive=True)
    first = simplified(sympy.sqrt(plain**2))
    assert simplified(sympy.sqrt(plain**2)) is first  # the same answer, not simplified again
    assert first == sympy.sqrt(plain**2)  # x may be complex: nothing to simplify
    assert simplified(sympy.sqrt(positive**2)) == positive
    assert simplified(sympy.Float(2.0) * plain) != simplified(2 * plain)  # 2.0·x is not 2·x


def test_a_strict_bound_reached_only_in_a_limit_is_proved_and_a_reached_one_fails_where_it_is():
    """`tanh(x) < 1`: the supremum 1 is a limit, never a value, so the claim is proved (not only
    sampled); `x**2/(1 + x**2) < 1` likewise. `-(x - 3)**2 < 0` reaches its bound at x = 3, and
    `sin(x) < 1` at π/2: that point is the counterexample, wherever the sample grid lies."""
    source = ("tanh(x) < 1\n"
              "x**2/(1 + x**2) < 1\n"
              "-(x - 3)**2 < 0\n"
              "-1 < tanh(x)\n"
              "sin(x) < 1\n"
              "sin(x) != 1\n"
              "abs(sin(x)) < 1\n")
    results = by_line("bounds", source)
    assert [results[line].status for line in (1, 2, 4)] == ["symbolic"] * 3, results
    assert results[3].status == "failed" and "x=3" in results[3].message.replace(" ", ""), results[3]
    # sin reaches 1 at 2nπ + π/2, between any grid's points: solveset's periodic answer gives the point
    assert results[5].status == "failed" and "x=1.5708" in results[5].message, results[5]
    assert results[6].status == "failed" and "x=1.5708" in results[6].message, results[6]
    # no supremum from sympy for |sin x|: the strict claim's meeting point is solved for all the same
    assert results[7].status == "failed" and "x=1.5708" in results[7].message, results[7]


def test_a_name_subscripted_with_the_index_of_a_sum_must_depend_on_it():
    """An undefined `x_i` is one symbol, the same in every term: `sum(x_i, (i, 1, n)) == n*x_i` would
    hold and `\\frac1n\\sum_i x_i = x_i` with it (and `a_n` would be its own limit). Such a sum or limit
    is refused with what to do; a name defined as an expression in the index is summed, and a
    subscript that is a word (`n_in`) or a Greek name (`q_phi`) is no index."""
    source = ("assume n: positive integer\n"
              "sum(x_i, (i, 1, n)) == n*x_i\n"
              "product(w_ij, (j, 1, n)) == w_ij**n\n"
              "y_k := k**2\n"
              "sum(y_k, (k, 1, n)) == n*(n + 1)*(2*n + 1)/6\n"
              "sum(i/n_in, (i, 1, n)) == n*(n + 1)/(2*n_in)\n"
              "sum(a_ii, (i, 1, n)) == n*a_ii\n"
              "limit(a_n, n, oo) == a_n\n"
              "sum(q_phi*i, (i, 1, n)) == q_phi*n*(n + 1)/2\n")
    report = verify(make_card("indexed", (0, source)))
    refused = only(report, 2)
    assert refused.status == "error" and "x_i is one value here, not one per i" in refused.message
    assert only(report, 3).status == "error" and "w_ij" in only(report, 3).message
    assert only(report, 5).status == "symbolic" and only(report, 6).status == "symbolic"
    assert only(report, 7).status == "error" and only(report, 8).status == "error"  # a trace; a sequence
    assert only(report, 9).status == "symbolic"  # phi is a Greek name, not p, h, i


def test_a_strict_inequality_in_two_variables_fails_at_its_isolated_meeting_point():
    """`x**2 + y**2 > 0` is false only at the origin, which no sample point lands on and solving for
    x with y sampled never finds; it is the gap's critical point. Under `positive` it holds. The zero
    search is the one `!=` uses, so `... != 0` fails there as well."""
    source = ("(x - 1)**2 + (y + 2)**2 > 0\n"
              "assume u, v: positive\n"
              "u**2 + v**2 > 0\n"
              "(x - 1)**2 + (y + 2)**2 != 0\n")
    results = by_line("isolated", source)
    assert results[1].status == "failed" and "x=1, y=-2" in results[1].message, results[1]
    assert results[3].status in ("symbolic", "numeric"), results[3]
    # the same zero search decides `!=`: the isolated meeting point refutes it too
    assert results[4].status == "failed" and "x=1, y=-2" in results[4].message, results[4]


def test_a_strict_inequality_fails_where_its_symbols_sit_at_their_bounds():
    """`x + y > 0` for x, y ≥ 0 is false only at the corner (0, 0): no critical point, no sign change,
    and sampling never lands there. The faces where nonnegative symbols sit at 0 are searched too, so
    it fails there, as `!=` does; an edge (p = 1 with q = 0) is found the same way. With the bounds
    open (positive) or the gap lifted (`+ 1`) the claims hold."""
    source = ("assume x, y: nonnegative\n"
              "x + y > 0\n"
              "x + y != 0\n"
              "x + y + 1 > 0\n"
              "assume u, v: positive\n"
              "u + v > 0\n"
              "assume p, q: nonnegative\n"
              "(p - 1)**2 + q > 0\n"
              "assume a: real\n"
              "exp(a)*q != 0\n"
              "assume b, c, d, e: nonnegative\n"
              "x + y + b + c + d + e > 0\n")
    results = by_line("faces", source)
    # on the face q = 0 the difference is 0 for every a: the solve leaves a free, and a takes a value
    assert results[10].status == "failed" and "q=0" in results[10].message, results[10]
    # six bounded symbols: the full corner is tried first, whatever their number
    assert results[12].status == "failed" and "e=0" in results[12].message, results[12]
    # a non-strict bound missed only at the corner: the grid of several symbols includes the corners
    corner = only(verify(make_card("corner", (0, "assume x, y: nonnegative\nx + y >= 1/1000\n"))), 2)
    assert corner.status == "failed" and "x=0, y=0" in corner.message, corner
    # integers have an end too; with five bounded symbols a face with one of them at its end is tried
    source = ("assume m, n: nonnegative integer\nm + n >= 1\n"
              "assume a, b, c, d, e: nonnegative\n"
              "a + (b - 1)**2 + (c - 1)**2 + (d - 1)**2 + (e - 1)**2 > 0\n")
    ends = by_line("ends", source)
    assert ends[2].status == "failed" and "m=0, n=0" in ends[2].message, ends[2]
    assert ends[4].status == "failed" and "a=0, b=1" in ends[4].message, ends[4]
    assert results[2].status == "failed" and "x=0, y=0" in results[2].message, results[2]
    assert results[3].status == "failed" and "x=0, y=0" in results[3].message, results[3]
    assert results[4].status == "symbolic" and results[6].status == "symbolic", results
    assert results[8].status == "failed" and "p=1, q=0" in results[8].message, results[8]


def test_an_empty_solution_set_for_a_generic_value_of_the_other_symbols_proves_nothing():
    """solveset solves `x*y + y = 0` for x ≥ 0 as if y were a generic positive value: no solution. But
    at y = 0 every x is one, so `x*y + y != 0` (passed as proved) and `x*y + y > 0` (passed as numeric)
    are false there. The empty answer is trusted only after the search that needs no solving, faces
    and corners included, finds no zero either; with y > 0 both claims hold."""
    source = ("assume x, y: nonnegative\n"
              "x*y + y != 0\n"
              "x*y + y > 0\n"
              "assume u, v: positive\n"
              "u*v + v != 0\n")
    results = by_line("generic", source)
    assert results[2].status == "failed" and "x=0, y=0" in results[2].message, results[2]
    assert results[3].status == "failed" and "x=0, y=0" in results[3].message, results[3]
    assert results[5].status == "symbolic", results[5]


def test_a_false_identity_is_sampled_in_the_names_its_difference_lost():
    """`params(Conv2d(C, N, K)) == C*N*K**2` forgets the bias: the difference is `N`, but the sides
    also hold C and K. Sampled in N alone the sides had no value at any point, and the claim ended
    as "cannot test the claim numerically"; sampled in every name of either side it fails with its
    counterexample."""
    source = ("assume C, N, K: positive integer\n"
              "params(Conv2d(C, N, K)) == C*N*K**2\n"
              "params(Conv2d(C, N, K)) == C*N*K**2 + N\n")
    results = by_line("lost", source)
    assert results[2].status == "failed" and "computed C*K**2*N + N" in results[2].message, results[2]
    assert "lhs=" in results[2].message and "cannot test" not in results[2].message, results[2]
    assert results[3].status == "symbolic", results[3]


def test_a_bound_whose_extremum_sympy_cannot_find_in_time_is_tested_another_way():
    """sympy's `minimum(x - sin(x), x, (0, oo))` runs for ever (it unions critical points without
    end), so `sin(x) < x` for x > 0 timed out under a build's 5 s limit. The extremum gets
    BOUND_SECONDS; past them the bound is not proved that way, and the claim is decided as any
    other (here on the dense grid, where it holds)."""
    source = "assume x: positive\nsin(x) < x\n"
    result = only(verify(make_card("forever", (0, source)), timeout=5.0), 2)
    assert result.status == "numeric", result
