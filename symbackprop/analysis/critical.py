"""Critical points of a scalar SymPy expression, and of a network's loss, classified by the
Hessian's eigenvalues: minimum, maximum, saddle or degenerate (a zero eigenvalue).

Polynomial gradients are solved exactly (a lex Groebner basis, then real roots variable by
variable), so values such as 2 - sqrt(2) stay exact; anything else is found by multi-start
Levenberg-Marquardt-damped Newton on the compiled gradient and Hessian inside a box,
deduplicated and refined.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import mpmath
import numpy as np
import sympy as sp
from sympy.core.function import AppliedUndef

from ..errors import SymbackpropError
from ..frontend.symbols import symbol_list
from ..limits import measure
from ..pipeline import compile as compile_function

KINDS = ("minimum", "maximum", "saddle", "degenerate")
NOT_CRITICAL = "not critical"  # the kind classify gives a point whose gradient is not zero
DEFAULT_BOX = (-10.0, 10.0)
# The exact solver's cost is bounded by the system's size, fixed before it starts: at most
# MAX_BEZOUT candidate solutions (the product of the equations' degrees); a dense cubic
# gradient in 3 variables (27) already takes SymPy's Groebner basis about 10 s.
MAX_BEZOUT = 16
MAX_EXACT_TREE = 400  # exact classification only for points and Hessians up to this size
EIGENVALUE_TOL = 1e-8  # numeric |eigenvalue| <= this * max(1, max |eigenvalue|) counts as zero
DIGITS = 50  # working precision of the numeric steps inside the symbolic solver
# A plain Symbol (the matrices hold numbers only): SymPy's factor_list sees a Dummy generator
# as a constant and returns the polynomial unfactored.
_LAMBDA = sp.Symbol("lambda")


# ---- public results -------------------------------------------------------------------------


@dataclass(eq=False, repr=False)
class CriticalPoint:
    """A point with its value, Hessian, sorted eigenvalues and kind.

    ``kind`` is "minimum", "maximum", "saddle" or "degenerate" for a critical point. A
    point whose gradient is not zero (only :func:`classify` returns one) has kind
    "not critical" and ``is_critical`` False; its ``gradient`` and ``gradient_norm`` say how
    far from critical it is, and its eigenvalues are the Hessian's there.

    Exact points (``exact`` True) hold SymPy numbers: ``point`` values, ``value``,
    ``hessian`` (a Matrix), ``eigenvalues`` (a tuple, ascending; CRootOf where no radical
    form is real) and ``undecided`` (tuples). Numeric points hold floats and NumPy arrays.
    ``tol`` is the relative tolerance under which a numeric eigenvalue counts as zero.
    ``undecided`` lists the null vectors of the Hessian: the directions along which the
    second-derivative test says nothing. Mixed-sign eigenvalues make a saddle whatever the
    zero ones do, so a saddle may also list undecided directions.

    >>> import sympy as sp
    >>> from symbackprop.analysis.critical import classify
    >>> x = sp.Symbol("x")
    >>> p = classify(x**4, [x], {x: 0})
    >>> p.kind, p.eigenvalues, p.undecided
    ('degenerate', (0,), ((1,),))
    >>> print(p)
    degenerate at x = 0, f = 0: eigenvalue 0 along (1,); the second-derivative test cannot decide
    """

    point: dict
    value: object
    hessian: object
    eigenvalues: object
    kind: str
    exact: bool
    undecided: tuple = ()
    gradient: object = None
    gradient_norm: float = 0.0
    is_critical: bool = True
    tol: float = field(default=EIGENVALUE_TOL)

    @property
    def coordinates(self) -> tuple:
        """The point's values in the order of the variables."""
        return tuple(self.point.values())

    def explain(self) -> str:
        """The verdict in plain words, with the eigenvalues that decide it."""
        where = _where(self.point, self.exact) + f", f = {_number(self.value, self.exact)}"
        eigs = ", ".join(_number(e, self.exact) for e in self.eigenvalues)
        plural = "s" if len(self.eigenvalues) > 1 else ""
        if not self.is_critical:
            grad = ", ".join(_number(g, self.exact) for g in self.gradient)
            return (
                f"not a critical point: at {where} the gradient is ({grad}), norm "
                f"{self.gradient_norm:.3g}, not zero; the Hessian there has eigenvalue{plural} "
                f"{eigs}"
            )
        if self.kind == "minimum":
            return f"minimum at {where}: eigenvalue{plural} {eigs} all positive"
        if self.kind == "maximum":
            return f"maximum at {where}: eigenvalue{plural} {eigs} all negative"
        signs = _signs(self.eigenvalues, self.exact, self.tol)
        along = "; ".join(
            "eigenvalue 0 along (" + ", ".join(_number(c, self.exact) for c in v) + ",)"
            if len(v) == 1
            else "eigenvalue 0 along (" + ", ".join(_number(c, self.exact) for c in v) + ")"
            for v in self.undecided
        )
        if self.kind == "saddle":
            text = (
                f"saddle at {where}: eigenvalues {eigs}, {signs.count(-1)} negative and "
                f"{signs.count(1)} positive"
            )
            return text + (f" ({along}, which does not change the verdict)" if along else "")
        others = [s for s in signs if s]
        rest = ""
        if others:
            rest = "; the others are all " + ("positive" if others[0] > 0 else "negative")
        return f"degenerate at {where}: {along}{rest}; the second-derivative test cannot decide" + (
            "" if len(self.eigenvalues) == 1 else f" (eigenvalues {eigs})"
        )

    __str__ = explain

    def __repr__(self) -> str:
        return f"<CriticalPoint {self.explain()}>"


