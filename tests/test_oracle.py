"""Oracle tests for the scalar compiler: compiled code against SymPy (diff + lambdify), against
central differences, against itself (batched vs row by row) and, when installed, against
torch.func.

* property tests over random expression DAGs with shared subexpressions (tests/strategies.py);
* a table with one row per SymPy function the printer must emit (JAX lax_autodiff_test style),
  compiled as ONE vector function (value + Jacobian) and one scalar sum (Hessian);
* the contract's non-smooth points, NaN propagation and numerically stable forms;
* sb.grad / sb.jacobian / sb.hessian against sympy.diff.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
import sympy as sp
from hypothesis import assume, given, note, settings
from hypothesis import strategies as st

import symbackprop as sb

from strategies import (
    assert_close,
    central_difference_grad,
    expression_dags,
    lambdify_list,
    reference,
    safe_points,
)

SEEDS = st.integers(0, 2**32 - 1)


def _magnitude_ok(ref, points, limit=1e5) -> bool:
    """Reference values of moderate size: tolerances stay meaningful, nothing overflows."""
    for x in points:
        parts = [np.atleast_1d(ref.value(x)), ref.grad(x), ref.hessian(x).ravel()]
        for p in parts:
            if not np.all(np.isfinite(p)) or np.max(np.abs(p)) > limit:
                return False
    return True


# ---- property tests over random DAGs ----------------------------------------------------------


@given(dag=expression_dags(), seed=SEEDS)
def test_dag_value_grad_hessian_hvp_match_sympy(dag, seed):
    note(repr(dag))
    points = safe_points(dag, seed, count=3)
    assume(points is not None)
    ref = reference(dag.expr, dag.variables)
    assume(_magnitude_ok(ref, points))

    fn = sb.compile(dag.expr, dag.variables)
    n = len(dag.variables)
    rng = np.random.default_rng(seed ^ 0x5EED)
    for x in points:
        note(f"x = {x.tolist()}")
        value = fn(x)
        assert isinstance(value, float)
        assert_close(value, ref.value(x), what="value")

        g = fn.grad(x)
        assert g.shape == (n,)
        assert_close(g, ref.grad(x), what="grad vs sympy.diff")
        # the gradient also agrees with central differences of the compiled value
        fd = central_difference_grad(fn, x)
        assert_close(g, fd, rtol=1e-5, atol_scale=1e-6 * (1 + abs(value)), what="grad vs FD")

        v, g2 = fn.value_and_grad(x)
        assert_close(v, value, rtol=1e-12, atol_scale=1e-13, what="value_and_grad value")
        assert_close(g2, g, rtol=1e-12, atol_scale=1e-13, what="value_and_grad grad")

        H = fn.hessian(x)
        assert H.shape == (n, n)
        H_ref = ref.hessian(x)
        assert_close(H, H_ref, what="hessian vs sympy")
        np.testing.assert_allclose(H, H.T, rtol=1e-12, atol=1e-12 * (1 + np.max(np.abs(H))))

        u = rng.standard_normal(n)
        hv = fn.hvp(x, u)
        assert hv.shape == (n,)
        assert_close(
            hv, H_ref @ u, rtol=1e-6, atol_scale=1e-7 * (1 + np.abs(u).sum()), what="hvp vs sympy"
        )


_BATCH_EXAMPLES = max(4, settings.default.max_examples // 5)


@settings(max_examples=_BATCH_EXAMPLES)
@given(dag=expression_dags(max_nodes=5), seed=SEEDS)
def test_dag_batched_rows_agree_with_single_calls(dag, seed):
    """A 2-D x of shape (batch, n) evaluates each row; same numbers as row-by-row calls."""
    note(repr(dag))
    batch = 5
    X = safe_points(dag, seed, count=batch)
    assume(X is not None)
    ref = reference(dag.expr, dag.variables)
    assume(_magnitude_ok(ref, X[:1]))
    n = len(dag.variables)
    V = np.random.default_rng(seed).standard_normal((batch, n))
    fn = sb.compile(dag.expr, dag.variables)

    values = fn(X)
    grads = fn.grad(X)
    vg_values, vg_grads = fn.value_and_grad(X)
    hessians = fn.hessian(X)
    hvps = fn.hvp(X, V)
    assert values.shape == (batch,)
    assert grads.shape == (batch, n)
    assert vg_values.shape == (batch,) and vg_grads.shape == (batch, n)
    assert hessians.shape == (batch, n, n)
    assert hvps.shape == (batch, n)
    tight = dict(rtol=1e-12, atol_scale=1e-12)
    for r in range(batch):
        assert_close(values[r], fn(X[r]), what=f"value row {r}", **tight)
        assert_close(grads[r], fn.grad(X[r]), what=f"grad row {r}", **tight)
        assert_close(vg_values[r], fn(X[r]), what=f"value_and_grad value row {r}", **tight)
        assert_close(vg_grads[r], fn.grad(X[r]), what=f"value_and_grad grad row {r}", **tight)
        assert_close(hessians[r], fn.hessian(X[r]), what=f"hessian row {r}", **tight)
        assert_close(hvps[r], fn.hvp(X[r], V[r]), what=f"hvp row {r}", **tight)
    # and the rows are right, not merely consistent
    assert_close(values[0], ref.value(X[0]), what="batched value vs sympy")
    assert_close(hessians[0], ref.hessian(X[0]), what="batched hessian vs sympy")


# ---- one row per function the printer must emit -------------------------------------------------


@dataclass(frozen=True)
class Row:
    name: str
    nvars: int
    build: object  # (*symbols) -> expr
    domain: tuple  # per variable: a list of (lo, hi) intervals
    rtol: float = 1e-7

    def __repr__(self) -> str:
        return self.name


def _iv(*intervals):
    return list(intervals)


AWAY_FROM_0 = _iv((-2.0, -0.1), (0.1, 2.0))
WIDE = _iv((-2.0, 2.0))
POS = _iv((0.2, 3.0))

ROWS = [
    Row("exp", 1, sp.exp, [_iv((-3.0, 3.0))]),
    Row("log", 1, sp.log, [POS]),
    Row("sqrt", 1, sp.sqrt, [POS]),
    Row("pow_int", 1, lambda x: x**3, [WIDE]),
    Row("pow_negative_int", 1, lambda x: x**-2, [POS]),
    Row("pow_rational", 1, lambda x: x ** sp.Rational(5, 3), [POS]),
    Row("pow_negative_rational", 1, lambda x: x ** sp.Rational(-3, 2), [POS]),
    Row("pow_variable", 2, lambda x, y: x**y, [POS, WIDE]),
    Row("sin", 1, sp.sin, [WIDE]),
    Row("cos", 1, sp.cos, [WIDE]),
    Row("tan", 1, sp.tan, [_iv((-1.2, 1.2))]),
    Row("asin", 1, sp.asin, [_iv((-0.9, 0.9))]),
    Row("acos", 1, sp.acos, [_iv((-0.9, 0.9))]),
    Row("atan", 1, sp.atan, [_iv((-3.0, 3.0))]),
    Row("sinh", 1, sp.sinh, [WIDE]),
    Row("cosh", 1, sp.cosh, [WIDE]),
    Row("tanh", 1, sp.tanh, [_iv((-3.0, 3.0))]),
    Row("asinh", 1, sp.asinh, [_iv((-3.0, 3.0))]),
    Row("acosh", 1, sp.acosh, [_iv((1.1, 4.0))]),
    Row("atanh", 1, sp.atanh, [_iv((-0.9, 0.9))]),
    Row("Abs", 1, sp.Abs, [AWAY_FROM_0]),
    Row("sign", 1, lambda x: sp.sign(x) * sp.sin(x), [AWAY_FROM_0]),
    Row("Max", 2, sp.Max, [_iv((-1.0, 1.0)), _iv((-3.0, -1.1), (1.1, 3.0))]),
    Row("Min", 2, sp.Min, [_iv((-1.0, 1.0)), _iv((-3.0, -1.1), (1.1, 3.0))]),
    Row(
        "Max3",
        3,
        lambda x, y, z: sp.Max(x, y**2, z - 1),
        [_iv((-1.0, -0.5), (1.5, 2.0)), _iv((-1.1, -0.8)), _iv((-2.0, -0.5), (3.5, 4.0))],
    ),
    Row("Heaviside", 1, lambda x: sp.Heaviside(x) * sp.exp(x), [AWAY_FROM_0]),
    Row(
        "Piecewise",
        1,
        lambda x: sp.Piecewise((x**2, x < sp.Rational(1, 2)), (sp.sin(x) + 1, True)),
        [_iv((-2.0, 0.4), (0.6, 2.0))],
    ),
    Row(
        "Piecewise_and",
        2,
        lambda x, y: sp.Piecewise((x * y, (x > 0) & (y < 1)), (x + y**3, True)),
        [AWAY_FROM_0, _iv((-1.0, 0.9), (1.1, 2.0))],
    ),
    Row("atan2", 2, sp.atan2, [_iv((0.2, 2.0)), WIDE]),
    Row("erf", 1, sp.erf, [WIDE]),
    Row("erfc", 1, sp.erfc, [WIDE]),
    Row("sigmoid", 1, sb.sigmoid, [_iv((-6.0, 6.0))]),
    Row("softplus", 1, sb.softplus, [_iv((-6.0, 6.0))]),
    Row("relu", 1, sb.relu, [AWAY_FROM_0]),
    Row("leaky_relu", 1, sb.leaky_relu, [AWAY_FROM_0]),
    Row("elu", 1, sb.elu, [AWAY_FROM_0]),
    Row("hardtanh", 1, sb.hardtanh, [_iv((-2.0, -1.1), (-0.9, 0.9), (1.1, 2.0))]),
    Row("cot", 1, sp.cot, [_iv((0.3, 2.8))]),
    Row("sec", 1, sp.sec, [_iv((-1.2, 1.2))]),
    Row("csc", 1, sp.csc, [_iv((0.3, 2.8))]),
    Row("coth", 1, sp.coth, [_iv((0.3, 3.0))]),
    Row("sech", 1, sp.sech, [WIDE]),
    Row("csch", 1, sp.csch, [_iv((0.3, 3.0))]),
    Row(
        "exp_log_chain", 2, lambda x, y: sp.log(1 + sp.exp(x * y)) / sp.sqrt(1 + y**2), [WIDE, WIDE]
    ),
]


def _table_points(rows, count, seed=1234):
    """``count`` points: each row's variables drawn from that row's intervals."""
    rng = np.random.default_rng(seed)
    pts = []
    for _ in range(count):
        x = []
        for row in rows:
            for intervals in row.domain:
                lo, hi = intervals[rng.integers(len(intervals))]
                x.append(rng.uniform(lo, hi))
        pts.append(x)
    return np.array(pts)


@dataclass
class Table:
    rows: list
    variables: list  # all symbols, rows' blocks in order
    slices: dict  # row name -> slice of its variables
    exprs: list
    vector_fn: object
    scalar_fn: object
    points: np.ndarray


@pytest.fixture(scope="module")
def table() -> Table:
    variables, slices, exprs = [], {}, []
    for row in ROWS:
        syms = sp.symbols(f"{row.name}_0:{row.nvars}", real=True)
        slices[row.name] = slice(len(variables), len(variables) + row.nvars)
        variables.extend(syms)
        exprs.append(row.build(*syms))
    assert all(len(r.domain) == r.nvars for r in ROWS)
    vector_fn = sb.compile(exprs, variables)
    scalar_fn = sb.compile(sp.Add(*exprs), variables)
    return Table(ROWS, variables, slices, exprs, vector_fn, scalar_fn, _table_points(ROWS, 4))


@pytest.fixture(scope="module")
def table_results(table):
    """Values, Jacobians and Hessians at the table's points (computed once)."""
    t = table
    return [
        (
            x,
            t.vector_fn(x),
            t.vector_fn.jacobian(x),
            t.scalar_fn(x),
            t.scalar_fn.grad(x),
            t.scalar_fn.hessian(x),
        )
        for x in t.points
    ]


