"""Models over data in the analysis tools: the safe parser's t[i] and sum(body, i), minimize
with data=, classify at a point of a data model (numeric Hessian eigenvalues), and
check_derivative of claims written with sums.

Oracles: SymPy objects built by hand (the parser), np.linalg.lstsq and scipy's least_squares
(minimize), np.linalg.eigvalsh of a Hessian written out by hand (classify), and the sums
written out for a few rows with SymPy (check_derivative's verdicts and counterexamples).
Two data models are compiled, once per module.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from scipy.optimize import least_squares

import symbackprop as sb
from symbackprop.analysis.parse import parse

i = sp.Symbol("i", integer=True)
N = sp.Symbol("N", integer=True)
t, y, X = sp.IndexedBase("t"), sp.IndexedBase("y"), sp.IndexedBase("X")
a, b, c = sp.symbols("a b c")


def _data(n=12, seed=0):
    rng = np.random.default_rng(seed)
    tt = np.sort(rng.uniform(0.0, 4.0, n))
    return tt, 1.5 * tt - 0.5 + 0.2 * rng.standard_normal(n)


@pytest.fixture(scope="module")
def line():
    """sum_i (y_i - a t_i - b)^2: linear least squares."""
    return sb.compile(sp.Sum((y[i] - a * t[i] - b) ** 2, (i, 0, N - 1)), [a, b], data=[t, y])


@pytest.fixture(scope="module")
def decay():
    """sum_i (y_i - a exp(-b t_i))^2: nonlinear least squares."""
    f = sp.Sum((y[i] - a * sp.exp(-b * t[i])) ** 2, (i, 0, N - 1))
    return sb.compile(f, [a, b], data=[t, y])


# ---- the parser -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("sum((y[i] - a exp(-b t[i]))^2, i)",
         sp.Sum((y[i] - a * sp.exp(-b * t[i])) ** 2, (i, 0, N - 1))),
        ("sum(t[i + 1] - t[i], i, 0, N - 2) / N", sp.Sum(t[i + 1] - t[i], (i, 0, N - 2)) / N),
        ("sum(X[i, 2] a + i, i, 1, 5)", sp.Sum(X[i, 2] * a + i, (i, 1, 5))),
        ("t[0] + log(sum(exp(a t[j]), j))",
         t[0] + sp.log(sp.Sum(sp.exp(a * t[sp.Symbol("j", integer=True)]),
                              (sp.Symbol("j", integer=True), 0, N - 1)))),
        ("y[i] - a t[i] - b", y[i] - a * t[i] - b),  # a residual: i is a free integer index
        ("2t[i]^2", 2 * t[i] ** 2),
        ("at[i]", a * t[i]),  # a word is a product (the names rule), the bracket on its last name
    ],
)  # fmt: skip
def test_parser_reads_indexed_data_and_sums(text, expected):
    got = parse(text, [a, b], allow_new=True, data=["t", "y", "X"])
    assert got == expected
    # and means the same: both written out for 4 rows, on the same numbers
    values = {a: 0.7, b: -1.3}
    rows = {N: 4}

    def numeric(e):
        e = e.subs(rows).doit().subs({sp.Symbol("i", integer=True): 2})
        reads = {r: sp.Float(0.1 * (1 + hash(str(r)) % 17)) for r in e.atoms(sp.Indexed)}
        return complex(e.xreplace(reads).subs(values).evalf())

    assert numeric(got) == pytest.approx(numeric(expected))


def test_parser_reads_nested_sums_with_an_inner_bound_on_the_outer_index():
    j = sp.Symbol("j", integer=True)
    got = parse("sum(sum(t[j] t[i], j, 0, i), i)", [a], data=["t"])
    assert got == sp.Sum(sp.Sum(t[j] * t[i], (j, 0, i)), (i, 0, N - 1))
    assert got.limits == ((j, 0, i), (i, 0, N - 1))  # inner first, its bound the outer index


def test_parser_length_symbol_is_one_integer_symbol():
    e = parse("sum(t[i], i) / N + N", allow_new=True, data=["t"])
    assert [s for s in e.free_symbols if isinstance(s, sp.Symbol) and s.name == "N"] == [N]
    assert N.is_integer


def test_sum_is_still_a_symbol_when_declared():
    s = sp.Symbol("sum")
    assert parse("sum(a + 1)", [s, a]) == s * (a + 1)


@pytest.mark.parametrize(
    "text, words",
    [
        ("x[i]", ("brackets follow a data name only", "x is not", "position 1")),
        ("a + [1]", ("brackets", "position 4")),
        ("t[0.5]", ("not an integer", "position 1")),
        ("t[a]", ("a is not an integer", "position 2")),
        ("sum(t[i])", ("sum(body, i)", "position 0")),
        ("sum(t[i], 2)", ("sum(body, i)", "position 0")),
        ("sum(t[i], a)", ("index a", "also a symbol", "position 0")),
        ("sum(t[i], i, 0)", ("expected ','", "position 14")),
        ("t[i", ("expected ']'", "position 3")),
        ("t[exp(i)]", ("exp", "position 2")),
        ("sum(t[i], i, 0, b)", ("b is not an integer", "position 16")),
    ],
)
def test_parser_refuses_with_the_position(text, words):
    with pytest.raises(sb.SymbackpropError) as error:
        parse(text, [a, b], allow_new=True, data=["t"])
    for word in words:
        assert word in str(error.value), str(error.value)


def test_sum_to_n_needs_an_integer_n():
    with pytest.raises(sb.SymbackpropError, match="N is a symbol here"):
        parse("sum(t[i], i) + N", [sp.Symbol("N")], data=["t"])


def test_parsed_model_compiles_like_the_hand_built_one(line):
    f = parse("sum((y[i] - a t[i] - b)^2, i)", [a, b], data=[t, y])
    assert f == sp.Sum((y[i] - a * t[i] - b) ** 2, (i, 0, N - 1))
    fn = sb.compile(f, [a, b], data=[t, y])  # the same cache entry as the fixture's
    tt, yy = _data()
    assert fn([0.3, 0.2], t=tt, y=yy) == line([0.3, 0.2], t=tt, y=yy)


# ---- minimize --------------------------------------------------------------------------------


@pytest.mark.parametrize("form", ["names", "objects", "tuple"])
def test_minimize_with_data_finds_least_squares(line, form):
    tt, yy = _data()
    data = {"names": {"t": tt, "y": yy}, "objects": {t: tt, y: list(yy)}, "tuple": (tt, yy)}[form]
    r = sb.minimize(line, [0.0, 0.0], "newton", data=data, classify=True)
    A = np.stack([tt, np.ones_like(tt)], axis=1)
    oracle = np.linalg.lstsq(A, yy, rcond=None)[0]
    np.testing.assert_allclose(r.x, oracle, rtol=1e-10, atol=1e-12)
    assert r.success and r.point.kind == "minimum"
    np.testing.assert_allclose(r.point.eigenvalues, np.linalg.eigvalsh(2 * A.T @ A), rtol=1e-10)


def test_minimize_nonlinear_model_matches_scipy(decay):
    tt = np.linspace(0.0, 3.0, 20)
    yy = 2.0 * np.exp(-0.8 * tt) + 0.01 * np.cos(7 * tt)
    r = sb.minimize(decay, [1.0, 0.5], "newton", data={"t": tt, "y": yy}, tol_grad=1e-10)
    oracle = least_squares(
        lambda p: yy - p[0] * np.exp(-p[1] * tt), [1.0, 0.5], xtol=1e-15, ftol=1e-15, gtol=1e-15
    ).x
    np.testing.assert_allclose(r.x, oracle, rtol=1e-7)
    # gradient descent with backtracking on the same data gets there too
    gd = sb.minimize(
        decay, [1.0, 0.5], "gd", step="backtracking", data=(tt, yy), tol_grad=1e-6, max_iter=20000
    )
    np.testing.assert_allclose(gd.x, oracle, rtol=1e-4)


def test_minimize_data_errors(line):
    tt, yy = _data()
    with pytest.raises(sb.SymbackpropError, match="model over data: give data="):
        sb.minimize(line, [0.0, 0.0])
    with pytest.raises(sb.SymbackpropError, match="missing y"):
        sb.minimize(line, [0.0, 0.0], data={"t": tt})
    with pytest.raises(sb.SymbackpropError, match="z, which the model does not read"):
        sb.minimize(line, [0.0, 0.0], data={"t": tt, "y": yy, "z": yy})
    with pytest.raises(sb.SymbackpropError, match="1 entries; the model reads 2"):
        sb.minimize(line, [0.0, 0.0], data=(tt,))
    with pytest.raises(sb.SymbackpropError, match=r"shape \(2,\)"):
        sb.minimize(line, [0.0, 0.0, 0.0], data=(tt, yy))
    plain = sb.compile(a**2 + b**2, [a, b])
    with pytest.raises(sb.SymbackpropError, match="data= is for a model over data"):
        sb.minimize(plain, [1.0, 1.0], data=(tt, yy))
    with pytest.raises(sb.SymbackpropError, match="y"):  # the model's own check of the lengths
        sb.minimize(line, [0.0, 0.0], data=(tt, yy[:-1]))


# ---- classify ---------------------------------------------------------------------------------


def test_classify_data_function_at_the_optimum(line):
    tt, yy = _data(seed=1)
    A = np.stack([tt, np.ones_like(tt)], axis=1)
    opt = np.linalg.lstsq(A, yy, rcond=None)[0]
    p = sb.classify(line, None, {"a": opt[0], "b": opt[1]}, data={"t": tt, "y": yy})
    assert p.kind == "minimum" and p.is_critical and not p.exact
    np.testing.assert_allclose(p.hessian, 2 * A.T @ A, rtol=1e-12)
    np.testing.assert_allclose(p.eigenvalues, np.linalg.eigvalsh(2 * A.T @ A), rtol=1e-12)
    assert p.value == pytest.approx(np.sum((yy - A @ opt) ** 2), rel=1e-10)
    q = sb.classify(line, [a, b], list(opt + [0.1, 0.0]), data=(tt, yy))
    assert q.kind == "not critical" and q.gradient_norm > 0.1
    assert list(q.point) == [a, b]


def test_classify_expression_over_data(line):
    # the fixture's expression: sb.classify compiles it (the same cache entry as the fixture)
    f = sp.Sum((y[i] - a * t[i] - b) ** 2, (i, 0, N - 1))
    tt, yy = _data(5, seed=2)
    A = np.stack([tt, np.ones_like(tt)], axis=1)
    opt = np.linalg.lstsq(A, yy, rcond=None)[0]
    p = sb.classify(f, [a, b], {a: opt[0], b: opt[1]}, data={t: tt, y: yy})
    assert p.kind == "minimum"
    np.testing.assert_allclose(p.eigenvalues, np.linalg.eigvalsh(2 * A.T @ A), rtol=1e-12)
    # t = 0 everywhere: a does not matter; H = diag(0, 2N) has a zero eigenvalue along a
    p = sb.classify(f, [a, b], {a: 3.0, b: yy.mean()}, data={t: np.zeros(5), y: yy})
    assert p.kind == "degenerate"
    np.testing.assert_allclose(p.eigenvalues, [0.0, 10.0], atol=1e-12)
    np.testing.assert_allclose(np.abs(p.undecided[0]), [1.0, 0.0], atol=1e-12)


def test_classify_data_errors(line):
    tt, yy = _data()
    with pytest.raises(sb.SymbackpropError, match="not the model's parameters"):
        sb.classify(line, [b, a], [0.0, 0.0], data=(tt, yy))
    with pytest.raises(sb.SymbackpropError, match="give data="):
        sb.classify(line, None, [0.0, 0.0])
    f = sp.Sum((y[i] - a * t[i] - b) ** 2, (i, 0, N - 1))
    with pytest.raises(sb.SymbackpropError, match="dict IndexedBase"):
        sb.classify(f, [a, b], [0.0, 0.0], data=(tt, yy))
    with pytest.raises(sb.SymbackpropError, match="point is missing a value for b"):
        sb.classify(line, None, {"a": 1.0}, data=(tt, yy))


# ---- check_derivative -------------------------------------------------------------------------

DECAY = sp.Sum((y[i] - a * sp.exp(-b * t[i])) ** 2, (i, 0, N - 1))
DA = sp.Sum(-2 * sp.exp(-b * t[i]) * (y[i] - a * sp.exp(-b * t[i])), (i, 0, N - 1))
DB = sp.Sum(2 * a * t[i] * sp.exp(-b * t[i]) * (y[i] - a * sp.exp(-b * t[i])), (i, 0, N - 1))


def _written_out(expr, rows: int, point: dict) -> float:
    """expr with the sums written out for ``rows`` rows, at ``point`` (symbols and t[k] reads)
    by SymPy alone: the oracle for a counterexample."""
    e = expr.subs(N, rows).doit()
    reads = {r: point[r] for r in e.atoms(sp.Indexed)}
    return float(
        e.xreplace(reads).subs({s: v for s, v in point.items() if isinstance(s, sp.Symbol)})
    )


@pytest.mark.parametrize(
    "f, wrt, claimed, evidence",
    [
        (DECAY, [a, b], [DA, DB], "symbolic"),
        # the same gradient, written with other indices and factored differently
        (DECAY, [a, b], ["-2 sum(exp(-b t[j]) y[j], j) + 2a sum(exp(-2b t[k]), k)",
                         "2a sum(t[i] exp(-b t[i]) (y[i] - a exp(-b t[i])), i)"], "symbolic"),
        # the mean: 1/N outside the sum, as text with data=
        ("sum((y[i] - a t[i])^2, i) / N", a, "-2/N sum(t[i] (y[i] - a t[i]), i)", "symbolic"),
        ("log(sum(exp(a t[i]), i))", a, "sum(t[i] exp(a t[i]), i) / sum(exp(a t[i]), i)",
         "symbolic"),
        # the same sum over shifted rows: equal, though not term by term in one index
        (sp.Sum(a**2 * t[i], (i, 0, N - 1)), a, sp.Sum(2 * a * t[i + 1], (i, -1, N - 2)),
         "numeric"),
        # a residual (no sum, a free row index) and a Hessian over data
        (y[i] - a * sp.exp(-b * t[i]), [a, b], [-sp.exp(-b * t[i]), a * t[i] * sp.exp(-b * t[i])],
         "symbolic"),
        (sp.Sum((y[i] - a * t[i] - b) ** 2, (i, 0, N - 1)), [a, b],
         ["2 sum(t[i]^2, i)", "2 sum(t[i], i)", "2 sum(t[i], i)", "2N"], "symbolic"),
    ],
)  # fmt: skip
def test_check_derivative_over_data_accepts_right_claims(f, wrt, claimed, evidence):
    r = sb.check_derivative(f, wrt, claimed, data=["t", "y"] if isinstance(f, str) else None)
    assert r.ok, str(r)
    assert r.evidence == evidence and r.counterexample is None


@pytest.mark.parametrize(
    "f, wrt, claimed, wrong, rows",
    [
        (DECAY, [a, b], [DA, -DB], [(1,)], 1),
        (DECAY, [a, b], [DA.function.subs(i, 0), DB], [(0,)], 2),  # the first row's term only
        ("sum((y[i] - a t[i])^2, i) / N", a, "-2 sum(t[i] (y[i] - a t[i]), i)", [], 2),
        (sp.Sum((t[i + 1] - t[i] - a) ** 2, (i, 0, N - 2)), a,
         "-2 sum(t[i + 1] - t[i] - a, i)", [], 1),  # summed over one row too many
        (sp.Sum((y[i] - a * t[i] - b) ** 2, (i, 0, N - 1)), [a, b],
         ["2 sum(t[i]^2, i)", "2 sum(t[i], i)", "2 sum(t[i], i)", "2"], [(1, 1)], 2),
    ],
)  # fmt: skip
def test_check_derivative_over_data_finds_wrong_claims(f, wrt, claimed, wrong, rows):
    r = sb.check_derivative(f, wrt, claimed, data=["t", "y"] if isinstance(f, str) else None)
    assert not r.ok and r.evidence == "counterexample", str(r)
    assert r.wrong_entries == wrong
    point = r.counterexample
    assert point[N] == rows and "N=" in str(r)
    # the counterexample is one: SymPy's own derivative, written out, differs from the claim
    fs = parse(f, [a, b], allow_new=True, data=["t", "y"]) if isinstance(f, str) else f
    wrt = wrt if isinstance(wrt, list) else [wrt]
    claims = [claimed] if not isinstance(claimed, list) else claimed
    claims = [parse(cl, [a, b, N], data=["t", "y"]) if isinstance(cl, str) else cl for cl in claims]
    if r.kind == "hessian":
        expected = [sp.diff(fs, u, v) for u in wrt for v in wrt]
    else:
        expected = [sp.diff(fs, v) for v in wrt]
    got_e = np.array([_written_out(e, rows, point) for e in expected])
    got_c = np.array([_written_out(cl, rows, point) for cl in claims])
    np.testing.assert_allclose(np.ravel(r.expected_value), got_e, rtol=1e-9)
    np.testing.assert_allclose(np.ravel(r.claimed_value), got_c, rtol=1e-9)
    assert np.any(np.abs(got_e - got_c) > 1e-6 * np.maximum(1, np.abs(got_e)))


def test_check_derivative_of_a_double_sum():
    # d/da sum_i sum_j (t_i - t_j - a)^2 = 2 N^2 a: the data cancels, which only numbers show
    f = parse("sum(sum((t[i] - t[j] - a)^2, j), i)", [a], data=["t"])
    right = sb.check_derivative(f, a, "2 N^2 a")
    assert right.ok and right.evidence == "numeric", str(right)
    assert sb.check_derivative(f, a, "-2 sum(sum(t[i] - t[j] - a, j), i)").ok
    wrong = sb.check_derivative(f, a, "2 N a")
    assert not wrong.ok and wrong.counterexample[N] == 2
    x = wrong.counterexample[a]
    assert wrong.expected_value == pytest.approx(8 * x) and wrong.claimed_value == pytest.approx(
        4 * x
    )


def test_check_derivative_over_data_refuses_a_free_row_index_in_the_claim():
    with pytest.raises(sb.SymbackpropError, match="uses i, which f does not have"):
        sb.check_derivative(DECAY, [a, b], [DA.function, DB])


def test_check_derivative_over_data_refuses_an_index_as_variable():
    with pytest.raises(sb.SymbackpropError, match="integer symbol"):
        sb.check_derivative(sp.Sum(a * t[i], (i, 0, N - 1)) / N, N, "0")
    with pytest.raises(sb.SymbackpropError, match="not declared as data"):
        sb.check_derivative("sum(t[i] a, i)", a, "sum(t[i], i)")


# ---- the parser against SymPy, on random formulas over data ----------------------------------

_LEAVES = [
    ("a", a), ("b", b), ("2", sp.Integer(2)), ("3", sp.Integer(3)), ("i", i),
    ("t[i]", t[i]), ("t[i + 1]", t[i + 1]), ("y[i - 2]", y[i - 2]), ("X[i, 1]", X[i, 1]),
    ("t[0]", t[0]),
]  # fmt: skip
_BINARY = [
    ("({}) + ({})", lambda u, v: u + v),
    ("({}) - ({})", lambda u, v: u - v),
    ("({}) * ({})", lambda u, v: u * v),
    ("({}) / ({})", lambda u, v: u / v),
]
_UNARY = [
    ("exp({})", sp.exp), ("log({})", sp.log), ("sin({})", sp.sin), ("({})^2", lambda u: u**2),
    ("-({})", lambda u: -u),
]  # fmt: skip


def _formulas():
    from hypothesis import strategies as st

    leaf = st.sampled_from(_LEAVES)

    def extend(children):
        binary = st.tuples(st.sampled_from(_BINARY), children, children).map(
            lambda p: (p[0][0].format(p[1][0], p[2][0]), p[0][1](p[1][1], p[2][1]))
        )
        unary = st.tuples(st.sampled_from(_UNARY), children).map(
            lambda p: (p[0][0].format(p[1][0]), p[0][1](p[1][1]))
        )
        return binary | unary

    body = st.recursive(leaf, extend, max_leaves=6)
    bounds = st.sampled_from([("", (0, N - 1)), (", 1, N - 2", (1, N - 2)), (", 0, 4", (0, 4))])
    summed = st.tuples(body, bounds).map(
        lambda p: (f"sum({p[0][0]}, i{p[1][0]})", sp.Sum(p[0][1], (i, *p[1][1])))
    )
    outer = st.sampled_from([("{}", lambda s: s), ("({}) / N", lambda s: s / N),
                             ("log({}) + a", lambda s: sp.log(s) + a)])  # fmt: skip
    return st.tuples(outer, summed).map(lambda p: (p[0][0].format(p[1][0]), p[0][1](p[1][1])))


def test_parser_reads_random_formulas_over_data_as_sympy_builds_them():
    from hypothesis import given

    @given(_formulas())
    def check(pair):
        text, expected = pair
        try:
            got = parse(text, [a, b], data=["t", "y", "X"])
        except sb.SymbackpropError as error:  # only SymPy's own refusals (log(0), 1/0, ...)
            assert expected.has(sp.zoo, sp.nan, sp.oo), f"{text}: {error}"
            return
        assert got == expected, text

    check()


def test_latex_reads_data_brackets_and_points_sums_to_the_plain_syntax():
    got = parse(r"\frac{t[i + 1] - t[i]}{2} + [a + 1]^2", [a], latex=True, data=["t"])
    assert got == (t[i + 1] - t[i]) / 2 + (a + 1) ** 2
    # brackets after anything else are still parentheses in LaTeX
    assert parse(r"b[1 + a]", [a, b], latex=True) == b * (1 + a)
    with pytest.raises(sb.SymbackpropError, match=r"plain syntax, sum\(body, i\)"):
        parse(r"\sum_{i} t[i]", [a], latex=True, data=["t"])