@dataclass(eq=False)
class NetworkPoint:
    """A network's parameters classified by the spectrum of the loss Hessian.

    ``eigenvalues`` (ascending, all P of them) come from ``np.linalg.eigvalsh``; an
    eigenvalue counts as zero when its magnitude is at most ``zero_tol``. ``kind`` is
    "minimum", "maximum", "saddle", "degenerate", or "not critical" when the gradient norm
    exceeds ``grad_tol``.
    """

    loss: float
    gradient_norm: float
    eigenvalues: np.ndarray
    n_negative: int
    n_zero: int
    n_positive: int
    kind: str
    zero_tol: float
    grad_tol: float

    @property
    def n_params(self) -> int:
        return len(self.eigenvalues)

    def __str__(self) -> str:
        what = "not a critical point" if self.kind == NOT_CRITICAL else f"{self.kind}"
        head = (
            f"{what} of the loss over {self.n_params} parameters: loss {self.loss:.6g}, "
            f"gradient norm {self.gradient_norm:.3g}"
        )
        if self.kind == NOT_CRITICAL:
            head += f" (above {self.grad_tol:.3g})"
        spectrum = (
            f"Hessian eigenvalues from {self.eigenvalues[0]:.4g} to {self.eigenvalues[-1]:.4g}: "
            f"{self.n_negative} negative, {self.n_zero} zero (|eigenvalue| <= "
            f"{self.zero_tol:.3g}), {self.n_positive} positive"
        )
        return f"{head}; {spectrum}"


# ---- public functions ------------------------------------------------------------------------


def critical_points(
    f,
    vars,
    *,
    box=None,
    starts=200,
    seed=0,
    tol=1e-10,
    method="auto",
) -> list[CriticalPoint]:
    """All critical points of ``f`` in ``vars`` (real ones), classified; sorted by coordinates.

    ``method="auto"`` solves grad f = 0 exactly when its entries are polynomials (or rational
    functions) with at most MAX_BEZOUT candidate solutions (the product of their degrees), a
    bound on SymPy's work fixed before it starts (no timer: the same answer in any thread);
    exact roots stay exact, roots with no real radical form are evaluated to 50 digits and
    rounded to floats.
    Otherwise (``method="numeric"``, a transcendental f, a curve of critical points, or no
    candidates) it runs Levenberg-Marquardt-damped Newton on grad f = 0 from ``starts``
    uniform random points (an int, with ``seed``, or an array of shape (k, n)) in ``box``,
    compiling f with :func:`symbackprop.compile`. Each run is refined until its gradient norm
    stops decreasing; points with gradient norm above ``tol`` (or a float64 rounding bound
    of 1000 eps (1 + |H|)(1 + |x|) when that is larger) are dropped, and points closer than
    1e-6 (1 + |x|) are merged.

    ``box`` is (lo, hi) for every variable, a list of (lo, hi) per variable, or a dict from
    variables (or names) to (lo, hi); the default is [-10, 10] for each. The numeric search
    sees only the box; the symbolic solver finds every real point and the box, when given,
    filters them. A curve of critical points found numerically comes back as a sample of
    degenerate points on it.

    >>> import sympy as sp
    >>> x = sp.Symbol("x")
    >>> for p in critical_points(x**3 / 3 - 2 * x**2 + 2 * x, [x]):
    ...     print(p)
    maximum at x = 2 - sqrt(2), f = -4/3 + 4*sqrt(2)/3: eigenvalue -2*sqrt(2) all negative
    minimum at x = sqrt(2) + 2, f = -4*sqrt(2)/3 - 4/3: eigenvalue 2*sqrt(2) all positive
    """
    f, variables = _check_function(f, vars)
    bounds = _box(box, variables)
    if method not in ("auto", "symbolic", "numeric"):
        raise SymbackpropError(f"method must be 'auto', 'symbolic' or 'numeric'; got {method!r}")
    gradient = [sp.diff(f, v) for v in variables]
    if all(g == 0 for g in gradient):
        raise SymbackpropError(
            f"f does not depend on {', '.join(map(str, variables))}: every point is critical"
        )
    solutions = None
    if method != "numeric":
        solutions = _solve_polynomial(f, gradient, variables)
        if solutions is None and method == "symbolic":
            raise SymbackpropError(
                "SymPy could not solve grad f = 0 exactly (not a polynomial system, more "
                f"than MAX_BEZOUT={MAX_BEZOUT} candidate solutions, or a curve of critical "
                "points); use method='auto' or 'numeric'"
            )
    if solutions is not None:
        if box is not None:
            solutions = [s for s in solutions if _inside(_floats(s, variables), bounds, 1e-12)]
        points = [_classify_at(f, variables, s, 1e-8, EIGENVALUE_TOL) for s in solutions]
    else:
        points = _numeric_search(f, variables, bounds, starts, seed, tol)
    return sorted(points, key=lambda p: tuple(float(sp.N(c)) for c in p.coordinates))


