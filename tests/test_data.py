"""Models over data (sb.compile(f, params, data=[...])): values and derivatives against SymPy.

The oracle is SymPy itself: the model with its length symbol replaced by the number of rows,
``.doit()`` (the Sum written out), the data reads replaced by symbols, then ``diff`` and
``lambdify``; and central differences of the compiled functions. The compiled models come from
a small fixed family (Numba compiles are the slow part), and hypothesis draws the data, the
parameters and the number of rows (0..8) per example. Then the error cases of issue 14, N = 0,
NaN, positional data, one module for every N, and the saved module run without sympy.
"""

from __future__ import annotations

import functools
import json
import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from strategies import LAMBDIFY_MODULES, _drop_dirac, central_difference_grad, expression_dags

import symbackprop as sb

i = sp.Symbol("i", integer=True)
N = sp.Symbol("N", integer=True)
t, y, X = sp.IndexedBase("t"), sp.IndexedBase("y"), sp.IndexedBase("X")
a, b, c = sp.symbols("a b c", real=True)
j, k3 = sp.Symbol("j", integer=True), sp.Symbol("k", integer=True)
M = sp.Symbol("M", integer=True)  # the columns of X, when a sum runs over them
s = sp.Symbol("s", real=True)  # scalar data
PARAMS = [a, b, c]
COLUMNS = 3  # columns of X in generated data


# ---- the family of compiled models ---------------------------------------------------------


@dataclass(frozen=True)
class Model:
    """One compiled model and what the oracle needs to rebuild it on n rows."""

    name: str
    expr: object  # an expression, or a list (vector model)
    data: tuple  # as given to sb.compile
    rows: object = None  # the residual index (rows=i), or None
    min_rows: int = 0  # fewest rows the model reads in range (t[0] needs 1, ...)
    kinks: tuple = ()  # per-row expressions whose sign change marks a non-smooth point
    sizes: tuple = (0, 1, 3, 6)  # the numbers of rows drawn (each costs SymPy a .doit())

    @property
    def vector(self) -> bool:
        return isinstance(self.expr, list)


SMOOTH_BODY = (
    sb.softplus(a * t[i] + b)
    + sp.sqrt(1 + (c * y[i]) ** 2)
    + sp.sin(a * X[i, 1]) * sp.tanh(b * X[i, 0])
)
PIECEWISE_PARTS = (
    (sp.Abs(y[i] - a * t[i]), y[i] - a * t[i]),
    (sp.Max(a * t[i], b * y[i]), a * t[i] - b * y[i]),
    (sp.Piecewise((c * t[i] ** 2 + a, t[i] > b), (c * t[i] - b, True)), t[i] - b),
    (sb.relu(y[i] - c) * X[i, 2], y[i] - c),
)

MODELS = {
    m.name: m
    for m in (
        Model("exp_fit", sp.Sum((y[i] - a * sp.exp(-b * t[i]) - c) ** 2, (i, 0, N - 1)), (t, y)),
        Model(
            "smooth_nested",  # smooth rows, rows x columns (j used as a number), scalar data
            sp.log(
                1 + sp.Sum(SMOOTH_BODY, (i, 0, N - 1))
                + c**2 * sp.Sum(sp.Sum((X[i, j] - a * t[i] - b * j) ** 2, (j, 0, M - 1)),
                                (i, 0, N - 1))
            )
            + s * a**2 * sb.sigmoid(b),
            (t, y, X, s),
            sizes=(0, 1, 3),
        ),
        Model(
            "offsets_sums",  # t[i + 1], fixed reads t[0] and y[0], several sums, / N
            sp.Sum(
                (t[i + 1] - t[i]) * sb.sigmoid(a * y[i] - b) + (y[i + 1] - c * t[i]) ** 3,
                (i, 0, N - 2),
            )
            * sp.exp(-t[0] * a)
            + c**2 * y[0]
            + sp.Sum(sp.exp(a * t[i]), (i, 0, N - 1))
            * sp.Sum(y[i] ** 2 * sp.cos(b * t[i]) + c * X[i, 2], (i, 0, N - 1))
            / N,
            (X, t, y),
            min_rows=1,  # t[0], and / N
            sizes=(1, 2, 4, 6),
        ),
        Model(
            "piecewise",
            sp.Sum(sum(p for p, _ in PIECEWISE_PARTS), (i, 0, N - 1)) + a * b * c,
            (t, y, X),
            kinks=tuple(k for _, k in PIECEWISE_PARTS),
            sizes=(0, 1, 2, 4),
        ),
        Model(
            "pairs",  # a nested sum over the pairs i < j
            sp.Sum(
                c * t[i] ** 2
                + y[i] * sp.Sum(sp.exp(-a * (t[i] - t[j]) ** 2) + b * y[j], (j, i + 1, N - 1)),
                (i, 0, N - 1),
            ),
            (t, y),
            sizes=(0, 1, 2, 4),
        ),
        Model(
            "residuals",
            y[i] - a * sp.exp(-b * t[i]) - c * sp.tanh(s * X[i, 1]) + sp.Abs(t[i] - a) * b,
            (t, y, X, s),
            rows=i,
            kinks=(t[i] - a,),
        ),
        Model(
            "vector",
            [a * s - b * c, sp.sin(a) * s**2 + sp.exp(b * c),
             sp.Sum(c * t[i] ** 2 + a * y[i], (i, 0, N - 1))],
            (s, t, y),
        ),
    )
}
SCALAR_MODELS = ["exp_fit", "smooth_nested", "offsets_sums", "piecewise", "pairs"]