def test_table_shapes(table, table_results):
    m, n = len(table.exprs), len(table.variables)
    for x, value, jac, s, g, H in table_results:
        assert value.shape == (m,)
        assert jac.shape == (m, n)
        assert isinstance(s, float)
        assert g.shape == (n,) and H.shape == (n, n)
        # the scalar sum agrees with the vector function's outputs
        assert_close(s, value.sum(), rtol=1e-12, atol_scale=1e-12, what="sum of outputs")
        assert_close(g, jac.sum(axis=0), rtol=1e-12, atol_scale=1e-12, what="sum of jacobian")


@pytest.mark.parametrize("row", ROWS, ids=[r.name for r in ROWS])
def test_table_row_matches_sympy(row, table, table_results):
    i = [r.name for r in table.rows].index(row.name)
    sl = table.slices[row.name]
    syms = table.variables[sl]
    expr = table.exprs[i]
    ref = reference(expr, syms)
    for x, value, jac, _s, _g, H in table_results:
        xi = x[sl]
        assert_close(value[i], ref.value(xi), rtol=row.rtol, what=f"{row.name} value at {xi}")
        want = np.zeros(len(table.variables))
        want[sl] = ref.grad(xi)
        assert_close(jac[i], want, rtol=row.rtol, what=f"{row.name} jacobian row at {xi}")
        # Hessian of the sum: this row's block, and zeros outside it (variables are disjoint)
        block = np.zeros((len(syms), len(table.variables)))
        block[:, sl] = ref.hessian(xi)
        assert_close(H[sl], block, rtol=max(row.rtol, 1e-7), what=f"{row.name} hessian at {xi}")