def classify(f, vars, point, *, tol=1e-8, data=None) -> CriticalPoint:
    """Classify ``f`` at ``point``: a dict symbol -> number, a dict name -> number, or a
    sequence in the order of ``vars``.

    A model over data is classified numerically with ``data`` (a dict name -> array, the
    names as str, Symbol or IndexedBase, or a tuple in the data order): ``f`` is a compiled
    DataFunction (``vars`` None or its parameters) or a SymPy expression with sums over data
    (``data`` then a dict IndexedBase/Symbol -> array; it is compiled with sb.compile), and the
    Hessian's eigenvalues come from the generated Hessian at the point (see
    :func:`classify_data`).

    Exact values (ints, Rationals, SymPy numbers) give an exact answer: the gradient must be
    exactly zero. Floats give a numeric one: the gradient counts as zero when its norm is at
    most ``tol``, an eigenvalue when its magnitude is at most ``tol * max(1, max |eig|)``. A
    point with a nonzero gradient gets kind "not critical" (see :class:`CriticalPoint`).

    >>> import sympy as sp
    >>> x, y = sp.symbols("x y")
    >>> print(classify(x**2 - y**2, [x, y], {"x": 0, "y": 0}))
    saddle at (x, y) = (0, 0), f = 0: eigenvalues -2, 2, 1 negative and 1 positive
    >>> p = classify(x**2 - y**2, [x, y], [1, 0])
    >>> p.kind, p.gradient_norm
    ('not critical', 2.0)
    """
    from .bound import is_data_expression, is_data_function

    if data is not None or is_data_function(f) or is_data_expression(f):
        return classify_data(f, vars, point, data, tol)
    f, variables = _check_function(f, vars)
    return _classify_at(f, variables, _point(point, variables), tol, tol)


def classify_data(f, vars, point, data, tol=1e-8) -> CriticalPoint:
    """A point of a model over data classified by the generated gradient and Hessian.

    The gradient counts as zero when its norm is at most ``tol`` (it grows with the number of
    rows: scale ``tol`` with the data), an eigenvalue when its magnitude is at most
    ``tol * max(1, max |eigenvalue|)``. The result is numeric (``exact`` False).

    >>> import numpy as np, sympy as sp
    >>> i, N = sp.Symbol("i", integer=True), sp.Symbol("N", integer=True)
    >>> t, y, a, b = sp.IndexedBase("t"), sp.IndexedBase("y"), sp.Symbol("a"), sp.Symbol("b")
    >>> f = sp.Sum((y[i] - a * t[i] - b) ** 2, (i, 0, N - 1))
    >>> p = classify(f, [a, b], {a: 2, b: 1}, data={t: [0.0, 1.0, 2.0], y: [1.0, 3.0, 5.0]})
    >>> p.kind, p.eigenvalues.round(3)
    ('minimum', array([ 1.675, 14.325]))
    """
    from .bound import bind, data_name, is_data_function

    if is_data_function(f):
        fn = f
        if vars is not None:
            names = [str(v) for v in symbol_list(vars, distinct=True)]
            if names != list(fn.param_names):
                raise SymbackpropError(
                    f"vars {', '.join(names)} are not the model's parameters "
                    f"({', '.join(fn.param_names)}, in that order); pass vars=None"
                )
    else:
        if vars is None:
            raise SymbackpropError("classify of an expression over data needs vars")
        if not isinstance(data, dict):
            raise SymbackpropError(
                "classify of an expression over data needs data as a dict IndexedBase (or "
                "Symbol) -> array, so it knows what is data"
            )
        items = list(data)
        for key in items:
            if not isinstance(key, (sp.IndexedBase, sp.Symbol)):
                raise SymbackpropError(
                    f"data key {key!r}: give sp.IndexedBase arrays (t) and Symbols for scalars"
                )
        fn = compile_function(f, vars, data=items)
        data = {data_name(k): v for k, v in data.items()}
    if fn.is_vector:
        raise SymbackpropError("classify needs a scalar model; this one has a Jacobian")
    model = bind(fn, data)
    variables = (
        symbol_list(vars, distinct=True)
        if vars is not None
        else [sp.Symbol(n) for n in fn.param_names]
    )
    point = _point(point, variables)
    x = _floats(point, variables)
    return classify_numeric((model, model.grad, model.hessian), variables, x, tol, tol)


