"""Is a hand derivation right? Claimed derivatives against SymPy's, gradients against differences.

check_derivative compares a claimed derivative, gradient, Jacobian or Hessian with SymPy's entry
by entry, by simplification and by evaluation at sample points inside the domain; it says ok only
on evidence (a symbolic proof, or agreement at enough points), never because simplification
could not tell. check_gradient compares a gradient function with centered finite differences.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import mpmath
import numpy as np
import sympy as sp
from sympy.core.function import AppliedUndef

from ..errors import SymbackpropError
from ..frontend.functions import sigmoid, softplus
from ..limits import Deadline
from ..simplification import check_mode, proved_zero, tidy, within
from .parse import parse

RTOL = 1e-8  # relative tolerance between expected and claimed values at a sample point
ATOL = 1e-12  # absolute floor, for entries that are zero (or nearly) at a point
DIGITS = 50  # points are evaluated in 50-digit arithmetic, so cancellation cannot fake a mismatch
DENOMINATOR_MIN = 1e-3  # sample points keep every denominator at least this far from zero
SIMPLIFY_MAX_OPS = 300  # larger differences never get sympy.simplify, even with simplify="full"
SCALES = (1.0, 3.0, 0.3, 10.0)  # sample points are drawn from [-s, s] for these s in turn
# Assumptions a symbol keeps when it is replaced by a real one (the checker works over the reals).
_KEPT_ASSUMPTIONS = ("positive", "negative", "nonnegative", "nonpositive", "nonzero")


@dataclass
class DerivativeCheck:
    """The verdict of :func:`check_derivative`.

    ``ok`` is True only on evidence: ``evidence`` says which ("symbolic": the difference
    simplifies to 0; "numeric": SymPy could not tell, but every valid sample point agrees). A
    wrong claim has ``evidence == "counterexample"`` and a ``counterexample`` point (dict
    Symbol -> float) where both sides are finite and differ, with ``expected_value`` and
    ``claimed_value`` there; "inconclusive" means too few sample points were valid to decide.
    For a gradient (n x 1), Jacobian (m x n) or Hessian (n x n), ``expected``, ``claimed`` and
    ``difference`` are SymPy matrices, the values are arrays, and ``wrong_entries`` lists the
    index tuples that differ ((i,) for a gradient, (i, j) for a matrix).
    """

    ok: bool
    kind: str  # "derivative", "gradient", "jacobian" or "hessian"
    expected: sp.Expr | sp.Matrix
    claimed: sp.Expr | sp.Matrix
    difference: sp.Expr | sp.Matrix
    counterexample: dict | None
    expected_value: float | np.ndarray | None
    claimed_value: float | np.ndarray | None
    wrong_entries: list[tuple[int, ...]]
    evidence: str
    samples: int  # sample points where every entry of both sides was finite
    labels: dict = field(default_factory=dict, repr=False)  # index -> "df/dx1" and the like

    def __str__(self) -> str:
        if self.ok:
            how = (
                "the difference simplifies to 0"
                if self.evidence == "symbolic"
                else f"equal at {self.samples} sample points; SymPy could not simplify the "
                "difference to 0"
            )
            return f"ok: the claimed {self.kind} is right ({how})"
        if self.evidence == "inconclusive":
            return (
                f"not ok (inconclusive): SymPy could not simplify the difference to 0 and only "
                f"{self.samples} sample points had both sides finite"
            )
        point = ", ".join(f"{s}={_fmt(v)}" for s, v in self.counterexample.items())
        if self.kind == "derivative":
            return (
                f"wrong: at {point}, expected {_fmt(self.expected_value)}, "
                f"claimed {_fmt(self.claimed_value)}"
            )
        shown = []
        for index in self.wrong_entries:
            e, c = self.expected_value[index], self.claimed_value[index]
            if not _close(e, c):
                shown.append(f"{self.labels[index]} expected {_fmt(e)}, claimed {_fmt(c)}")
        entries = ", ".join(str(i) for i in self.wrong_entries)
        return f"wrong: entries {entries} differ; at {point}: " + "; ".join(shown)


@dataclass
class GradientCheck:
    """The verdict of :func:`check_gradient`: analytic gradient against centered differences.

    ``rel_errors[i]`` is |analytic - numeric| / max(|analytic|, |numeric|, floor_i), where
    floor_i is the finite-difference rounding noise of coordinate i divided by ``rtol`` (so an
    entry that is zero up to that noise is judged by absolute error); NaN counts as infinite.
    """

    ok: bool
    max_rel_error: float
    worst: int
    rel_errors: np.ndarray
    numeric: np.ndarray
    analytic: np.ndarray
    steps: np.ndarray
    rtol: float

    def __str__(self) -> str:
        i = self.worst
        detail = (
            f"coordinate {i}: analytic {_fmt(self.analytic[i])}, "
            f"finite differences {_fmt(self.numeric[i])}"
        )
        if self.ok:
            return (
                f"ok: gradient matches finite differences (max relative error "
                f"{self.max_rel_error:.2g} at {detail})"
            )
        bad = int(np.sum(~(self.rel_errors <= self.rtol)))
        return (
            f"wrong: {bad} of {len(self.rel_errors)} coordinates exceed rtol {self.rtol:g}; "
            f"worst is {detail} (relative error {self.max_rel_error:.2g})"
        )


def _fmt(v) -> str:
    return f"{float(v):.6g}"


def _close(e, c, rtol=RTOL) -> bool:
    return abs(e - c) <= rtol * max(abs(e), abs(c)) + ATOL


# -- inputs ------------------------------------------------------------------------------------


def _is_sequence(v) -> bool:
    if isinstance(v, np.ndarray):
        return v.ndim > 0  # a 0-d array is one number
    return isinstance(v, (list, tuple, sp.MatrixBase))


def _as_expr(item, names: dict[str, sp.Symbol], latex, what: str, data=()) -> sp.Expr | sp.Matrix:
    """A claimed entry (text, SymPy or number) as SymPy over f's own symbols (and its data
    arrays, read as t[i], for a model over data)."""
    if isinstance(item, str):
        value = parse(item, list(names.values()), latex, data=data)
        if isinstance(value, sp.MatrixBase) and what != "the claimed derivative":
            raise SymbackpropError(f"{what} is a matrix; expected one expression")
        return value
    if isinstance(item, bool) or not isinstance(item, (sp.Basic, int, float, np.number)):
        raise SymbackpropError(f"{what} must be text, a SymPy expression or a number; got {item!r}")
    if isinstance(item, (float, np.floating)):
        if not np.isfinite(item):
            raise SymbackpropError(f"{what} is {item}, not a finite number")
        return sp.Rational(repr(float(item)))  # 0.01 is 1/100, as when written as text
    expr = sp.sympify(item)
    if expr.is_number and expr.is_finite is not True:  # zoo, oo, nan (not a case of a Piecewise)
        raise SymbackpropError(f"{what} is {expr}: infinite or undefined, not a derivative")
    undefined = sorted({str(g.func) for g in expr.atoms(AppliedUndef)})
    if undefined:
        raise SymbackpropError(f"{what} uses undefined function(s) {', '.join(undefined)}")
    arrays = {str(d.label) for d in data if isinstance(d, sp.IndexedBase)}
    symbols = [s for s in expr.free_symbols if isinstance(s, sp.Symbol)]  # not the reads t[i]
    foreign = sorted(s.name for s in symbols if s.name not in names and s.name not in arrays)
    if foreign:
        raise SymbackpropError(
            f"{what} uses {', '.join(foreign)}, which f does not have "
            f"(f's symbols: {', '.join(sorted(names))})"
        )
    return expr.xreplace({s: names[s.name] for s in symbols if s.name in names})


def _functions(f, wrt, latex, data=()) -> tuple[list[sp.Expr], bool]:
    """f as a list of expressions, and whether it was a list (a vector function)."""
    known = [w for w in (wrt if _is_sequence(wrt) else [wrt]) if isinstance(w, sp.Symbol)]
    is_list = _is_sequence(f)
    items = list(f) if is_list else [f]
    if not items:
        raise SymbackpropError("f is empty: give at least one expression")
    out = []
    for k, item in enumerate(items):
        what = f"f[{k}]" if is_list else "f"
        if isinstance(item, str):
            out.append(parse(item, known, latex, allow_new=True, data=data))
        elif isinstance(item, np.ndarray) and item.ndim == 0:
            out.append(sp.sympify(item.item()))
        elif isinstance(item, (sp.Expr, int, float)) and not isinstance(item, bool):
            out.append(sp.sympify(item))
        else:
            raise SymbackpropError(f"{what} must be a SymPy expression or text; got {item!r}")
    return out, is_list


def _variables(wrt, names: dict[str, sp.Symbol]) -> tuple[list[sp.Symbol], bool]:
    is_list = _is_sequence(wrt)
    items = list(wrt) if is_list else [wrt]
    if not items:
        raise SymbackpropError("wrt is empty: give the variables to differentiate with respect to")
    out = []
    for w in items:
        name = w if isinstance(w, str) else getattr(w, "name", None)
        if not isinstance(w, (str, sp.Symbol)) or name not in names:
            known = ", ".join(sorted(names)) or "none"
            raise SymbackpropError(f"wrt {w!r} is not a symbol of f (f's symbols: {known})")
        out.append(names[name])
    return out, is_list


def _grid(claimed, names, latex, data=()) -> tuple[list, tuple[int, ...] | None]:
    """Claimed entries as nested lists of SymPy (rows) and the shape given, or a scalar."""
    if isinstance(claimed, str):
        claimed = _as_expr(claimed, names, latex, "the claimed derivative", data)
    if isinstance(claimed, np.ndarray):
        claimed = claimed.tolist()
    if isinstance(claimed, sp.MatrixBase):
        return [list(claimed.row(i)) for i in range(claimed.rows)], claimed.shape
    if not _is_sequence(claimed):
        return [[_as_expr(claimed, names, latex, "the claimed derivative", data)]], None
    rows = list(claimed)
    if rows and all(_is_sequence(r) for r in rows):
        widths = {len(r) for r in rows}
        if len(widths) != 1:
            raise SymbackpropError(f"claimed rows have different lengths {sorted(widths)}")
        grid = [
            [_as_expr(v, names, latex, f"claimed entry ({i}, {j})", data) for j, v in enumerate(r)]
            for i, r in enumerate(rows)
        ]
        return grid, (len(rows), widths.pop())
    entries = [_as_expr(v, names, latex, f"claimed entry ({i},)", data) for i, v in enumerate(rows)]
    return [[v] for v in entries], (len(rows),)


def claim_kind(
    shape: tuple[int, ...] | None, functions: int | None, variables: str | list[str]
) -> tuple[str, tuple[int, int] | None]:
    """What claimed entries mean, decided by their count and shape: (kind, result shape).

    ``shape`` is the claim's: None for one expression, (k,) for a flat list, (rows, columns)
    for nested lists or a Matrix. ``functions`` is m for a list f (a vector function), None for
    one f; ``variables`` is the names of a list wrt, or the name of one symbol. One f and one
    symbol: one entry, the derivative. One f of n variables: n entries (a list, a row or a
    column) are the gradient, n^2 (n x n rows, or a flat list row by row) the Hessian.
    m functions: m x n entries (rows, or a flat list row by row) are the Jacobian. Any other
    count or shape raises SymbackpropError saying what was expected.

    >>> xy = ["x", "y"]
    >>> claim_kind((2,), None, xy), claim_kind((4,), None, xy), claim_kind((2, 2), None, xy)
    (('gradient', (2, 1)), ('hessian', (2, 2)), ('hessian', (2, 2)))
    >>> claim_kind((6,), 3, xy), claim_kind(None, None, "x")
    (('jacobian', (3, 2)), ('derivative', None))
    """
    count = int(np.prod(shape)) if shape is not None else 1
    got = "x".join(map(str, shape or (1,)))
    flat = shape is None or len(shape) == 1
    one = isinstance(variables, str)
    if functions is None and one:
        if count != 1:
            raise SymbackpropError(
                f"expected one claimed derivative d/d{variables}; got {count} entries"
            )
        return "derivative", None
    n = 1 if one else len(variables)
    if functions is None:
        if count == n and (flat or 1 in shape):
            return "gradient", (n, 1)
        if n > 1 and count == n * n and (flat or shape == (n, n)):
            return "hessian", (n, n)
        raise SymbackpropError(
            f"a gradient over {n} variables needs {n} claimed entries (or {n * n}, row by row "
            f"or as a {n} x {n} matrix, for the Hessian); got {got}"
        )
    m = functions
    if shape == (m, n) or (count == m * n and (flat or n == 1)):
        return "jacobian", (m, n)
    raise SymbackpropError(
        f"a Jacobian of {m} functions in {n} variables needs {m} x {n} claimed entries "
        f"(rows, or a flat list row by row); got {got}"
    )


def _entries(fs, f_list, variables, v_list, claimed, names, latex, data=()):
    """(kind, [(index, label, expected, claimed)], result shape) after checking the shapes."""
    grid, shape = _grid(claimed, names, latex, data)
    n = len(variables)
    flat = [v for row in grid for v in row]
    wrt_names = [v.name for v in variables] if v_list else variables[0].name
    kind, dims = claim_kind(shape, len(fs) if f_list else None, wrt_names)
    if kind == "derivative":
        v = variables[0]
        return kind, [((), f"d/d{v}", sp.diff(fs[0], v), flat[0])], dims
    if kind == "gradient":
        f = fs[0]
        entries = [((i,), f"df/d{v}", sp.diff(f, v), flat[i]) for i, v in enumerate(variables)]
        return kind, entries, dims
    if kind == "hessian":
        f = fs[0]
        entries = [
            ((i, j), f"d2f/d{a}d{b}", sp.diff(f, a, b), flat[i * n + j])
            for i, a in enumerate(variables)
            for j, b in enumerate(variables)
        ]
        return kind, entries, dims
    entries = [
        ((i, j), f"df{i}/d{v}", sp.diff(fs[i], v), flat[i * n + j])
        for i in range(len(fs))
        for j, v in enumerate(variables)
    ]
    return kind, entries, dims


# -- symbolic ------------------------------------------------------------------------------------


def _costly(e: sp.Expr) -> bool:
    """Too big for sympy.simplify (it can expand (x+1)**200 or stall on large trees): such
    entries get the bounded ladder even when simplify="full" is asked for."""
    if sp.count_ops(e) > SIMPLIFY_MAX_OPS:
        return True
    return any(p.exp.is_Integer and abs(p.exp) > 64 for p in e.atoms(sp.Pow))


def _explicit(e: sp.Expr) -> sp.Expr:
    """sigmoid and softplus written with exp, which simplify and mpmath both understand."""
    return e.replace(sigmoid, lambda a: 1 / (1 + sp.exp(-a))).replace(
        softplus, lambda a: sp.log(1 + sp.exp(a))
    )


def _mode(e: sp.Expr, mode: str, deadline: Deadline) -> str:
    """The simplification to give e: "full" only while the check's deadline lasts and e is
    not costly."""
    mode = within(mode, deadline)
    return "bounded" if mode == "full" and _costly(e) else mode


def _difference(
    expected: sp.Expr, claimed: sp.Expr, mode: str, deadline: Deadline
) -> tuple[sp.Expr, bool]:
    """(tidied expected - claimed, whether it is proved to be 0)."""
    d = expected - claimed
    mode = _mode(d, mode, deadline)
    if proved_zero(_explicit(d), mode):
        return sp.Integer(0), True
    return tidy(d, mode), False


# -- numeric ------------------------------------------------------------------------------------


def _domain(exprs) -> tuple[list[sp.Expr], list[sp.Expr], list[sp.Expr]]:
    """Sub-expressions that must be positive, away from zero, and inside [-1, 1]."""
    positive, nonzero, unit = [], [], []
    for e in exprs:
        for node in sp.preorder_traversal(e):
            if isinstance(node, sp.log):
                positive.append(node.args[0])
            elif isinstance(node, sp.Pow):
                base, exp = node.args
                if exp.is_number and exp.is_integer is False or not exp.is_number:
                    positive.append(base)
                if exp.is_number and exp.is_negative:
                    nonzero.append(base)
            elif isinstance(node, (sp.asin, sp.acos)):
                unit.append(node.args[0])
            elif isinstance(node, sp.tan):
                nonzero.append(sp.cos(node.args[0]))
    real = lambda items: [e for e in dict.fromkeys(items) if not e.is_number]  # noqa: E731
    return real(positive), real(nonzero), real(unit)


class _Evaluator:
    """Evaluates expressions and domain conditions at a point in DIGITS-digit arithmetic."""

    def __init__(self, symbols, expected, claimed):
        exprs = expected + claimed
        # (position of expected, position of claimed) for each entry in the values list
        self.pairs = [(k, len(expected) + k) for k in range(len(expected))]
        positive, nonzero, unit = _domain(exprs)
        self.counts = (len(positive), len(nonzero), len(unit))
        self.symbols = symbols
        self.values = sp.lambdify(symbols, [_explicit(e) for e in exprs], modules="mpmath")
        self.domain = sp.lambdify(
            symbols, [_explicit(e) for e in positive + nonzero + unit], modules="mpmath"
        )

    def __call__(self, point: list[float]) -> list | None:
        """Real values of every expression, or None where one is not finite and real."""
        with mpmath.workdps(DIGITS):
            args = [mpmath.mpf(v) for v in point]
            try:
                conditions = self.domain(*args)
                if not self.inside(conditions):
                    return None
                values = self.values(*args)
            except (ZeroDivisionError, ValueError, OverflowError, TypeError):
                return None
            out = []
            for v in values:
                v = mpmath.mpmathify(v)
                if isinstance(v, mpmath.mpc):
                    if v.imag != 0:
                        return None
                    v = v.real
                if not mpmath.isfinite(v):
                    return None
                out.append(v)
            return out

    def inside(self, conditions) -> bool:
        p, z, _ = self.counts
        for k, c in enumerate(conditions):
            c = mpmath.mpmathify(c)
            if isinstance(c, mpmath.mpc) or not mpmath.isfinite(c):
                return False
            if k < p and not c > 0:
                return False
            if p <= k < p + z and not abs(c) > DENOMINATOR_MIN:
                return False
            if k >= p + z and not abs(c) < 1:
                return False
        return True


def _draw(rng, symbols, scale: float, positive_only: bool) -> list[float]:
    point = []
    for s in symbols:
        v = float(rng.uniform(-scale, scale))
        if positive_only or s.is_nonnegative:
            v = abs(v)
        elif s.is_nonpositive:
            v = -abs(v)
        point.append(v)
    return point


def _rounded(point: list[float], digits: int) -> list[float]:
    return [float(f"{v:.{digits}g}") for v in point]


def _mismatches(values, pairs, rtol) -> list[int]:
    return [k for k, (e, c) in enumerate(pairs) if not _close(values[e], values[c], rtol)]


def _sample(evaluate, symbols, count, seed, rtol):
    """(valid points, [(point, values, wrong entry positions)] for points that disagree)."""
    rng = np.random.default_rng(seed)
    pairs = evaluate.pairs
    valid, wrong = 0, []
    attempts = 40 * count
    for attempt in range(attempts):
        if valid >= count:
            break
        # Half the budget on signed points; if they keep failing, positive points only (log, sqrt).
        positive_only = attempt >= attempts // 2 and valid < count // 2
        point = _draw(rng, symbols, SCALES[attempt % len(SCALES)], positive_only)
        values = evaluate(point)
        if values is None:
            continue
        valid += 1
        bad = _mismatches(values, pairs, rtol)
        if bad:
            wrong.append((point, values, bad))
    return valid, wrong


def _nice_counterexample(evaluate, point, rtol):
    """A rounder point (0.7 rather than 0.6981...) that still disagrees, else the point itself."""
    for digits in (1, 2, 3, 17):
        candidate = _rounded(point, digits)
        values = evaluate(candidate)
        if values is not None and _mismatches(values, evaluate.pairs, rtol):
            return candidate, values
    raise AssertionError("unreachable: the full-precision point disagrees")


# -- public ------------------------------------------------------------------------------------


def _values_at(values, pairs, shape, kind):
    """(expected, claimed) at a counterexample: floats for one derivative, else arrays of the
    claim's shape (a gradient's as a vector)."""
    e_vals = np.array([float(values[e]) for e, _ in pairs])
    c_vals = np.array([float(values[c]) for _, c in pairs])
    if shape is None:
        return float(e_vals[0]), float(c_vals[0])
    dims = shape if kind != "gradient" else (shape[0],)
    return e_vals.reshape(dims), c_vals.reshape(dims)


def check_derivative(
    f,
    wrt,
    claimed,
    *,
    samples: int = 24,
    seed: int = 0,
    latex: bool | None = None,
    rtol=RTOL,
    simplify: str = "bounded",
    data=None,
) -> DerivativeCheck:
    """Check a hand-derived derivative, gradient, Jacobian or Hessian against SymPy's.

    ``f``: a SymPy expression or text (or a list of them: a vector function, for a Jacobian).
    ``wrt``: a Symbol (claimed: one derivative) or a list of Symbols (claimed: a gradient as a
    list, or an n x n Hessian as nested lists, a Matrix or n^2 entries row by row; for a list
    ``f``, the m x n Jacobian, as rows or m x n entries row by row: see ``claim_kind``).
    Claimed entries are SymPy expressions, numbers or text: plain (``"2x(1-x)"``, ``^`` for
    powers) or LaTeX (detected by a backslash or brace, or ``latex=True``), in the
    symbols of ``f`` only. Each entry is compared by simplifying expected - claimed and by
    evaluating both at ``samples`` random real points where every log/sqrt argument is positive,
    every denominator is away from zero and both sides are finite (relative tolerance ``rtol``).
    The symbolic side is bounded by the size of the entries
    (:func:`symbackprop.simplification.proved_zero` and ``tidy``); ``simplify="full"`` adds
    ``sympy.simplify`` (slow; not started after SIMPLIFY_SECONDS), ``"none"`` leaves the
    verdict to the sample points. Bad input raises SymbackpropError naming the culprit.

    Over data: ``f`` may sum over data arrays (``sp.Sum`` of ``sp.IndexedBase`` reads; as text
    ``sum((y[i] - a t[i])^2, i)``, with the arrays' names in ``data``, which SymPy input needs
    only for names it does not read itself) and the claim may be written with sums too. It is
    right when SymPy proves it (the sums compared term by term, or the bodies of sums with the
    same bounds) or when it agrees at random points of the parameters and of random data, for
    several numbers of rows; a counterexample names N and the data values (t[0], ...) too.

    >>> import sympy as sp
    >>> x = sp.Symbol("x")
    >>> r = check_derivative(sp.log(x), x, "1/x^2")
    >>> r.ok, r.counterexample
    (False, {x: 0.3})
    >>> print(r)
    wrong: at x=0.3, expected 3.33333, claimed 11.1111
    >>> print(check_derivative(1 / (1 + sp.exp(-x)), x, r"\\frac{e^{-x}}{(1+e^{-x})^2}"))
    ok: the claimed derivative is right (the difference simplifies to 0)
    >>> x1, x2 = sp.symbols("x1 x2")
    >>> r = check_derivative(x1**2 * x2 + x2, [x1, x2], ["2 x1 x2", "x1^2"])
    >>> r.ok, r.wrong_entries
    (False, [(1,)])
    >>> t, i, N = sp.IndexedBase("t"), sp.Symbol("i", integer=True), sp.Symbol("N", integer=True)
    >>> mean = sp.Sum((t[i] - x) ** 2, (i, 0, N - 1)) / N
    >>> print(check_derivative(mean, x, "-2/N sum(t[i] - x, i)"))
    ok: the claimed derivative is right (the difference simplifies to 0)
    >>> print(check_derivative(mean, x, "-2 sum(t[i] - x, i)"))
    wrong: at N=2, x=0.02, t[0]=0.9, t[1]=-0.7, expected -0.16, claimed -0.32
    """
    if not isinstance(samples, int) or samples < 1:
        raise SymbackpropError(f"samples must be a positive integer; got {samples!r}")
    check_mode(simplify)
    data_items = _data_items(data)
    fs, f_list = _functions(f, wrt, latex, data_items)
    if data is not None or any(e.has(sp.Sum, sp.Indexed) for e in fs):
        return _check_over_data(
            fs, f_list, wrt, claimed, data_items, samples, seed, latex, rtol, simplify
        )
    undefined = sorted({str(g.func) for e in fs for g in e.atoms(AppliedUndef)})
    if undefined:
        raise SymbackpropError(
            f"f uses undefined function(s) {', '.join(undefined)}: give them a formula"
        )
    free = sorted(set().union(*(e.free_symbols for e in fs)), key=lambda s: s.name)
    names = {s.name: s for s in free}
    variables, v_list = _variables(wrt, names)
    kind, entries, shape = _entries(fs, f_list, variables, v_list, claimed, names, latex)

    # The checker works over the reals: a real copy of every symbol lets SymPy simplify
    # |x|' and log(exp(x)) as real analysis does; results are mapped back to the caller's symbols.
    real = {s: sp.Dummy(s.name, real=True, **_kept(s)) for s in free}
    back = {r: s for s, r in real.items()}
    deadline = Deadline()  # when simplify="full": one budget for the whole check
    expected = [e.xreplace(real) for _, _, e, _ in entries]
    expected = [tidy(e, _mode(e, simplify, deadline)) for e in expected]
    claims = [c.xreplace(real) for _, _, _, c in entries]
    differences = [_difference(e, c, simplify, deadline) for e, c in zip(expected, claims)]

    symbols = [real[s] for s in free]
    evaluate = _Evaluator(symbols, expected, claims)
    valid, wrong = _sample(evaluate, symbols, samples, seed, rtol)

    indices = [index for index, _, _, _ in entries]
    labels = {index: label for index, label, _, _ in entries}
    wrong_entries = sorted({indices[k] for _, _, bad in wrong for k in bad})
    proved = all(p for _, p in differences)
    if wrong:
        evidence, ok = "counterexample", False
    elif proved:
        evidence, ok = "symbolic", True
    elif valid >= max(3, samples // 2):
        evidence, ok = "numeric", True
    else:
        evidence, ok = "inconclusive", False

    def shaped(items):
        items = [sp.sympify(v).xreplace(back) for v in items]
        return items[0] if shape is None else sp.Matrix(*shape, items)

    counterexample = expected_value = claimed_value = None
    if wrong:
        point, values = _nice_counterexample(evaluate, wrong[0][0], rtol)
        counterexample = {s: v for s, v in zip(free, point)}
        expected_value, claimed_value = _values_at(values, evaluate.pairs, shape, kind)
    return DerivativeCheck(
        ok=ok,
        kind=kind,
        expected=shaped(expected),
        claimed=shaped(c for _, _, _, c in entries),
        difference=shaped(d for d, _ in differences),
        counterexample=counterexample,
        expected_value=expected_value,
        claimed_value=claimed_value,
        wrong_entries=wrong_entries if kind != "derivative" else [],
        evidence=evidence,
        samples=valid,
        labels=labels,
    )


def _kept(s: sp.Symbol) -> dict[str, bool]:
    return {k: True for k in _KEPT_ASSUMPTIONS if s.assumptions0.get(k) is True}


def _central(value, x, i, h) -> tuple[float, float]:
    """(f(x + h e_i) - f(x - h e_i)) / (actual step), and the larger |f| of the two."""
    plus, minus = x.copy(), x.copy()
    plus[i] += h
    minus[i] -= h
    fp, fm = value(plus), value(minus)
    # Divide by the step actually taken (x_i + h is rounded), not the one intended.
    return (fp - fm) / (plus[i] - minus[i]), max(abs(fp), abs(fm))


def _numbers(result, name: str) -> np.ndarray:
    """What a user's function returned, as float64 numbers, or an error naming the function."""
    try:
        return np.asarray(result, dtype=np.float64)
    except (TypeError, ValueError):
        raise SymbackpropError(f"{name} returned {result!r}, not numbers") from None