# ---- the contract's non-smooth points, NaN propagation, stable forms ----------------------------

A, B, Cs, D, E, G, K = sp.symbols("a b c d e g k", real=True)
CONTRACT_VARS = [A, B, Cs, D, E, G, K]
CONTRACT_EXPRS = [
    sb.relu(A),
    sp.Abs(B),
    sp.Max(Cs, D),
    sb.hardtanh(E),
    sb.sigmoid(G),
    sp.log(1 + sp.exp(K)),
]


@pytest.fixture(scope="module")
def contract_fns():
    return (
        sb.compile(sp.Add(*CONTRACT_EXPRS), CONTRACT_VARS),
        sb.compile(CONTRACT_EXPRS, CONTRACT_VARS),
    )


def test_max_args_order_is_what_the_tie_rule_refers_to():
    # SymPy sorts Max's arguments; the "first maximal argument" is the first of expr.args.
    assert sp.Max(Cs, D).args == (Cs, D)
    assert sb.relu(A).args[0] == 0


def test_nonsmooth_points_follow_the_contract(contract_fns):
    scalar, vector = contract_fns
    # relu at 0, |b| at 0, a tie c == d, e inside hardtanh's linear part, stable extremes
    x = np.array([0.0, 0.0, 0.5, 0.5, 0.3, -1000.0, 1000.0])
    g = scalar.grad(x)
    J = vector.jacobian(x)
    first = CONTRACT_VARS.index(sp.Max(Cs, D).args[0])
    other = ({2, 3} - {first}).pop()
    for label, grad_a, grad_b, grad_first, grad_other in [
        ("grad", g[0], g[1], g[first], g[other]),
        ("jacobian", J[0, 0], J[1, 1], J[2, first], J[2, other]),
    ]:
        assert grad_a == 0.0, f"{label}: relu'(0) must be 0, got {grad_a}"
        assert grad_b == 0.0, f"{label}: d|x|/dx at 0 must be 0, got {grad_b}"
        assert grad_first == 1.0 and grad_other == 0.0, (
            f"{label}: Max must route the gradient to its first maximal argument"
        )
    assert g[4] == 1.0 and J[3, 4] == 1.0
    assert np.all(np.isfinite(g)) and np.all(np.isfinite(J))
    H = scalar.hessian(x)
    assert np.all(np.isfinite(H))
    assert H[0, 0] == 0.0 and H[1, 1] == 0.0