@functools.cache
def compiled(name: str):
    """Each model is compiled once per session (and shared by every test)."""
    m = MODELS[name]
    return sb.compile(m.expr, PARAMS, data=list(m.data), rows=m.rows)


# ---- the SymPy oracle ------------------------------------------------------------------------


def _name(d) -> str:
    return str(d.label) if isinstance(d, sp.IndexedBase) else d.name


def _indexed_to_symbols(e: sp.Expr) -> tuple[sp.Expr, dict]:
    reads = sorted(e.atoms(sp.Indexed), key=sp.default_sort_key)
    symbols = {r: sp.Symbol("_".join([str(r.base.label)] + [str(k) for k in r.indices]))
               for r in reads}
    return e.xreplace(symbols), symbols


def _written_out(m: Model, n: int) -> list[sp.Expr]:
    """The model on n rows with every Sum written out (the residuals: one expression a row)."""
    if m.rows is not None:
        return [m.expr.subs(m.rows, k) for k in range(n)]
    exprs = m.expr if m.vector else [m.expr]
    return [sp.sympify(e).subs({N: n, M: COLUMNS}).doit() for e in exprs]


@functools.cache
def oracle(name: str, n: int):
    """A function (theta, data dict) -> dict of SymPy's numbers for this model on n rows."""
    m = MODELS[name]
    exprs = _written_out(m, n) or [sp.S.Zero]  # no residual rows: see at()
    replaced, symbols = zip(*(_indexed_to_symbols(e) for e in exprs))
    reads = sorted({v for d in symbols for v in d.values()}, key=str)
    scalars = [d for d in m.data if isinstance(d, sp.Symbol)]
    data_symbols = reads + scalars
    args = PARAMS + data_symbols
    if m.vector or m.rows is not None:
        jac = [[sp.diff(e, p) for p in PARAMS] for e in replaced]
        outputs = {"value": list(replaced), "jacobian": jac}
    else:
        (e,) = replaced
        first = [sp.diff(e, p) for p in PARAMS]
        upper = {(p, q): sp.diff(first[p], PARAMS[q]) for p in range(3) for q in range(p, 3)}
        outputs = {"value": e, "grad": first,
                   "hessian": [[upper[min(p, q), max(p, q)] for q in range(3)] for p in range(3)]}
    # derivatives of Heaviside/sign are 0 away from the kinks (the tests stay away from them)
    fns = {k: sp.lambdify(args, _drop_dirac(sp.Array(v)) if isinstance(v, list) else _drop_dirac(v),
                          modules=LAMBDIFY_MODULES)
           for k, v in outputs.items()}

    def at(theta, data):
        if m.rows is not None and n == 0:
            return {"value": np.zeros(0), "jacobian": np.zeros((0, len(PARAMS)))}
        values = _data_values(data_symbols, data)
        call = [float(x) for x in theta] + values
        out = {k: np.array(f(*call), dtype=float) for k, f in fns.items()}
        if m.rows is not None:
            out["value"] = out["value"].reshape(n)
            out["jacobian"] = out["jacobian"].reshape(n, len(PARAMS))
        return out

    return at


# ---- data and parameters -------------------------------------------------------------------