def classify_network(model, params, X, Y, *, tol=None, grad_tol=1e-6) -> NetworkPoint:
    """Classify a network's parameters by the Hessian of its loss over all P parameters.

    The gradient comes from ``model.loss_and_grad`` and the (P, P) Hessian from
    ``model.hessian``; its eigenvalues from ``np.linalg.eigvalsh``. An eigenvalue counts as
    zero when its magnitude is at most ``tol``, by default max |eigenvalue| * P * eps (NumPy's
    ``matrix_rank`` rule: what rounding alone can make of a zero). The point is "not
    critical" when the gradient norm exceeds ``grad_tol``; otherwise no negative eigenvalue
    and no zero one is a minimum, mixed signs a saddle, and so on as for :func:`classify`.

    Any object with ``loss_and_grad(params, X, Y)`` and ``hessian(params, X, Y)`` works, so
    here a stand-in for a compiled network with loss (w0 - 1)^2 - w1^2:

    >>> import numpy as np
    >>> class Quadratic:
    ...     def loss_and_grad(self, params, X, Y):
    ...         w = params["w"]
    ...         return (w[0] - 1) ** 2 - w[1] ** 2, {"w": np.array([2 * (w[0] - 1), -2 * w[1]])}
    ...     def hessian(self, params, X, Y):
    ...         return np.diag([2.0, -2.0])
    >>> r = classify_network(Quadratic(), {"w": np.array([1.0, 0.0])}, None, None)
    >>> r.kind, r.n_negative, r.n_zero, r.n_positive
    ('saddle', 1, 0, 1)
    >>> print(classify_network(Quadratic(), {"w": np.array([0.0, 0.0])}, None, None))
    ... # doctest: +NORMALIZE_WHITESPACE
    not a critical point of the loss over 2 parameters: loss 1, gradient norm 2 (above 1e-06);
    Hessian eigenvalues from -2 to 2: 1 negative, 0 zero (|eigenvalue| <= 8.88e-16), 1 positive
    """
    for method in ("loss_and_grad", "hessian"):
        if not callable(getattr(model, method, None)):
            raise SymbackpropError(
                f"model has no {method} method: pass a compiled network (Sequential.compile())"
            )
    loss, grads = model.loss_and_grad(params, X, Y)
    names = list(getattr(model, "param_names", grads))
    g = np.concatenate([np.ravel(np.asarray(grads[k], dtype=np.float64)) for k in names])
    H = np.asarray(model.hessian(params, X, Y), dtype=np.float64)
    if H.shape != (g.size, g.size):
        raise SymbackpropError(
            f"model.hessian returned shape {H.shape}; expected ({g.size}, {g.size}) for "
            f"{g.size} parameters"
        )
    eigenvalues = np.linalg.eigvalsh((H + H.T) / 2)
    if tol is None:
        largest = np.max(np.abs(eigenvalues)) if eigenvalues.size else 0.0
        tol = largest * eigenvalues.size * np.finfo(np.float64).eps
    negative = int(np.sum(eigenvalues < -tol))
    positive = int(np.sum(eigenvalues > tol))
    zero = eigenvalues.size - negative - positive
    gradient_norm = float(np.linalg.norm(g))
    if not gradient_norm <= grad_tol:
        kind = NOT_CRITICAL
    else:
        kind = _kind_from_counts(negative, zero, positive)
    return NetworkPoint(
        float(loss), gradient_norm, eigenvalues, negative, zero, positive, kind, float(tol),
        grad_tol,
    )  # fmt: skip


# ---- input checks -----------------------------------------------------------------------------


def _check_function(f, vars) -> tuple[sp.Expr, list[sp.Symbol]]:
    variables = symbol_list(vars, distinct=True)
    if isinstance(f, (int, float)) and not isinstance(f, bool):
        f = sp.sympify(f)
    if not isinstance(f, sp.Expr) or isinstance(f, sp.MatrixExpr):
        raise SymbackpropError(
            f"f must be one scalar SymPy expression; got {type(f).__name__}: {f!r}"
        )
    undefined = sorted({str(g.func) for g in f.atoms(AppliedUndef)})
    if undefined:
        raise SymbackpropError(f"f uses undefined function(s) {', '.join(undefined)}")
    extra = sorted(f.free_symbols - set(variables), key=str)
    if extra:
        raise SymbackpropError(
            f"f has free symbol(s) {', '.join(map(str, extra))} that are not in vars "
            f"({', '.join(map(str, variables))}); add them or substitute their values"
        )
    return f, variables


