"""Shared hypothesis strategies and SymPy reference helpers for the oracle tests.

``expression_dags()`` draws a random expression DAG: a list of intermediate nodes where each new
node applies an operation to EARLIER nodes (variables or intermediates), so nodes are reused and
the final SymPy expression has shared subexpressions. Each op keeps its inputs in-domain
(log(1 + a**2), sqrt(1 + a**2), a / (2 + cos(b)), tan(tanh(a)), ...). Non-smooth ops (Abs,
Max/Min, Piecewise) record a "kink" expression whose sign change marks the non-smooth set, so a
test can pick points safely away from it.

The reference side is SymPy itself: ``sympy.diff`` results turned into NumPy callables by
``lambdify`` (``reference``), with symbackprop's own SymPy functions given NumPy definitions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import scipy.special
import sympy as sp
from hypothesis import strategies as st

import symbackprop as sb

# ---- NumPy definitions for lambdify ------------------------------------------------------------


def _np_sigmoid(z):
    z = np.asarray(z, dtype=float)
    return np.where(
        z >= 0, 1.0 / (1.0 + np.exp(-np.abs(z))), np.exp(-np.abs(z)) / (1.0 + np.exp(-np.abs(z)))
    )


def _np_softplus(z):
    z = np.asarray(z, dtype=float)
    return np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))


LAMBDIFY_MODULES = [
    {
        "sigmoid": _np_sigmoid,
        "softplus": _np_softplus,
        "erf": scipy.special.erf,
        "erfc": scipy.special.erfc,
    },
    "numpy",
]


def _is_step_derivative(t) -> bool:
    """DiracDelta, or an unevaluated derivative of sign/Heaviside: 0 away from the kink."""
    if isinstance(t, sp.DiracDelta):
        return True
    return isinstance(t, sp.Derivative) and isinstance(t.expr, (sp.sign, sp.Heaviside))


def _drop_dirac(e: sp.Expr) -> sp.Expr:
    """Derivatives of sign/Heaviside are 0 away from the kink (the points stay away from it)."""
    return e.replace(_is_step_derivative, lambda t: sp.S.Zero)


def lambdify_list(exprs, variables):
    """A NumPy callable f(*values) -> float array of the same shape as ``exprs``."""
    exprs = [_drop_dirac(sp.sympify(e)) for e in exprs]
    f = sp.lambdify(list(variables), exprs, modules=LAMBDIFY_MODULES)

    def call(point):
        out = f(*[float(p) for p in point])
        return np.array([float(np.asarray(o, dtype=float)) for o in out], dtype=float)

    return call


@dataclass
class Reference:
    """Value, gradient and Hessian of a scalar expression from sympy.diff + lambdify."""

    value: object
    grad: object
    hessian: object
    n: int

    def hvp(self, x, v):
        return self.hessian(x) @ np.asarray(v, dtype=float)


def reference(expr: sp.Expr, variables) -> Reference:
    n = len(variables)
    first = [sp.diff(expr, v) for v in variables]
    second = [sp.diff(first[i], variables[j]) for i in range(n) for j in range(n)]
    value = lambdify_list([expr], variables)
    grad = lambdify_list(first, variables)
    hess = lambdify_list(second, variables)
    return Reference(lambda x: value(x)[0], grad, lambda x: hess(x).reshape(n, n), n)


def central_difference_grad(f, x, h=None):
    """Central differences of a scalar function ``f`` at ``x``."""
    x = np.asarray(x, dtype=float)
    if h is None:
        h = np.finfo(float).eps ** (1 / 3) * np.maximum(1.0, np.abs(x))
    g = np.empty_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h[i]
        g[i] = (f(x + e) - f(x - e)) / (2 * h[i])
    return g


def assert_close(got, want, *, rtol=1e-6, atol_scale=1e-7, what=""):
    """|got - want| <= rtol |want| + atol_scale (1 + max|want|), elementwise."""
    got = np.asarray(got, dtype=float)
    want = np.asarray(want, dtype=float)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != {want.shape}"
    scale = 1.0 + (np.max(np.abs(want)) if want.size else 0.0)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol_scale * scale, err_msg=what)


# ---- the expression DAG strategy ---------------------------------------------------------------

C = sp.Rational


@dataclass(frozen=True)
class Op:
    name: str
    arity: int
    build: object  # (*args) -> expr
    kink: object = None  # (*args) -> expr whose zero set is the non-smooth set, or None


def _piecewise(a, b):
    return sp.Piecewise((a * b + 1, b > 0), (sp.sin(a) - b, True))


OPS: tuple[Op, ...] = (
    Op("add", 2, lambda a, b: a + b),
    Op("sub", 2, lambda a, b: a - b),
    Op("mul", 2, lambda a, b: a * b),
    Op("div", 2, lambda a, b: a / (2 + sp.cos(b))),
    Op("affine", 1, lambda a: C(3, 2) * a - C(1, 3)),
    Op("square", 1, lambda a: a**2),
    Op("cube", 1, lambda a: a**3),
    Op("inverse_square", 1, lambda a: (2 + sp.sin(a)) ** -2),
    Op("cbrt", 1, lambda a: (1 + a**2) ** C(1, 3)),
    Op("pow_m32", 1, lambda a: (1 + a**2) ** C(-3, 2)),
    Op("pow_var", 2, lambda a, b: (2 + sp.sin(a)) ** sp.tanh(b)),
    Op("exp", 1, lambda a: sp.exp(a)),
    Op("log", 1, lambda a: sp.log(1 + a**2)),
    Op("sqrt", 1, lambda a: sp.sqrt(1 + a**2)),
    Op("sin", 1, sp.sin),
    Op("cos", 1, sp.cos),
    Op("tan", 1, lambda a: sp.tan(sp.tanh(a))),
    Op("tanh", 1, sp.tanh),
    Op("sinh", 1, sp.sinh),
    Op("cosh", 1, sp.cosh),
    Op("atan", 1, sp.atan),
    Op("asinh", 1, sp.asinh),
    Op("erf", 1, sp.erf),
    Op("abs", 1, sp.Abs, lambda a: a),
    Op("max", 2, sp.Max, lambda a, b: a - b),
    Op("min", 2, sp.Min, lambda a, b: a - b),
    Op("sigmoid", 1, sb.sigmoid),
    Op("softplus", 1, sb.softplus),
    Op("piecewise", 2, _piecewise, lambda a, b: b),
)


@dataclass
class Dag:
    expr: sp.Expr
    variables: list
    kinks: list = field(default_factory=list)
    steps: list = field(default_factory=list)  # human-readable construction, for failures

    def __repr__(self) -> str:
        lines = [f"Dag over {self.variables}:"] + [f"  {s}" for s in self.steps]
        lines.append(f"  f = {self.expr}")
        return "\n".join(lines)


@st.composite
def expression_dags(draw, min_vars=2, max_vars=4, min_nodes=2, max_nodes=6):
    """A random scalar expression whose intermediate nodes are shared."""
    n = draw(st.integers(min_vars, max_vars))
    variables = list(sp.symbols(f"x0:{n}", real=True))
    nodes: list[sp.Expr] = list(variables)
    names = [str(v) for v in variables]
    kinks: list[sp.Expr] = []
    steps: list[str] = []
    k = draw(st.integers(min_nodes, max_nodes))
    for i in range(k):
        op = draw(st.sampled_from(OPS))
        # Bias towards recent nodes, but any earlier node (a variable or an intermediate) can be
        # an argument, and the same node may be used by several later nodes.
        idx = [draw(st.integers(0, len(nodes) - 1)) for _ in range(op.arity)]
        args = [nodes[j] for j in idx]
        nodes.append(op.build(*args))
        if op.kink is not None:
            kink = op.kink(*args)
            if kink != 0:  # Max(a, a) and the like: SymPy already removed the non-smooth op
                kinks.append(kink)
        names.append(f"t{i}")
        steps.append(f"t{i} = {op.name}({', '.join(names[j] for j in idx)})")
    intermediates = nodes[n:]
    # The output uses every intermediate (so each shared node is live), the last one most.
    coefs = draw(
        st.lists(
            st.sampled_from([C(1), C(-1), C(1, 2), C(2), C(-1, 3)]),
            min_size=len(intermediates),
            max_size=len(intermediates),
        )
    )
    expr = sum((c * t for c, t in zip(coefs, intermediates)), sp.S.Zero)
    if expr.is_number or not expr.free_symbols:
        expr = expr + variables[0] ** 2
    return Dag(expr=expr, variables=variables, kinks=kinks, steps=steps)


def safe_points(dag: Dag, seed: int, count: int, low=-1.5, high=1.5, margin=1e-3, tries=50):
    """``count`` points uniform in [low, high]^n whose distance from every kink is at least
    ``margin`` (in the kink expression's value), also at the finite-difference stencil points.
    Returns None if no such points are found."""
    rng = np.random.default_rng(seed)
    n = len(dag.variables)
    kink = lambdify_list(dag.kinks, dag.variables) if dag.kinks else None
    points = []
    for _ in range(tries):
        x = rng.uniform(low, high, n)
        if kink is not None:
            h = np.finfo(float).eps ** (1 / 3) * np.maximum(1.0, np.abs(x))
            k0 = kink(x)
            if not np.all(np.isfinite(k0)) or np.any(np.abs(k0) < margin):
                continue
            same_side = True
            for i in range(n):
                for s in (-2, -1, 1, 2):
                    e = np.zeros(n)
                    e[i] = s * h[i]
                    if np.any(np.sign(kink(x + e)) != np.sign(k0)):
                        same_side = False
            if not same_side:
                continue
        points.append(x)
        if len(points) == count:
            return np.array(points)
    return None