def make_data(m: Model, n: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    out = {}
    for d in m.data:
        name = _name(d)
        if isinstance(d, sp.Symbol):
            out[name] = float(rng.uniform(-1.0, 1.0))
        elif name == "X":
            out[name] = rng.uniform(-1.0, 1.0, (n, COLUMNS))
        else:
            out[name] = rng.uniform(-1.0, 1.0, n)
    return out


def _data_values(symbols, data) -> list[float]:
    """The numbers the oracle's data symbols (t_3, X_2_1, s) stand for."""
    out = []
    for sym in symbols:
        name, *at = sym.name.split("_")
        out.append(float(data[name][tuple(int(k) for k in at)] if at else data[name]))
    return out


@functools.cache
def _kink_at_row(kink, k: int):
    """The kink expression at row k as a function (theta, data) -> float."""
    e, symbols = _indexed_to_symbols(kink.subs(i, k))
    reads = sorted(symbols.values(), key=str)
    scalars = sorted(e.free_symbols - set(PARAMS) - set(reads), key=str)
    f = sp.lambdify(PARAMS + reads + scalars, e)
    return lambda theta, data: float(f(*theta, *_data_values(reads + scalars, data)))


def kink_margin(kinks, rows: int, theta, data, h: float = 1e-4) -> float:
    """The smallest |kink| over rows 0..rows-1 at theta and at the finite-difference stencil
    theta +- h e_p, +- 2h e_p; 0 if a kink changes sign between them."""
    points = [np.asarray(theta, float)]
    for p in range(len(theta)):
        for sign in (-2, -1, 1, 2):
            e = np.zeros(len(theta))
            e[p] = sign * h * max(1.0, abs(theta[p]))
            points.append(points[0] + e)
    least = np.inf
    for kink in kinks:
        for k in range(rows):
            f = _kink_at_row(kink, k)
            values = np.array([f(x, data) for x in points])
            if not np.all(np.isfinite(values)) or np.any(np.sign(values) != np.sign(values[0])):
                return 0.0
            least = min(least, float(np.min(np.abs(values))))
    return least


def close(got, want, what, rtol=1e-8):
    got, want = np.asarray(got, float), np.asarray(want, float)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    scale = 1.0 + (float(np.max(np.abs(want))) if want.size else 0.0)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * scale, err_msg=what)


def fd_close(got, want, what):
    close(got, want, what, rtol=2e-5)


# ---- hypothesis properties over the family -------------------------------------------------

def cases(name):
    """(number of rows, data seed): the rows from the model's sizes, at least its min_rows."""
    m = MODELS[name]
    sizes = [n for n in m.sizes if n >= m.min_rows]
    return st.tuples(st.sampled_from(sizes), st.integers(0, 2**31 - 1))


@pytest.mark.parametrize("name", SCALAR_MODELS)
@given(draw=st.data())
def test_scalar_models_match_sympy_and_central_differences(name, draw):
    n, seed = draw.draw(cases(name), label="rows, seed")
    m = MODELS[name]
    fn = compiled(name)
    data = make_data(m, n, seed)
    rng = np.random.default_rng(seed + 1)
    theta = rng.uniform(-1.0, 1.0, 3)
    v = rng.standard_normal(3)
    assume(kink_margin(m.kinks, n, theta, data) > 1e-3)
    want = oracle(name, n)(theta, data)
    close(fn(theta, **data), want["value"], f"{name} value")
    close(fn.grad(theta, **data), want["grad"], f"{name} grad")
    value, g = fn.value_and_grad(theta, **data)
    close(value, want["value"], f"{name} value_and_grad[0]")
    close(g, want["grad"], f"{name} value_and_grad[1]")
    H = fn.hessian(theta, **data)
    close(H, want["hessian"], f"{name} hessian")
    close(H, H.T, f"{name} hessian symmetric", rtol=1e-12)
    close(fn.hvp(theta, v, **data), want["hessian"] @ v, f"{name} hvp")
    # central differences of the compiled value and gradient (independent of SymPy)
    fd_close(central_difference_grad(lambda x: fn(x, **data), theta), want["grad"],
             f"{name} grad by central differences")
    fd_H = np.array([central_difference_grad(lambda x, p=p: fn.grad(x, **data)[p], theta)
                     for p in range(3)])
    fd_close(fd_H, H, f"{name} hessian by central differences of grad")


@pytest.mark.parametrize("name", ["residuals", "vector"])
@given(draw=st.data())
def test_jacobian_models_match_sympy_and_central_differences(name, draw):
    n, seed = draw.draw(cases(name), label="rows, seed")
    m = MODELS[name]
    fn = compiled(name)
    data = make_data(m, n, seed)
    theta = np.random.default_rng(seed + 1).uniform(-1.0, 1.0, 3)
    assume(kink_margin(m.kinks, n, theta, data) > 1e-3)
    want = oracle(name, n)(theta, data)
    r, J = fn(theta, **data), fn.jacobian(theta, **data)
    rows = n if m.rows is not None else 3
    assert r.shape == (rows,) and J.shape == (rows, 3)
    close(r, want["value"], f"{name} value")
    close(J, want["jacobian"], f"{name} jacobian")
    fd = np.array([central_difference_grad(lambda x, k=k: fn(x, **data)[k], theta)
                   for k in range(rows)]).reshape(rows, 3)
    fd_close(fd, J, f"{name} jacobian by central differences")
    with pytest.raises(sb.SymbackpropError, match="jacobian"):
        fn.grad(theta, **data)


# ---- random row bodies ---------------------------------------------------------------------
# A random expression DAG (tests/strategies.py: smooth and piecewise ops, shared nodes) whose
# variables become per-row combinations of parameters and data, t[i + 1] among them. Each
# example is a new compiled model, so there are few of them.

ROW_LEAVES = (a * t[i] + b, c - y[i], a * X[i, 1] + b * c, b * t[i + 1] - a)