def _point(point, variables) -> dict:
    """The point as {variable: SymPy number}, in the order of ``variables``."""
    by_name = {str(v): v for v in variables}
    if isinstance(point, dict):
        given = {}
        for k, value in point.items():
            sym = by_name.get(k) if isinstance(k, str) else (k if k in variables else None)
            if sym is None:
                raise SymbackpropError(
                    f"point has {k}, which is not a variable (variables: {', '.join(by_name)})"
                )
            given[sym] = value
        missing = [str(v) for v in variables if v not in given]
        if missing:
            raise SymbackpropError(f"point is missing a value for {', '.join(missing)}")
    else:
        try:
            items = list(np.asarray(point, dtype=object).ravel())
        except TypeError:
            raise SymbackpropError(f"point must be a dict or a sequence; got {point!r}") from None
        if len(items) != len(variables):
            raise SymbackpropError(
                f"point has {len(items)} values for {len(variables)} variables "
                f"({', '.join(by_name)})"
            )
        given = dict(zip(variables, items))
    out = {}
    for v in variables:
        try:
            value = sp.sympify(given[v])
        except (sp.SympifyError, TypeError):
            value = None
        if not isinstance(value, sp.Expr) or value.free_symbols or not value.is_number:
            raise SymbackpropError(f"point value for {v} is not a number: {given[v]!r}")
        if value.has(sp.nan, sp.zoo, sp.oo, -sp.oo):
            raise SymbackpropError(f"point value for {v} is {value}: not a finite number")
        out[v] = value
    return out


def _box(box, variables) -> tuple[np.ndarray, np.ndarray]:
    n = len(variables)
    if box is None:
        pairs = [DEFAULT_BOX] * n
    elif isinstance(box, dict):
        names = {str(v): v for v in variables}
        for k in box:
            if (names.get(k) if isinstance(k, str) else k) not in variables:
                raise SymbackpropError(f"box has {k}, which is not a variable")
        pairs = [box.get(v, box.get(str(v), DEFAULT_BOX)) for v in variables]
    elif len(box) == 2 and all(np.ndim(b) == 0 for b in box):
        pairs = [tuple(box)] * n
    else:
        pairs = list(box)
        if len(pairs) != n:
            raise SymbackpropError(f"box has {len(pairs)} (lo, hi) pairs for {n} variables")
    try:
        lo, hi = (np.array(side, dtype=np.float64) for side in zip(*pairs))
    except (TypeError, ValueError):
        raise SymbackpropError(f"box must be (lo, hi) pairs of numbers; got {box!r}") from None
    for v, a, b in zip(variables, lo, hi):
        if not (np.isfinite(a) and np.isfinite(b) and a < b):
            raise SymbackpropError(f"box for {v} must be finite with lo < hi; got ({a}, {b})")
    return lo, hi


# ---- symbolic solving -------------------------------------------------------------------------


def _solve_polynomial(f, gradient, variables) -> list[dict] | None:
    """Every real solution of grad f = 0 as {variable: value}, or None when this is not a
    polynomial system small enough to solve exactly (MAX_BEZOUT) or its solutions form a
    curve."""
    if f.has(sp.Float):  # solve the rational twin exactly, report floats
        f = sp.nsimplify(f, rational=True)
        gradient = [sp.diff(f, v) for v in variables]
    numerators, denominators = [], []
    for g in gradient:
        num, den = sp.together(g).as_numer_denom()
        if not (num.is_polynomial(*variables) and den.is_polynomial(*variables)):
            return None
        num = sp.expand(num)
        if num != 0:
            numerators.append(num)
            denominators.append(den)
    polys = [sp.Poly(p, *variables) for p in numerators]
    if any(not p.domain.is_QQ and not p.domain.is_ZZ for p in polys):
        return None
    if math.prod(max(1, p.total_degree()) for p in polys) > MAX_BEZOUT:
        return None
    # grevlex first, then FGLM to lex: the same (unique) reduced lex basis, several times faster
    basis = sp.groebner(numerators, *variables, order="grevlex")
    if list(basis.exprs) == [1]:
        return []
    if not basis.is_zero_dimensional:
        return None
    basis = basis.fglm("lex")
    try:
        solutions = _back_substitute(list(basis.exprs), variables)
    except (_NotZeroDimensional, mpmath.libmp.NoConvergence):
        return None
    return [
        s for s in solutions if all(_sign(_at(d, s)) != 0 for d in denominators)
    ]  # a zero denominator: f is undefined there


class _NotZeroDimensional(Exception):
    """A variable no equation pins down: a curve of critical points, for the numeric path."""


def _back_substitute(basis, variables) -> list[dict]:
    """Solve a zero-dimensional lex Groebner basis from the last variable up: its elements
    in vars[k:] alone determine vars[k] once vars[k+1:] are known."""
    partial = [{}]
    for k in range(len(variables) - 1, -1, -1):
        v, tail = variables[k], set(variables[k:])
        eqs = [p for p in basis if p.free_symbols <= tail and v in p.free_symbols]
        partial = [{**s, v: r} for s in partial for r in _common_roots(eqs, v, s)]
    return [{v: s[v] for v in variables} for s in partial]


def _common_roots(eqs, v, known) -> list:
    """Real values of ``v`` where every eq (with ``known`` substituted) vanishes: exact where
    SymPy gives a real radical or a CRootOf, else 50-digit Floats."""
    # A CRootOf value makes every later value inexact anyway, and Poly rejects it (its own
    # polynomial's generator clashes with ours): substitute it as a Float with guard digits.
    known = {k: sp.N(r, DIGITS + 20) if r.has(sp.CRootOf) else r for k, r in known.items()}
    polys = [sp.Poly(sp.expand(e.subs(known)), v, domain="EX") for e in eqs]
    polys = [p for p in polys if any(_sign(c) != 0 for c in p.all_coeffs())]
    if not polys:
        raise _NotZeroDimensional(f"{v} is free once {', '.join(map(str, known))} are known")
    base = min(polys, key=lambda p: p.degree())
    candidates = _exact_real_roots(base)
    if candidates is None:
        candidates = _numeric_real_roots(base)
    return [r for r in candidates if all(_vanishes(p, r) for p in polys)]