def test_max_tie_with_three_arguments_goes_to_the_first_maximal():
    x, y, z = sp.symbols("x y z", real=True)
    expr = sp.Max(x, y, z)
    fn = sb.compile([expr], [x, y, z])
    order = [[x, y, z].index(s) for s in expr.args]
    # the last two arguments (in args order) tie above the first
    pt = np.zeros(3)
    pt[order[0]], pt[order[1]], pt[order[2]] = 0.0, 2.0, 2.0
    J = fn.jacobian(pt)[0]
    want = np.zeros(3)
    want[order[1]] = 1.0
    np.testing.assert_array_equal(J, want)
    # all three tie: the first argument gets it
    J = fn.jacobian(np.full(3, 1.5))[0]
    want = np.zeros(3)
    want[order[0]] = 1.0
    np.testing.assert_array_equal(J, want)


@pytest.mark.parametrize("nan_at", ["a", "b", "c", "d", "e"])
def test_nan_propagates_through_relu_abs_max_hardtanh(contract_fns, nan_at):
    scalar, vector = contract_fns
    i = [str(s) for s in CONTRACT_VARS].index(nan_at)
    x = np.array([0.7, -0.4, 0.2, -0.1, 0.3, 0.5, 0.25])
    x[i] = np.nan
    out_row = {"a": 0, "b": 1, "c": 2, "d": 2, "e": 3}[nan_at]
    assert math.isnan(scalar(x)), f"value with {nan_at} = NaN"
    values = vector(x)
    assert math.isnan(values[out_row]), f"output {out_row} with {nan_at} = NaN: {values}"
    others = np.delete(values, out_row)
    assert np.all(np.isfinite(others)), "NaN leaked into outputs that do not depend on it"
    g = scalar.grad(x)
    assert math.isnan(g[i]), f"d/d{nan_at} at {nan_at} = NaN should be NaN, got {g[i]}"
    J = vector.jacobian(x)
    assert math.isnan(J[out_row, i]), f"jacobian[{out_row}, {i}] should be NaN, got {J[out_row]}"