@settings(max_examples=min(settings().max_examples, 3), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.filter_too_much])
@given(dag=expression_dags(min_vars=4, max_vars=4, min_nodes=2, max_nodes=4),
       n=st.integers(2, 5), seed=st.integers(0, 2**31 - 1))
def test_random_row_bodies_match_sympy(dag, n, seed):
    leaves = dict(zip(dag.variables, ROW_LEAVES))
    body = dag.expr.xreplace(leaves)
    kinks = tuple(k.xreplace(leaves) for k in dag.kinks)
    reads = {str(r.base.label) for r in body.atoms(sp.Indexed)}
    assume(body.free_symbols & set(PARAMS))
    data_list = tuple(d for d in (t, y, X) if str(d.label) in reads)
    f = sp.Sum(body, (i, 0, N - 2)) + (a - b) ** 2 / 4  # t[i + 1]: the rows stop one early
    m = Model("random", f, data_list)
    data = make_data(m, n, seed)
    theta = np.random.default_rng(seed + 1).uniform(-1.0, 1.0, 3)
    assume(kink_margin(kinks, n - 1, theta, data) > 1e-3)
    fn = sb.compile(f, PARAMS, data=list(data_list))
    e, symbols = _indexed_to_symbols(f.subs(N, n).doit())
    args = PARAMS + sorted(symbols.values(), key=str)
    values = [float(v) for v in theta] + _data_values(args[3:], data)
    first = [sp.diff(e, p) for p in PARAMS]
    H = [[sp.diff(first[p], q) for q in PARAMS] for p in range(3)]
    want = [np.array(sp.lambdify(args, _drop_dirac(sp.Array(x) if isinstance(x, list) else x),
                                 modules=LAMBDIFY_MODULES)(*values), dtype=float)
            for x in (e, first, H)]
    assume(all(np.all(np.isfinite(w)) and np.max(np.abs(w)) < 1e6 for w in want))
    what = f"{dag!r}\nbody = {body}"
    close(fn(theta, **data), want[0], f"value of {what}", rtol=1e-7)
    close(fn.grad(theta, **data), want[1], f"grad of {what}", rtol=1e-7)
    close(fn.hessian(theta, **data), want[2], f"hessian of {what}", rtol=1e-7)
    v = np.array([0.3, -1.1, 0.7])
    close(fn.hvp(theta, v, **data), want[2] @ v, f"hvp of {what}", rtol=1e-7)
    fd_close(central_difference_grad(lambda x: fn(x, **data), theta), want[1],
             f"central differences of {what}")


# ---- explicit cases ------------------------------------------------------------------------

THETA = np.array([0.7, -0.4, 0.2])
V = np.array([1.0, -2.0, 0.5])
rng0 = np.random.default_rng(7)
T5, Y5, X5 = rng0.uniform(-1, 1, 5), rng0.uniform(-1, 1, 5), rng0.uniform(-1, 1, (5, 3))

# Reads one row ahead up to N - 1: every call with rows reads t[N], out of range.
AHEAD = sp.Sum((t[i + 1] - a * t[i]) ** 2, (i, 0, N - 1))


@pytest.fixture(scope="module")
def ahead():
    return sb.compile(AHEAD, [a], data=[t])


def _methods(fn, data_args=(), data_kwargs=None, theta=THETA, v=V):
    """Every scalar entry point, called with the same data."""
    kw = data_kwargs or {}
    return {
        "value": lambda: fn(theta, *data_args, **kw),
        "grad": lambda: fn.grad(theta, *data_args, **kw),
        "value_and_grad": lambda: fn.value_and_grad(theta, *data_args, **kw),
        "hessian": lambda: fn.hessian(theta, *data_args, **kw),
        "hvp": lambda: fn.hvp(theta, v, *data_args, **kw),
    }


def _dispatchers(fn):
    import numba.core.registry

    return [v for v in vars(fn._m).values() if isinstance(v, numba.core.registry.CPUDispatcher)]


def test_an_out_of_range_read_is_refused_before_numba_runs(ahead):
    assert _dispatchers(ahead), "the module's kernels should be Numba dispatchers"
    for call in _methods(ahead, data_kwargs={"t": T5}, theta=[0.7], v=[1.0]).values():
        with pytest.raises(sb.SymbackpropError) as err:
            call()
        msg = str(err.value)
        assert "t[i + 1]" in msg and "rows 1..5" in msg and "t has 5 rows" in msg, msg
    # nothing was compiled for the kernels: the check ran before entering Numba
    assert all(not d.signatures for d in _dispatchers(ahead))
    # the same model on no rows reads nothing: the empty sum
    assert ahead([0.7], t=np.zeros(0)) == 0.0
    np.testing.assert_array_equal(ahead.grad([0.7], t=np.zeros(0)), [0.0])
    assert any(d.signatures for d in _dispatchers(ahead)), "a valid call does enter Numba"