def _exact_real_roots(poly) -> list | None:
    """Real roots of a univariate polynomial, exact, without multiplicity; None if SymPy
    gives no exact real form."""
    expr = poly.as_expr()
    v = poly.gen
    if all(c.is_Rational for c in poly.all_coeffs()):
        roots = []
        for factor, _ in sp.factor_list(expr, v)[1]:
            roots += sp.Poly(factor, v).real_roots()
        return roots
    if poly.degree() > 2 or any(c.has(sp.Float) for c in poly.all_coeffs()):
        return None  # (SymPy's roots would round Float coefficients to 15 digits)
    roots = []
    for r in sp.roots(expr, v, multiple=True):
        r = sp.radsimp(r)
        if sp.im(r).equals(0):
            roots.append(sp.re(r) if r.has(sp.I) else r)
        elif sp.im(r).equals(0) is None:
            return None
    return list(dict.fromkeys(roots))


def _numeric_real_roots(poly) -> list:
    with mpmath.workdps(DIGITS):  # (mpf(...) rounds to the working precision when made)
        coeffs = [mpmath.mpf(str(c.evalf(DIGITS))) for c in poly.all_coeffs()]
        found = mpmath.polyroots(coeffs, maxsteps=500, extraprec=4 * DIGITS)
    scale = max(1.0, max(abs(complex(r)) for r in found)) if found else 1.0
    roots = []
    for r in found:
        if abs(mpmath.im(r)) <= 1e-20 * scale:
            value = sp.Float(mpmath.re(r), DIGITS)
            if all(abs(value - other) > 1e-20 * scale for other in roots):
                roots.append(value)
    return roots


def _vanishes(poly, r) -> bool:
    """poly(r) == 0, decided at 50 digits relative to the size of its terms."""
    coeffs = [c.evalf(DIGITS) for c in poly.all_coeffs()]
    x = sp.N(r, DIGITS)
    size = sum(abs(c) * abs(x) ** k for k, c in enumerate(reversed(coeffs)))
    value = sum(c * x**k for k, c in enumerate(reversed(coeffs)))
    return abs(value) <= sp.Float(10) ** (15 - DIGITS) * (size + 1)


def _at(expr, point) -> sp.Expr:
    return expr.subs(point) if expr.free_symbols else expr


def _sign(e) -> int:
    """The sign of an exact real number: SymPy's assumptions, else 50 digits (a tiny value
    SymPy cannot prove nonzero is taken as zero)."""
    e = sp.sympify(e)
    if e.is_zero:
        return 0
    if e.is_positive:
        return 1
    if e.is_negative:
        return -1
    value = sp.re(sp.N(e, DIGITS))
    if abs(value) <= sp.Float(10) ** (10 - DIGITS) and e.equals(0) is not False:
        return 0
    return 1 if value > 0 else -1


def _is_exact(value) -> bool:
    return isinstance(value, sp.Basic) and not value.has(sp.Float, sp.CRootOf)


def _floats(solution, variables) -> np.ndarray:
    return np.array([float(sp.re(sp.N(solution[v], DIGITS))) for v in variables])


def _inside(x, bounds, slack) -> bool:
    lo, hi = bounds
    pad = slack * (1 + hi - lo)
    return bool(np.all(x >= lo - pad) and np.all(x <= hi + pad))


# ---- classification -----------------------------------------------------------------------------


def _classify_at(f, variables, point, grad_tol, eig_tol) -> CriticalPoint:
    """The point classified exactly if all its values are exact and it and the Hessian there
    are small (MAX_EXACT_TREE: simplifying them stays cheap); else numerically with these
    tolerances."""
    small = len(variables) ** 2 <= MAX_EXACT_TREE  # (each Hessian entry is one node at least)
    if small and all(_is_exact(v) for v in point.values()) and not f.has(sp.Float):
        H = sp.hessian(f, variables).subs(point)
        if measure([*point.values(), *H]).tree_size <= MAX_EXACT_TREE:
            return _classify_exact(f, variables, point, H)
    x = _floats(point, variables)
    return classify_numeric(_lambdified(f, variables), variables, x, grad_tol, eig_tol)