@pytest.mark.parametrize("where", [-1000.0, -50.0, 0.0, 50.0, 1000.0])
def test_stable_sigmoid_and_log1p_exp(contract_fns, where):
    scalar, vector = contract_fns
    x = np.array([1.0, 1.0, 1.0, 0.0, 0.0, where, where])
    values, J = vector(x), vector.jacobian(x)
    g, H = scalar.grad(x), scalar.hessian(x)
    assert np.all(np.isfinite(values)) and np.all(np.isfinite(J))
    assert np.all(np.isfinite(g)) and np.all(np.isfinite(H))
    sig = 1.0 / (1.0 + math.exp(-where)) if where > -700 else 0.0
    softplus = max(where, 0.0) + math.log1p(math.exp(-abs(where)))
    assert values[4] == pytest.approx(sig, rel=1e-12, abs=1e-300)
    assert values[5] == pytest.approx(softplus, rel=1e-12)
    assert J[4, 5] == pytest.approx(sig * (1 - sig), rel=1e-9, abs=1e-300)
    assert J[5, 6] == pytest.approx(sig, rel=1e-12, abs=1e-300)  # d softplus = sigmoid
    assert g[6] == pytest.approx(sig, rel=1e-12, abs=1e-300)
    if where == 1000.0:
        assert g[6] == 1.0 and values[5] == 1000.0
    assert H[6, 6] == pytest.approx(sig * (1 - sig), rel=1e-9, abs=1e-300)


def test_nested_piecewise_activations_compile():
    x, y = sp.symbols("x y", real=True)
    assert sb.elu(sb.elu(x)).has(sp.ITE)  # what SymPy hands the front end
    fn = sb.compile([sb.elu(sb.elu(x)), sb.leaky_relu(sb.elu(y)), sb.elu(x * sb.elu(y))], [x, y])
    for px, py in [(0.5, -0.3), (-0.5, 0.2), (-0.4, -0.7)]:
        e = lambda t: t if t > 0 else math.expm1(t)  # noqa: E731
        de = lambda t: 1.0 if t > 0 else math.exp(t)  # noqa: E731
        lr = lambda t: t if t > 0 else t / 100  # noqa: E731
        dlr = lambda t: 1.0 if t > 0 else 0.01  # noqa: E731
        want = [e(e(px)), lr(e(py)), e(px * e(py))]
        J = [
            [de(e(px)) * de(px), 0.0],
            [0.0, dlr(e(py)) * de(py)],
            [de(px * e(py)) * e(py), de(px * e(py)) * px * de(py)],
        ]
        np.testing.assert_allclose(fn([px, py]), want, rtol=1e-12)
        np.testing.assert_allclose(fn.jacobian([px, py]), J, rtol=1e-12, atol=1e-15)


# ---- symbolic derivatives -------------------------------------------------------------------


def _assert_same(a, b):
    assert sp.simplify(a - b) == 0, f"{a} != {b}"