def test_lengths_that_disagree_name_the_index_the_arrays_and_the_lengths():
    fn = compiled("exp_fit")
    for name, call in _methods(fn, data_kwargs={"t": T5, "y": Y5[:4]}).items():
        with pytest.raises(sb.SymbackpropError) as err:
            call()
        msg = str(err.value)
        assert "index i" in msg and "t has 5 rows" in msg and "y has 4" in msg, (name, msg)
    # a 2-D array tied to 1-D ones by the same index (its rows)
    with pytest.raises(sb.SymbackpropError, match=r"X.*5.*y.*4|y.*4.*X.*5|X has 5.*y has 4"):
        compiled("offsets_sums")(THETA, X=X5, t=T5, y=Y5[:4])
    with pytest.raises(sb.SymbackpropError, match=r"(t|X) has 5 rows and y has 6"):
        compiled("residuals").jacobian(THETA, t=T5, y=np.ones(6), X=X5, s=0.5)


def test_missing_extra_and_doubled_data_at_call_time():
    fn = compiled("exp_fit")
    for call in _methods(fn, data_kwargs={"t": T5}).values():
        with pytest.raises(sb.SymbackpropError, match=r"missing data y"):
            call()
    with pytest.raises(sb.SymbackpropError, match=r"unexpected data 'z'"):
        fn(THETA, t=T5, y=Y5, z=Y5)
    with pytest.raises(sb.SymbackpropError, match=r"takes 2 data argument\(s\) \(t, y\).*got 3"):
        fn.grad(THETA, T5, Y5, Y5)
    with pytest.raises(sb.SymbackpropError, match=r"data t is given twice"):
        fn.hessian(THETA, T5, Y5, t=T5)
    with pytest.raises(sb.SymbackpropError, match=r"missing data t, y"):
        fn.hvp(THETA, V)


def test_wrong_number_of_dimensions_names_the_array_and_its_shape():
    fn = compiled("smooth_nested")
    good = {"t": T5, "y": Y5, "X": X5, "s": 0.5}
    for name, bad, want in (
        ("t", T5.reshape(5, 1), r"data t must be 1-D \(read as t\[i\]\); got shape \(5, 1\)"),
        ("X", X5[:, 0], r"data X must be 2-D \(read as X\[i, j\]\); got shape \(5,\)"),
        ("s", np.ones(2), r"data s is a scalar; got shape \(2,\)"),
    ):
        for call in _methods(fn, data_kwargs={**good, name: bad}).values():
            with pytest.raises(sb.SymbackpropError, match=want):
                call()
    # a column beyond the array's: X[i, 1] of a 1-column X
    with pytest.raises(sb.SymbackpropError, match=r"X\[i, 1\] reads column 1 of X, which has 1"):
        fn(THETA, **{**good, "X": X5[:, :1]})
    # a fixed read t[0] of an empty t
    with pytest.raises(sb.SymbackpropError, match=r"(t|y)\[0\] reads row 0 of (t|y), which has 0"):
        compiled("offsets_sums")(THETA, X=np.zeros((0, 3)), t=np.zeros(0), y=np.zeros(0))


@pytest.mark.parametrize(
    "expr, data, want",
    [
        (sp.Sum(t[i] * a, (i, 0, N - 1)), [t, y], r"data array y is never read"),
        (sp.Sum(t[i] * a - y[i], (i, 0, N - 1)), [t], r"reads y, which is not in data"),
        (sp.Sum(t[i] * a, (i, 0, N - 1)) + t[0] * y[1], [t], r"reads y, which is not in data"),
        (sp.Sum(t[i] * a, (i, 0, N - 1)), [t, a], r"a is both a parameter and data"),
        (sp.Sum(t[i] * a, (i, 0, N - 1)), [t, sp.IndexedBase("b")],
         r"b is both a parameter and data"),
        (sp.Sum(t[i] * a * sp.Symbol("q"), (i, 0, N - 1)), [t],
         r"free symbol q in .* is neither a parameter, data nor a constant"),
        (sp.Sum(t[i] * a, (i, 0, N - 1)) + sp.Symbol("q"), [t],
         r"free symbol q is neither a parameter, data nor a constant"),
        (sp.Sum(sp.Sum(sp.Sum(X[i, j] * t[k3] * a, (k3, 0, N - 1)), (j, 0, 2)), (i, 0, N - 1)),
         [X, t], r"sums nested 3 deep; at most 2"),
        (sp.Sum(sp.exp(a * sp.Sum(X[i, j], (j, 0, 2))), (i, 0, N - 1)), [X],
         r"a sum inside a nonlinear function of a row.*is not supported yet"),
        (sp.Sum(t[i] * sp.Sum(t[j], (j, 0, N - 1)) * sp.Sum(b * t[j] * t[i], (j, 0, i)),
                (i, 0, N - 1)), [t], r"a product of sums within one row, is not supported"),
        (sp.Sum(t[i] * a, (i, 0, N - 1)), [t, t], r"data name t is given twice"),
        (sp.Sum(t[2 * i] * a, (i, 0, N - 1)), [t],
         r"t\[2\*i\]: a data index must be one sum index \(i\) plus an integer"),
    ],
)
def test_models_that_cannot_be_compiled_are_refused_by_name(expr, data, want):
    with pytest.raises(sb.SymbackpropError, match=want):
        sb.compile(expr, [a, b], data=data)