def _classify_exact(f, variables, point, H) -> CriticalPoint:
    """``H`` is the Hessian at the point, before simplification."""
    gradient = tuple(sp.simplify(sp.diff(f, v).subs(point)) for v in variables)
    H = H.applyfunc(sp.simplify)
    value = sp.simplify(f.subs(point))
    charpoly = H.charpoly(_LAMBDA)  # (the costliest step: computed once)
    negative, zero, positive = _inertia(charpoly)
    eigenvalues = _exact_eigenvalues(H, charpoly)
    undecided = ()
    if zero:
        undecided = tuple(tuple(sp.simplify(c) for c in vec) for vec in H.nullspace())
    critical = all(_sign(g) == 0 for g in gradient)
    norm = float(sp.sqrt(sum(sp.N(g, DIGITS) ** 2 for g in gradient)))
    kind = _kind_from_counts(negative, zero, positive) if critical else NOT_CRITICAL
    return CriticalPoint(
        dict(point), value, H, eigenvalues, kind, True, undecided, gradient, norm, critical
    )


def _inertia(charpoly) -> tuple[int, int, int]:
    """(negative, zero, positive) eigenvalue counts of a symmetric exact matrix, exactly,
    from its characteristic polynomial: it has only real roots, so Descartes' rule of signs
    counts the positive ones exactly, and the zero ones are its trailing zero coefficients."""
    coeffs = [_sign(c) for c in charpoly.all_coeffs()]
    zero = 0
    while coeffs and coeffs[-1] == 0:
        coeffs.pop()
        zero += 1
    nonzero = [c for c in coeffs if c]
    positive = sum(a != b for a, b in zip(nonzero, nonzero[1:]))
    return charpoly.degree() - zero - positive, zero, positive


def _exact_eigenvalues(H, charpoly) -> tuple:
    """Eigenvalues of a symmetric exact matrix (``charpoly`` its characteristic polynomial),
    ascending, with multiplicity: radicals when they are visibly real, CRootOf for rational
    characteristic polynomials otherwise, and 50-digit Floats as the last resort."""
    lam = _LAMBDA
    roots = []
    for factor, multiplicity in sp.factor_list(charpoly.as_expr(), lam)[1]:
        poly = sp.Poly(factor, lam)
        if poly.degree() < 1:
            continue
        if all(c.is_Rational for c in poly.all_coeffs()):
            found = poly.real_roots()
        else:
            found = [sp.radsimp(r) for r in sp.roots(factor, lam, multiple=True)]
            if len(found) != poly.degree() or any(r.has(sp.I) for r in found):
                found = _numeric_real_roots(sp.Poly(factor, lam, domain="EX"))
        roots += [sp.simplify(r) if not r.has(sp.CRootOf) else r for r in found] * multiplicity
    if len(roots) != H.rows:  # multiple roots lost to numeric rounding: take NumPy's
        numeric = np.linalg.eigvalsh(np.array(H.evalf(DIGITS), dtype=np.float64))
        return tuple(sp.Float(e) for e in numeric)
    return tuple(sorted(roots, key=lambda r: sp.re(sp.N(r, DIGITS))))


def classify_numeric(evaluator, variables, x, grad_tol, eig_tol) -> CriticalPoint:
    """The CriticalPoint at the float point ``x`` from (value, grad, hessian) callables (a
    compiled function's, or lambdified ones): critical when |grad| <= grad_tol, an eigenvalue
    zero when |lambda| <= eig_tol * max(1, max |lambda|)."""
    value_fn, grad_fn, hess_fn = evaluator
    g = np.asarray(grad_fn(x), dtype=np.float64)
    H = np.asarray(hess_fn(x), dtype=np.float64)
    H = (H + H.T) / 2
    norm = float(np.linalg.norm(g))
    if np.all(np.isfinite(H)):
        eigenvalues, vectors = np.linalg.eigh(H)
    else:
        eigenvalues, vectors = np.full(len(x), np.nan), np.full((len(x), len(x)), np.nan)
    scale = max(1.0, float(np.max(np.abs(eigenvalues)))) if np.all(np.isfinite(eigenvalues)) else 1
    zeros = np.abs(eigenvalues) <= eig_tol * scale
    negative = int(np.sum(eigenvalues < -eig_tol * scale))
    positive = int(np.sum(eigenvalues > eig_tol * scale))
    critical = norm <= grad_tol
    if critical and np.all(np.isfinite(eigenvalues)):
        kind = _kind_from_counts(negative, int(np.sum(zeros)), positive)
    else:
        kind = NOT_CRITICAL
    undecided = tuple(_oriented(vectors[:, i]) for i in np.flatnonzero(zeros))
    point = {v: float(c) for v, c in zip(variables, x)}
    return CriticalPoint(
        point, float(value_fn(x)), H, eigenvalues, kind, False, undecided, g, norm, critical,
        eig_tol,
    )  # fmt: skip


def _oriented(vector: np.ndarray) -> np.ndarray:
    """A unit vector with its largest entry positive (eigh's sign is arbitrary)."""
    return vector if vector[np.argmax(np.abs(vector))] >= 0 else -vector


def _kind_from_counts(negative: int, zero: int, positive: int) -> str:
    if negative and positive:
        return "saddle"
    if zero:
        return "degenerate"
    return "minimum" if positive else "maximum"