def test_symbolic_grad_jacobian_hessian_equal_sympy_diff():
    x, y, z = sp.symbols("x y z", real=True)
    f = sp.exp(x * y) * sp.sin(z) + x**3 / (1 + y**2) + sp.log(1 + z**2)
    vs = [x, y, z]
    g = sb.grad(f, vs)
    assert isinstance(g, sp.MatrixBase) and g.shape == (3, 1)
    for i, v in enumerate(vs):
        _assert_same(g[i, 0], sp.diff(f, v))

    H = sb.hessian(f, vs)
    assert isinstance(H, sp.MatrixBase) and H.shape == (3, 3)
    for i, u in enumerate(vs):
        for j, v in enumerate(vs):
            _assert_same(H[i, j], sp.diff(f, u, v))

    fs = [x * y + z, sp.sin(x) * sp.cos(y), sb.sigmoid(z - x)]
    for arg in (fs, sp.Matrix(fs)):
        J = sb.jacobian(arg, vs)
        assert isinstance(J, sp.MatrixBase) and J.shape == (3, 3)
        for i, e in enumerate(fs):
            for j, v in enumerate(vs):
                _assert_same(J[i, j], sp.diff(e, v))

    J = sb.jacobian(fs[:2], [x])
    assert J.shape == (2, 1)
    assert sb.grad(f, [z]).shape == (1, 1)
    assert sb.hessian(x**2 * y, [x, y]).shape == (2, 2)


def test_symbolic_derivatives_of_own_functions():
    x = sp.Symbol("x", real=True)
    _assert_same(sb.grad(sb.sigmoid(x), [x])[0], sb.sigmoid(x) * (1 - sb.sigmoid(x)))
    _assert_same(sb.grad(sb.softplus(x), [x])[0], sb.sigmoid(x))
    # and they agree numerically with the exp forms
    for e in (sb.sigmoid(x), sb.softplus(x)):
        d = sb.grad(e, [x])[0]
        d_exp = sp.diff(e.rewrite(sp.exp), x)
        for v in (-3.0, 0.2, 2.5):
            assert float(d.subs(x, v).evalf()) == pytest.approx(float(d_exp.subs(x, v)), rel=1e-12)


# ---- torch.func as a second oracle ------------------------------------------------------------


def test_against_torch_func():
    torch = pytest.importorskip("torch")
    from torch import func as tfunc

    x0, x1, x2 = sp.symbols("x0 x1 x2", real=True)
    cases = [
        (
            x0**2 * sp.sin(x1) + sp.exp(x0 * x1 / 4) + sp.sqrt(1 + x2**2) * sp.tanh(x0),
            lambda t: (
                t[0] ** 2 * torch.sin(t[1])
                + torch.exp(t[0] * t[1] / 4)
                + torch.sqrt(1 + t[2] ** 2) * torch.tanh(t[0])
            ),
        ),
        (
            sp.log(1 + x0**2) * sb.sigmoid(x1 - x2) + sb.softplus(x2 * x0) + sp.atan(x1) * x2**3,
            lambda t: (
                torch.log(1 + t[0] ** 2) * torch.sigmoid(t[1] - t[2])
                + torch.nn.functional.softplus(t[2] * t[0])
                + torch.atan(t[1]) * t[2] ** 3
            ),
        ),
    ]
    rng = np.random.default_rng(7)
    for expr, tf in cases:
        fn = sb.compile(expr, [x0, x1, x2])
        for _ in range(3):
            x = rng.uniform(-1.5, 1.5, 3)
            t = torch.tensor(x, dtype=torch.float64)
            v = rng.standard_normal(3)
            want_v = float(tf(t))
            want_g = tfunc.grad(tf)(t).numpy()
            want_H = tfunc.hessian(tf)(t).numpy()
            assert_close(fn(x), want_v, rtol=1e-10, atol_scale=1e-12, what="value vs torch")
            assert_close(fn.grad(x), want_g, rtol=1e-9, atol_scale=1e-11, what="grad vs torch")
            assert_close(
                fn.hessian(x), want_H, rtol=1e-9, atol_scale=1e-10, what="hessian vs torch"
            )
            assert_close(
                fn.hvp(x, v),
                want_H @ v,
                rtol=1e-9,
                atol_scale=1e-10 * (1 + abs(v).sum()),
                what="hvp vs torch",
            )


def test_lambdify_helper_sanity():
    # the reference machinery itself: a known derivative, with the DiracDelta of sign dropped
    x = sp.Symbol("x", real=True)
    f = lambdify_list([sp.diff(sp.sign(x) * x**2, x)], [x])
    assert f([-2.0])[0] == pytest.approx(4.0)