HASH_SEED_PROBE = textwrap.dedent("""
    import sympy as sp
    from symbackprop.frontend.data import data_model
    from symbackprop.printer.data_checks import prepare_source
    i, N = sp.Symbol("i", integer=True), sp.Symbol("N", integer=True)
    t, y, a = sp.IndexedBase("t"), sp.IndexedBase("y"), sp.Symbol("a")
    f = sp.Sum(a * t[i], (i, 0, N - 1)) * t[0] + y[0] + t[1] * y[1] * a
    print(prepare_source(data_model([f], [a], [t, y])))
""")


def test_the_generated_data_checks_do_not_depend_on_the_hash_seed():
    """Fixed reads (t[0], y[1]) come out in one order whatever PYTHONHASHSEED is: the module's
    source (and which misfit read an error names first) must not change between processes."""
    import os

    sources = set()
    for seed in ("1", "2"):  # two seeds that order the four reads differently
        env = {**os.environ, "PYTHONHASHSEED": seed}
        proc = subprocess.run([sys.executable, "-c", HASH_SEED_PROBE], env=env, check=False,
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        sources.add(proc.stdout)
    assert len(sources) == 1, "\n----\n".join(sorted(sources))


def test_a_sum_inside_a_per_row_residual_is_refused():
    with pytest.raises(sb.SymbackpropError, match=r"per-row residual \(rows=i\) cannot contain a Sum"):
        sb.compile(y[i] - a * sp.Sum(t[i], (i, 0, N - 1)), [a], data=[t, y], rows=i)


def test_no_rows_gives_zero_and_zero_derivatives():
    fn, empty = compiled("exp_fit"), np.zeros(0)
    value = fn(THETA, t=empty, y=empty)
    assert value == 0.0 and isinstance(value, float)
    for got, shape in ((fn.grad(THETA, t=empty, y=empty), (3,)),
                       (fn.value_and_grad(THETA, t=empty, y=empty)[1], (3,)),
                       (fn.hessian(THETA, t=empty, y=empty), (3, 3)),
                       (fn.hvp(THETA, V, t=empty, y=empty), (3,))):
        np.testing.assert_array_equal(got, np.zeros(shape))
    r = compiled("residuals")
    data = {"t": empty, "y": empty, "X": np.zeros((0, 3)), "s": 0.3}
    assert r(THETA, **data).shape == (0,) and r.jacobian(THETA, **data).shape == (0, 3)


def test_nan_in_the_data_gives_nan_out():
    fn = compiled("exp_fit")
    y_nan = Y5.copy()
    y_nan[2] = np.nan
    assert np.isnan(fn(THETA, t=T5, y=y_nan))
    assert np.all(np.isnan(fn.grad(THETA, t=T5, y=y_nan)))  # every row's residual is in each
    assert np.isnan(fn.hessian(THETA, t=T5, y=y_nan)).any()
    assert np.isnan(fn.hvp(THETA, V, t=T5, y=y_nan)).any()
    # through Abs, Max, Piecewise and relu: no comparison swallows the NaN
    pw = compiled("piecewise")
    for name, array in (("t", T5), ("y", Y5)):
        bad = array.copy()
        bad[4] = np.nan
        data = {"t": T5, "y": Y5, "X": X5, name: bad}
        assert np.isnan(pw(THETA, **data)), name
        assert np.isnan(pw.grad(THETA, **data)).any(), name
    # a NaN scalar datum
    assert np.isnan(compiled("smooth_nested")(THETA, t=T5, y=Y5, X=X5, s=np.nan))
    r = compiled("residuals")(THETA, t=T5, y=y_nan, X=X5, s=0.3)
    assert np.isnan(r[2]) and np.all(np.isfinite(np.delete(r, 2)))


def test_data_by_position_and_by_keyword_give_the_same_numbers():
    fn = compiled("smooth_nested")
    kw = {"t": T5, "y": Y5, "X": X5, "s": 0.5}
    pos = (T5, Y5, X5, 0.5)
    shuffled = {"s": 0.5, "X": X5, "t": T5, "y": Y5}
    for by_kw, by_pos, mixed in zip(_methods(fn, data_kwargs=kw).values(),
                                    _methods(fn, data_args=pos).values(),
                                    _methods(fn, data_args=pos[:2],
                                             data_kwargs={"X": X5, "s": 0.5}).values()):
        want = by_kw()
        for got in (by_pos(), mixed()):
            for g, w in zip(np.atleast_1d(np.asarray(got, dtype=object)),
                            np.atleast_1d(np.asarray(want, dtype=object))):
                np.testing.assert_array_equal(np.asarray(g, float), np.asarray(w, float))
    np.testing.assert_array_equal(fn.grad(THETA, **shuffled), fn.grad(THETA, **kw))
    r = compiled("residuals")
    np.testing.assert_array_equal(r.jacobian(THETA, T5, Y5, X5, 0.5), r.jacobian(THETA, **kw))
    np.testing.assert_array_equal(r(THETA, T5, Y5, X=X5, s=0.5), r(THETA, **kw))


def test_data_layouts_give_the_same_numbers():
    """Fortran-ordered, strided, sliced, list, integer and 0-d data: converted, same numbers."""
    fn = compiled("smooth_nested")
    rng = np.random.default_rng(3)
    Xf = np.asfortranarray(rng.uniform(-1, 1, (6, 3)))
    tt, yy = rng.uniform(-1, 1, 12), rng.uniform(-1, 1, 6)
    base = {"t": tt[::2].copy(), "y": yy, "X": np.ascontiguousarray(Xf), "s": 2.0}
    counted = {**base, "t": np.arange(6.0)}
    cases = (
        ("Fortran X", {**base, "X": Xf}, base),
        ("strided t", {**base, "t": tt[::2]}, base),
        ("a slice of a wider X", {**base, "X": np.hstack([Xf, np.ones((6, 2))])[:, :3]}, base),
        ("y as a list", {**base, "y": list(yy)}, base),
        ("s as an int", {**base, "s": 2}, base),
        ("s as a 0-d array", {**base, "s": np.array(2.0)}, base),
        ("integer t", {**base, "t": np.arange(6)}, counted),
    )
    for what, data, same in cases:
        for method in (fn, fn.grad, fn.hessian):
            close(method(THETA, **data), method(THETA, **same), what, rtol=1e-14)


def test_one_module_serves_ten_rows_and_a_million():
    f = MODELS["exp_fit"].expr
    fn = compiled("exp_fit")
    source, path = fn.source, fn.path
    rng = np.random.default_rng(11)

    def numpy_value(theta, tt, yy):  # the model written with NumPy: an independent oracle
        return float(np.sum((yy - theta[0] * np.exp(-theta[1] * tt) - theta[2]) ** 2))

    def numpy_grad(theta, tt, yy):
        e = np.exp(-theta[1] * tt)
        r = yy - theta[0] * e - theta[2]
        return np.array([np.sum(-2 * r * e), np.sum(2 * r * theta[0] * tt * e), np.sum(-2 * r)])

    small = rng.uniform(0, 2, 10), rng.uniform(0, 2, 10)
    close(fn(THETA, *small), numpy_value(THETA, *small), "value, 10 rows", rtol=1e-12)
    close(fn.grad(THETA, *small), numpy_grad(THETA, *small), "grad, 10 rows", rtol=1e-12)
    signatures = {id(d): list(d.signatures) for d in _dispatchers(fn)}
    big = rng.uniform(0, 2, 10**6), rng.uniform(0, 2, 10**6)
    close(fn(THETA, *big), numpy_value(THETA, *big), "value, 10^6 rows", rtol=1e-9)
    close(fn.grad(THETA, *big), numpy_grad(THETA, *big), "grad, 10^6 rows", rtol=1e-9)
    # no new Numba specialisation, and the same module and source
    assert {id(d): list(d.signatures) for d in _dispatchers(fn)} == signatures
    assert fn.source == source and fn.path == path
    again = sb.compile(f, PARAMS, data=[t, y])
    assert again.path == path and again.source == source


# ---- the saved module, without sympy and symbackprop ---------------------------------------

BLOCK = textwrap.dedent("""
    import sys
    for _name in ("sympy", "symbackprop", "mpmath"):
        sys.modules[_name] = None   # "import sympy" now raises ImportError
""")

SAVED_CHILD = BLOCK + textwrap.dedent("""
    import importlib, json, os
    import numpy as np

    module_path, data_path, out_path, kind = sys.argv[1:5]
    sys.path.insert(0, os.path.dirname(module_path))
    m = importlib.import_module(os.path.splitext(os.path.basename(module_path))[0])
    D = dict(np.load(data_path))
    theta, v = D.pop("theta"), D.pop("v")
    names = json.loads(str(D.pop("names")))
    data = [D[n] if D[n].ndim else float(D[n]) for n in names]
    out = {"value": np.asarray(m.value(theta, *data))}
    if kind == "rows":
        out["jacobian"] = m.jacobian(theta, *data)
    else:
        out["grad"] = m.grad(theta, *data)
        f, g = m.value_and_grad(theta, *data)
        out["vg_value"], out["vg_grad"] = np.asarray(f), g
        out["hessian"] = m.hessian(theta, *data)
        out["hvp"] = m.hvp(theta, v, *data)
    out["sample_value"] = np.asarray(m.value(theta, *m.sample_data()))
    try:
        m.value(theta, *[d[:-1] if n == "t" else d for n, d in zip(names, data)])
        out["error"] = np.array("none")
    except m.DataError as exc:
        out["error"] = np.array(("ValueError " if isinstance(exc, ValueError) else "") + str(exc))
    loaded = sorted(k for k, mod in sys.modules.items()
                    if mod is not None and k.split(".")[0] in ("sympy", "symbackprop", "mpmath"))
    out["forbidden_loaded"] = np.array(json.dumps(loaded))
    np.savez(out_path, **out)
""")


def _env(blocker=None):
    import os

    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if blocker is not None:
        env["PYTHONPATH"] = str(blocker)
    env.setdefault("NUMBA_NUM_THREADS", "2")
    return env


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    root = tmp_path_factory.mktemp("saved_data")
    (root / "child.py").write_text(SAVED_CHILD)
    rng = np.random.default_rng(5)
    out = {}
    for name, kind in (("offsets_sums", "scalar"), ("residuals", "rows")):
        fn = compiled(name)
        path = fn.save(root / f"{name}_model.py")
        data = make_data(MODELS[name], 6, 21)
        theta = rng.uniform(-1, 1, 3)
        v = rng.standard_normal(3)
        np.savez(root / f"{name}_in.npz", theta=theta, v=v,
                 names=np.array(json.dumps(list(fn.data_names))), **data)
        proc = subprocess.run(
            [sys.executable, str(root / "child.py"), str(path), str(root / f"{name}_in.npz"),
             str(root / f"{name}_out.npz"), kind],
            env=_env(), cwd=root, check=False, capture_output=True, text=True, timeout=300,
        )
        assert proc.returncode == 0, f"{name} child failed:\n{proc.stdout}\n{proc.stderr}"
        got = dict(np.load(root / f"{name}_out.npz"))
        out[name] = {"fn": fn, "path": Path(path), "data": data, "theta": theta, "v": v,
                     "got": got}
    out["root"] = root
    return out


def test_saved_scalar_module_gives_the_in_process_numbers(saved):
    s = saved["offsets_sums"]
    fn, got, theta, data = s["fn"], s["got"], s["theta"], s["data"]
    assert json.loads(str(got["forbidden_loaded"])) == []
    np.testing.assert_allclose(got["value"], fn(theta, **data), rtol=1e-13)
    np.testing.assert_allclose(got["vg_value"], fn(theta, **data), rtol=1e-13)
    for key, want in (("grad", fn.grad(theta, **data)), ("vg_grad", fn.grad(theta, **data)),
                      ("hessian", fn.hessian(theta, **data)),
                      ("hvp", fn.hvp(theta, s["v"], **data))):
        np.testing.assert_allclose(got[key], want, rtol=1e-13, atol=1e-14, err_msg=key)
    # and those numbers are SymPy's
    want = oracle("offsets_sums", 6)(theta, data)
    close(got["hessian"], want["hessian"], "saved hessian vs sympy")
    assert np.isfinite(got["sample_value"])
    # a wrong length is the module's DataError (a ValueError) naming the array
    error = str(got["error"])  # the child gave t one row fewer than X and y
    assert error.startswith("ValueError"), error
    assert re.search(r"ties (t and \w|\w and t), but .*t has 5", error), error


def test_saved_residual_module_gives_the_in_process_numbers(saved):
    s = saved["residuals"]
    fn, got, theta, data = s["fn"], s["got"], s["theta"], s["data"]
    assert json.loads(str(got["forbidden_loaded"])) == []
    np.testing.assert_allclose(got["value"], fn(theta, **data), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(got["jacobian"], fn.jacobian(theta, **data), rtol=1e-13,
                               atol=1e-15)
    close(got["jacobian"], oracle("residuals", 6)(theta, data)["jacobian"], "vs sympy")
    assert got["jacobian"].shape == (6, 3)
    error = str(got["error"])  # the child gave t one row fewer than X and y
    assert re.search(r"ties (t and \w|\w and t), but .*t has 5", error), error


@pytest.mark.parametrize("name", ["offsets_sums", "residuals"])
def test_running_the_saved_module_self_checks_and_exits_0(saved, name):
    root = saved["root"]
    blocker = root / "blocker"
    for mod in ("sympy", "symbackprop"):
        (blocker / mod).mkdir(parents=True, exist_ok=True)
        (blocker / mod / "__init__.py").write_text(f"raise ImportError('{mod} is blocked')\n")
    env = _env(blocker)
    probe = subprocess.run([sys.executable, "-c", "import sympy"], env=env, cwd=root,
                           check=False, capture_output=True, text=True, timeout=60)
    assert probe.returncode != 0 and "blocked" in probe.stderr
    proc = subprocess.run([sys.executable, str(saved[name]["path"])], env=env, cwd=root,
                          check=False, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}"
    assert "ok" in proc.stdout and "MISMATCH" not in proc.stdout, proc.stdout