def _lambdified(f, variables):
    """(value, grad, hessian) callables through SymPy's lambdify: cheap for one point."""
    value = sp.lambdify(variables, f, "numpy")
    grad = sp.lambdify(variables, [sp.diff(f, v) for v in variables], "numpy")
    hess = sp.lambdify(variables, sp.hessian(f, variables), "numpy")
    return (
        lambda x: value(*x),
        lambda x: np.array(grad(*x), dtype=np.float64),
        lambda x: np.array(hess(*x), dtype=np.float64),
    )


# ---- numeric search ---------------------------------------------------------------------------


def _numeric_search(f, variables, bounds, starts, seed, tol) -> list[CriticalPoint]:
    fn = compile_function(f, variables)  # its Hessian code is generated on first use
    lo, hi = bounds
    n = len(variables)
    if np.ndim(starts) == 0:
        count = int(starts)
        if count < 1:
            raise SymbackpropError(f"starts must be at least 1; got {starts}")
        rng = np.random.default_rng(seed)
        xs = np.vstack([(lo + hi) / 2, lo + (hi - lo) * rng.random((count - 1, n))])
    else:
        xs = np.asarray(starts, dtype=np.float64)
        if xs.ndim != 2 or xs.shape[1] != n:
            raise SymbackpropError(f"starts must have shape (k, {n}); got {xs.shape}")
    found = []
    for x0 in xs:
        refined = _refine(fn, np.array(x0, dtype=np.float64), bounds)
        if refined is not None and _inside(refined[0], bounds, 1e-9):
            found.append(refined)
    found.sort(key=lambda item: item[1])
    kept: list[np.ndarray] = []
    for x, norm, H in found:
        limit = max(
            tol, 1e3 * np.finfo(float).eps * (1 + np.linalg.norm(H)) * (1 + np.linalg.norm(x))
        )
        if norm > limit:
            continue
        if all(np.linalg.norm(x - y) > 1e-6 * (1 + np.linalg.norm(y)) for y in kept):
            kept.append(x)
    evaluator = (fn, fn.grad, fn.hessian)
    return [classify_numeric(evaluator, variables, x, np.inf, EIGENVALUE_TOL) for x in kept]


def _refine(fn, x, bounds, max_iter=100):
    """Levenberg-Marquardt on grad f(x) = 0 with Jacobian H: the step solves
    (H^2 + mu I) p = -H g, which is Newton's step as mu -> 0 and a short step along the
    descent direction of |g|^2 as mu grows; mu shrinks after a step that lowers |g| and grows
    after one that does not. Runs until |g| stops decreasing. Returns (x, |g|, H) or None
    when the run leaves the box by more than its width or meets a non-finite value."""
    lo, hi = bounds
    width = hi - lo
    g = fn.grad(x)
    norm = np.linalg.norm(g)
    mu = None
    H = fn.hessian(x)
    for _ in range(max_iter):
        if not np.isfinite(norm) or not np.all(np.isfinite(H)):
            return None
        if norm == 0:
            break
        A, Hg = H @ H, H @ g
        scale = max(np.max(np.diag(A)), 1e-300)
        mu = 1e-3 * scale if mu is None else mu
        while True:
            try:
                step = -np.linalg.solve(A + mu * np.eye(len(x)), Hg)
            except np.linalg.LinAlgError:
                step = None
            if step is not None:
                trial = x + step
                g_trial = fn.grad(trial)
                norm_trial = np.linalg.norm(g_trial)
                if norm_trial < norm:
                    break
            mu *= 10
            if mu > 1e20 * scale:
                return x, norm, H  # no step lowers |g|: converged as far as float64 allows
        x, g, norm = trial, g_trial, norm_trial
        if np.any(x < lo - width) or np.any(x > hi + width):
            return None
        mu = max(mu / 10, 1e-300)
        H = fn.hessian(x)
    return x, norm, H


# ---- formatting ---------------------------------------------------------------------------------


def _number(value, exact: bool) -> str:
    if exact and isinstance(value, sp.Basic) and not value.has(sp.Float):
        if value.has(sp.CRootOf):
            return f"{float(sp.N(value)):.10g} (CRootOf)"
        return sp.sstr(value)
    return f"{float(value):.10g}"


def _where(point: dict, exact: bool) -> str:
    names = [str(v) for v in point]
    coords = list(point.values())
    if not exact:  # rounding residue such as 3e-25 next to pi reads as 0
        size = max([1.0] + [abs(float(c)) for c in coords if math.isfinite(float(c))])
        coords = [0.0 if abs(float(c)) < 1e-14 * size else c for c in coords]
    values = [_number(c, exact) for c in coords]
    if len(names) == 1:
        return f"{names[0]} = {values[0]}"
    return f"({', '.join(names)}) = ({', '.join(values)})"


def _signs(eigenvalues, exact: bool, tol: float) -> list[int]:
    if exact:
        return [_sign(e) for e in eigenvalues]
    scale = max(1.0, float(np.max(np.abs(eigenvalues))))
    return [0 if abs(e) <= tol * scale else (1 if e > 0 else -1) for e in eigenvalues]