def check_gradient(value_fn, grad_fn, x, *, rtol: float = 1e-6) -> GradientCheck:
    """Compare ``grad_fn(x)`` with centered finite differences of ``value_fn`` at ``x``.

    ``value_fn`` and ``grad_fn`` take a 1-D float64 array (a compiled function ``fn`` and
    ``fn.grad`` work, as does any Python function). Coordinate i steps by
    h_i = cbrt(eps) * max(1, |x_i|): the step balancing truncation error (~h^2) against
    rounding error (~eps/h) of a centered difference, scaled so that x_i + h_i != x_i for
    large x_i; differences at h_i and 2 h_i are combined (Richardson extrapolation) so the
    truncation error is O(h^4). The worst coordinate is named in ``worst``.

    >>> import numpy as np
    >>> f = lambda x: float(np.sum(x**3))
    >>> r = check_gradient(f, lambda x: 3 * x**2, np.array([1.0, -2.0, 1e8]))
    >>> r.ok, r.max_rel_error < 1e-8
    (True, True)
    >>> wrong = lambda x: 3 * x**2 + np.array([0.0, 1.0, 0.0])
    >>> r = check_gradient(f, wrong, np.array([1.0, -2.0, 3.0]))
    >>> r.ok, r.worst
    (False, 1)
    """
    for name, fn in (("value_fn", value_fn), ("grad_fn", grad_fn)):
        if not callable(fn):
            raise SymbackpropError(f"{name} must be a function of x; got {type(fn).__name__}")
    try:
        x = np.array(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise SymbackpropError(f"x must be an array of numbers; got {x!r}") from None
    if x.ndim != 1 or x.size == 0:
        raise SymbackpropError(f"x must be a non-empty 1-D array; got shape {x.shape}")

    def value(point) -> float:
        v = _numbers(value_fn(point), "value_fn")
        if v.size != 1:
            raise SymbackpropError(f"value_fn must return a scalar; got shape {v.shape}")
        return float(v.reshape(()))

    analytic = _numbers(grad_fn(x.copy()), "grad_fn").copy()
    if analytic.shape != x.shape:
        raise SymbackpropError(
            f"grad_fn returned shape {analytic.shape}; expected {x.shape} (one entry per x)"
        )
    eps = np.finfo(np.float64).eps
    steps = np.cbrt(eps) * np.maximum(1.0, np.abs(x))
    f0 = value(x)
    numeric = np.empty_like(x)
    floors = np.empty_like(x)
    for i in range(x.size):
        d1, s1 = _central(value, x, i, steps[i])
        d2, s2 = _central(value, x, i, 2 * steps[i])
        # Richardson: (4 D(h) - D(2h)) / 3 cancels the h^2 term of the centered difference, so
        # a step that is large next to a tiny x_i (h ~ 6e-6 at x_i ~ 1e-8) costs no accuracy.
        numeric[i] = (4 * d1 - d2) / 3
        # Rounding noise of that combination: each value is off by ~eps |f| (100 for safety).
        fscale = max(abs(f0), s1, s2)
        floors[i] = 100 * eps * fscale / steps[i] / rtol
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.maximum(np.maximum(np.abs(analytic), np.abs(numeric)), floors)
        errors = np.abs(analytic - numeric) / scale
    errors[(analytic == numeric) & np.isfinite(analytic)] = 0.0
    errors[~np.isfinite(errors)] = np.inf
    worst = int(np.argmax(errors))
    return GradientCheck(
        ok=bool(np.all(errors <= rtol)),
        max_rel_error=float(errors[worst]),
        worst=worst,
        rel_errors=errors,
        numeric=numeric,
        analytic=analytic,
        steps=steps,
        rtol=rtol,
    )


# -- models over data ------------------------------------------------------------------------------

# Numbers of rows the sums are unrolled to for the numeric comparison (1 catches a wrong
# constant, the others a wrong per-row term or a wrong factor of N).
DATA_ROWS = (1, 2, 3, 5)
_MAX_UNROLLED = 64  # terms of one unrolled sum (bounds like 0..2N stay small at these N)
_INDEX = sp.Dummy("k", integer=True)  # every sum's index renamed to this one to compare sums


def _data_items(data) -> tuple:
    """data= as the parser takes it: names, Symbols or IndexedBase arrays."""
    if data is None:
        return ()
    if isinstance(data, (str, sp.Basic)):
        data = [data]
    items = []
    for d in data:
        if isinstance(d, (str, sp.Symbol)):
            d = sp.IndexedBase(d)
        if not isinstance(d, sp.IndexedBase):
            raise SymbackpropError(f"data entries must be names, Symbols or IndexedBase; got {d!r}")
        items.append(d)
    return tuple(items)


def _check_over_data(fs, f_list, wrt, claimed, data, samples, seed, latex, rtol, mode):
    """check_derivative for f over data: symbolic on the sums, numeric on unrolled sums."""
    undefined = sorted({str(g.func) for e in fs for g in e.atoms(AppliedUndef)})
    if undefined:
        raise SymbackpropError(
            f"f uses undefined function(s) {', '.join(undefined)}: give them a formula"
        )
    arrays = {str(r.base.label): r.base for e in fs for r in e.atoms(sp.Indexed)}
    arrays.update({str(d.label): d for d in data if str(d.label) not in arrays})
    plain = {s for e in fs for s in e.free_symbols if isinstance(s, sp.Symbol)}
    plain = sorted((s for s in plain if s.name not in arrays), key=lambda s: s.name)
    names = {s.name: s for s in plain}
    variables, v_list = _variables(wrt, names)
    for v in variables:
        if v.is_integer:
            raise SymbackpropError(
                f"wrt {v} is an integer symbol (a row index or a number of rows), not a variable"
            )
    kind, entries, shape = _entries(
        fs, f_list, variables, v_list, claimed, names, latex, tuple(arrays.values())
    )
    expected = [e for _, _, e, _ in entries]
    claims = [c for _, _, _, c in entries]
    deadline = Deadline()
    proved = [_sums_agree(e, c, mode, deadline) for e, c in zip(expected, claims)]
    exprs = fs + claims
    bounds = {x for e in exprs for s in e.atoms(sp.Sum) for _, lo, hi in s.limits for x in (lo, hi)}
    lengths = sorted(set().union(*(x.free_symbols for x in bounds)), key=lambda s: s.name)
    # the other integer symbols are free row indices (a residual's i): any row will do
    rows_at = sorted(
        {s for e in exprs for s in e.free_symbols
         if isinstance(s, sp.Symbol) and s.is_integer and s not in lengths},
        key=lambda s: s.name,
    )  # fmt: skip
    params = [s for s in plain if not s.is_integer]
    valid, found = 0, None
    for trial, rows in enumerate(DATA_ROWS):
        sizes = {s: sp.Integer(rows + k) for k, s in enumerate(lengths)}
        sizes.update({s: sp.S.Zero for s in rows_at})
        try:
            e_rows = [_unrolled(e, sizes) for e in expected]
            c_rows = [_unrolled(c, sizes) for c in claims]
        except _TooLong:
            continue
        reads = sorted(
            {r for e in e_rows + c_rows for r in e.atoms(sp.Indexed)}, key=sp.default_sort_key
        )
        real = {s: sp.Dummy(s.name, real=True, **_kept(s)) for s in params}
        real.update({r: sp.Dummy(str(r), real=True) for r in reads})
        symbols = list(real.values())
        evaluate = _Evaluator(
            symbols, [e.xreplace(real) for e in e_rows], [c.xreplace(real) for c in c_rows]
        )
        count, wrong = _sample(evaluate, symbols, samples, seed + trial, rtol)
        valid += count
        if wrong:
            point, values = _nice_counterexample(evaluate, wrong[0][0], rtol)
            where = {**sizes, **dict(zip(list(real), point))}
            found = (where, values, evaluate, sorted({k for _, _, bad in wrong for k in bad}))
            break
    indices = [index for index, _, _, _ in entries]
    labels = {index: label for index, label, _, _ in entries}

    def shaped(items):
        items = [sp.sympify(v) for v in items]
        return items[0] if shape is None else sp.Matrix(*shape, items)

    counterexample = expected_value = claimed_value = None
    wrong_entries = []
    if found is not None:
        evidence, ok = "counterexample", False
        where, values, evaluate, bad = found
        counterexample = {s: (int(v) if isinstance(v, sp.Integer) else v) for s, v in where.items()}
        wrong_entries = sorted({indices[k] for k in bad})
        expected_value, claimed_value = _values_at(values, evaluate.pairs, shape, kind)
    elif all(proved):
        evidence, ok = "symbolic", True
    elif valid >= max(3, samples // 2) * len(DATA_ROWS) // 2:
        evidence, ok = "numeric", True
    else:
        evidence, ok = "inconclusive", False
    return DerivativeCheck(
        ok=ok,
        kind=kind,
        expected=shaped(expected),
        claimed=shaped(claims),
        difference=shaped(0 if p else e - c for p, e, c in zip(proved, expected, claims)),
        counterexample=counterexample,
        expected_value=expected_value,
        claimed_value=claimed_value,
        wrong_entries=wrong_entries if kind != "derivative" else [],
        evidence=evidence,
        samples=valid,
        labels=labels,
    )


class _TooLong(Exception):
    """A sum would unroll to more than _MAX_UNROLLED terms."""


def _unrolled(e: sp.Expr, sizes: dict) -> sp.Expr:
    """``e`` with its integer symbols set to ``sizes`` and every sum written out term by term
    (t[i] becomes t[0], t[1], ...); the outermost index first, so inner bounds may use it."""

    def unroll(body, limits):
        if not limits:
            return body
        index, lo, hi = limits[-1]
        lo, hi = lo.xreplace(sizes), hi.xreplace(sizes)
        if not (lo.is_Integer and hi.is_Integer):
            raise SymbackpropError(f"the bounds {lo}, {hi} of a sum over {index} are not numbers")
        if int(hi) - int(lo) + 1 > _MAX_UNROLLED:
            raise _TooLong
        inner = limits[:-1]
        return sp.Add(*[
            unroll(body.xreplace({index: k}), [(i, a.xreplace({index: k}), b.xreplace({index: k}))
                                                for i, a, b in inner])
            for k in map(sp.Integer, range(int(lo), int(hi) + 1))
        ])  # fmt: skip

    e = e.xreplace(sizes)
    return e.replace(lambda x: isinstance(x, sp.Sum), lambda s: unroll(s.function, list(s.limits)))


def _canonical(e: sp.Expr) -> sp.Expr:
    """Every one-index sum over the same index symbol, so equal sums are equal objects; a sum
    that reads no data in closed form (sum of 2 over N rows: 2 N)."""

    def closed(s):
        value = s.doit()
        return s if value.has(sp.Sum) else value

    e = e.replace(lambda x: isinstance(x, sp.Sum) and not x.has(sp.Indexed), closed)
    return e.replace(
        lambda x: isinstance(x, sp.Sum) and len(x.limits) == 1,
        lambda s: sp.Sum(s.function.xreplace({s.limits[0][0]: _INDEX}), (_INDEX, *s.limits[0][1:])),
    )


def _sums_agree(expected: sp.Expr, claimed: sp.Expr, mode: str, deadline: Deadline) -> bool:
    """Whether SymPy proves expected == claimed: with each sum taken as an unknown number, or
    (sums of the same bounds) with their bodies added up, term by term."""
    d = _canonical(expected) - _canonical(claimed)
    if d == 0:
        return True
    sums = sorted(d.atoms(sp.Sum), key=sp.default_sort_key)
    unknowns = {s: sp.Dummy(f"S{k}", real=True) for k, s in enumerate(sums)}
    if _difference(_real_reads(d.xreplace(unknowns)), sp.S.Zero, mode, deadline)[1]:
        return True
    # sum_k a_k - c sum_k b_k = sum_k (a_k - c b_k): one body, when every term has one sum
    bodies, limits = [], None
    top = sp.expand(
        d, deep=False, mul=True, multinomial=False, power_exp=False, power_base=False, log=False
    )  # the outer products only, not the bodies
    for term in sp.Add.make_args(top):
        factors = sp.Mul.make_args(term)
        inside = [f for f in factors if isinstance(f, sp.Sum)]
        if len(inside) != 1 or len(inside[0].limits) != 1:
            return False
        s = inside[0]
        if limits is None:
            limits = s.limits[0]
        if s.limits[0] != limits:
            return False
        rest = sp.Mul(*[f for f in factors if f is not s])
        bodies.append(rest.xreplace(unknowns) * s.function)
    body = _real_reads(sp.Add(*bodies))
    return _difference(body, sp.S.Zero, mode, deadline)[1]


def _real_reads(e: sp.Expr) -> sp.Expr:
    """Data reads (t[k]) and symbols as real Dummies, so SymPy simplifies over the reals."""
    swap = {r: sp.Dummy(str(r), real=True) for r in e.atoms(sp.Indexed)}
    e = e.xreplace(swap) if swap else e
    swap = {
        s: sp.Dummy(s.name, real=True, **_kept(s))
        for s in e.free_symbols
        if isinstance(s, sp.Symbol) and not s.is_real
    }
    return e.xreplace(swap) if swap else e
