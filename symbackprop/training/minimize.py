"""minimize(fn, x0): gradient descent (fixed step or Armijo backtracking), Newton's method on the
generated Hessian, or any optimizer of :mod:`.optimizers`, on a compiled scalar function.

It stops by the notes' rules and says which one fired; a NaN or infinity stops it with
:class:`NonFiniteError`, which keeps the last finite point.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import sympy as sp

from ..analysis.bound import bind, is_data_function
from ..analysis.critical import EIGENVALUE_TOL, CriticalPoint, classify_numeric
from ..errors import SymbackpropError
from .optimizers import OPTIMIZERS, Optimizer, make_optimizer

# Why a run stopped (MinimizeResult.stop_reason), checked after every iteration in this order.
STOP_REASONS = {
    "f increased": (
        "gradient descent with a fixed step made f larger (by more than rounding, 8 eps |f|): "
        "that step is undone and x_{k-1} returned (the notes' rule; the step is too large)"
    ),
    "small gradient": "||grad f(x_k)|| < tol_grad (also checked at x0)",
    "small change in f": "|f(x_k) - f(x_{k-1})| < tol_f",
    "line search failed": "backtracking found no step with enough decrease in f; x_k kept",
    "callback": "callback(k, x, f, grad_norm) returned True",
    "max iterations": "max_iter iterations done",
}
METHODS = ("gd", "newton", *OPTIMIZERS)
ARMIJO_C = 1e-4  # sufficient decrease: f(x + t d) <= f(x) + c t grad.d (Nocedal & Wright 3.1)
BACKTRACK = 0.5  # step shrink factor
ROUNDING = 8 * np.finfo(np.float64).eps  # relative rise in f that rounding can explain
MAX_HALVINGS = 60  # 0.5**60 ~ 1e-18: below that a step cannot change x in float64


class NonFiniteError(SymbackpropError):
    """A NaN or infinity stopped minimisation or training. Attributes: ``iteration``
    (minimize) or ``epoch`` and ``step`` (fit), and ``x`` (minimize: the last point whose value
    and gradient were finite) or ``params`` (fit: a copy of the last good parameters; fit also
    sets ``history``, the epochs completed before it).

    >>> err = NonFiniteError("f is nan at iteration 3", iteration=3, x=[1.0])
    >>> err.iteration, isinstance(err, SymbackpropError)
    (3, True)
    """

    def __init__(self, message, *, iteration=None, x=None, epoch=None, step=None, params=None):
        super().__init__(message)
        self.iteration, self.x = iteration, x
        self.epoch, self.step, self.params = epoch, step, params
        self.history = None


@dataclass(repr=False)
class MinimizeResult:
    """What :func:`minimize` returns: the point ``x``, ``fun`` = f(x), ``grad_norm`` =
    ||grad f(x)||, ``iterations`` (steps taken), ``stop_reason`` (a key of
    :data:`STOP_REASONS`), ``history`` (one (f, grad_norm) pair per iterate, x0 first),
    ``method``, ``hessian_modifications`` (Newton iterations whose Hessian was not positive
    definite and was modified), and ``point``: the end point classified by the Hessian's
    eigenvalues (a :class:`~symbackprop.analysis.critical.CriticalPoint`) when asked for.

    ``success`` is True when a convergence rule stopped it (small gradient or small change in
    f).
    """

    x: np.ndarray
    fun: float
    grad_norm: float
    iterations: int
    stop_reason: str
    method: str
    history: list = field(default_factory=list)
    hessian_modifications: int = 0
    point: CriticalPoint | None = None

    @property
    def success(self) -> bool:
        return self.stop_reason in ("small gradient", "small change in f")

    def __repr__(self) -> str:
        x = np.array2string(self.x, precision=6, separator=", ")
        kind = f", point={self.point.kind!r}" if self.point is not None else ""
        return (
            f"MinimizeResult(method={self.method!r}, stop_reason={self.stop_reason!r}, "
            f"iterations={self.iterations}, fun={self.fun:.6g}, grad_norm={self.grad_norm:.3g}, "
            f"x={x}{kind})"
        )


def minimize(
    fn,
    x0,
    method="gd",
    *,
    lr=None,
    step=None,
    tol_f=1e-12,
    tol_grad=1e-6,
    max_iter=10_000,
    classify=False,
    callback=None,
    data=None,
) -> MinimizeResult:
    """Minimize a compiled scalar function ``fn`` (from :func:`symbackprop.compile`) from ``x0``.

    Methods:

    * ``"gd"``: gradient descent, x_k = x_{k-1} - t grad f(x_{k-1}). ``step="fixed"`` (the
      default) takes t = ``lr`` (default 0.1); ``step="backtracking"`` starts each line search
      at t = ``lr`` (default 1) and halves t until Armijo's sufficient decrease
      f(x + t d) <= f(x) + 1e-4 t grad.d holds.
    * ``"newton"``: d solves H d = -grad f with the generated Hessian H. When H is not
      positive definite (Cholesky fails) it is replaced by V |Lambda| V^T from its
      eigendecomposition, each |eigenvalue| floored at sqrt(eps) * max(1, max |eigenvalue|):
      the modified matrix is positive definite, so d is a descent direction and saddles repel
      (Nocedal & Wright 3.4; the "saddle-free Newton" of Dauphin et al. 2014). Backtracking
      from t = ``lr`` (default 1) by default; ``step="fixed"`` takes t = ``lr``.
    * ``"sgd"``, ``"rmsprop"``, ``"adagrad"``, ``"adadelta"``, ``"adam"``, ``"adamw"`` or an
      :class:`~symbackprop.training.optimizers.Optimizer` object: its update rule on the full
      gradient (``lr`` overrides a named optimizer's default).

    Stopping rules, checked after each iteration k in this order (:data:`STOP_REASONS`): "f
    increased" (fixed-step gradient descent only, the notes' rule: the step is undone),
    "small gradient" (||grad f(x_k)|| < ``tol_grad``, also checked at x0), "small change in
    f" (|f(x_k) - f(x_{k-1})| < ``tol_f``; 0 switches it off), "line search failed",
    "callback" (``callback(k, x, f, grad_norm)`` returned True) and "max iterations".

    ``classify=True`` classifies the end point by the eigenvalues of ``fn.hessian`` (minimum,
    maximum, saddle, degenerate, or "not critical" when the gradient norm exceeds
    max(tol_grad, 1e-5)); a number instead of True is that gradient tolerance. A NaN or
    infinity in f or its gradient raises :class:`NonFiniteError` naming the iteration; its
    ``x`` is the last finite point.

    A model over data (``sb.compile(f, params, data=[t, y])``) takes its data as ``data``: a
    dict name -> array (names as str, Symbol or IndexedBase) or a tuple in the order given to
    data=; every value, gradient and Hessian is then of the parameters with that data.

    The notes' example f = x1^2 + x1 (1 - x2) + x2^2 - x2 x3 + x3^2 + x3 has its minimum at
    (-1, -1, -1):

    >>> import sympy as sp, symbackprop as sb
    >>> x1, x2, x3 = sp.symbols("x1 x2 x3")
    >>> f = x1**2 + x1 * (1 - x2) + x2**2 - x2 * x3 + x3**2 + x3
    >>> fn = sb.compile(f, [x1, x2, x3])
    >>> r = minimize(fn, [0.0, 0.0, 0.0], "gd", lr=0.1, tol_f=0.0)
    >>> r.stop_reason, r.x.round(5), r.iterations
    ('small gradient', array([-1., -1., -1.]), 229)
    >>> r = minimize(fn, [0.0, 0.0, 0.0], "newton", classify=True)
    >>> r.iterations, r.x.round(12) + 0.0, r.point.kind
    (1, array([-1., -1., -1.]), 'minimum')
    """
    if data is not None or is_data_function(fn):
        fn = bind(fn, data)
    x = _start(fn, x0)
    tol_f = _nonnegative("tol_f", tol_f)
    tol_grad = _nonnegative("tol_grad", tol_grad)
    if isinstance(max_iter, bool) or not isinstance(max_iter, (int, np.integer)) or max_iter < 0:
        raise SymbackpropError(f"max_iter must be an integer >= 0; got {max_iter!r}")
    if callback is not None and not callable(callback):
        raise SymbackpropError(f"callback must be callable; got {callback!r}")
    optimizer, name, step, lr = _plan(fn, method, step, lr)

    f, g = _evaluate(fn, x, 0, x)
    gnorm = float(np.linalg.norm(g))
    history = [(f, gnorm)]
    k, modified, reason = 0, 0, None
    if gnorm < tol_grad:
        reason = "small gradient"
    while reason is None:
        if k >= max_iter:
            reason = "max iterations"
            break
        x_prev, f_prev, g_prev = x.copy(), f, g
        if optimizer is not None:
            optimizer.step(x, g)  # a non-finite x shows up in f below
        else:
            if name == "newton":
                d, was_modified = _newton_direction(fn, x, g, k)
                modified += was_modified
            else:
                d = -g
            if step == "fixed":
                x = x + lr * d
            else:
                t = _backtrack(fn, x, f, g, d, lr)
                if t is None:
                    reason = "line search failed"
                    break
                x = x + t * d
        k += 1
        f, g = _evaluate(fn, x, k, x_prev)
        # rounding alone can raise f by an ulp or so near a minimum: that is no increase
        if name == "gd" and step == "fixed" and f - f_prev > ROUNDING * abs(f_prev):
            x, f, g, k = x_prev, f_prev, g_prev, k - 1
            reason = "f increased"
            break
        gnorm = float(np.linalg.norm(g))
        history.append((f, gnorm))
        if gnorm < tol_grad:
            reason = "small gradient"
        elif abs(f - f_prev) < tol_f:
            reason = "small change in f"
        elif callback is not None and callback(k, x.copy(), f, gnorm):
            reason = "callback"
    result = MinimizeResult(
        x, f, float(np.linalg.norm(g)), k, reason, name, history, modified
    )  # fmt: skip
    if classify is not False and classify is not None:
        grad_tol = max(tol_grad, 1e-5) if classify is True else _nonnegative("classify", classify)
        result.point = _classify_end(fn, x, grad_tol)
    return result


# ---- pieces ------------------------------------------------------------------------------------


def _nonnegative(name: str, value) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise SymbackpropError(f"{name} must be a number >= 0; got {value!r}") from None
    if not (value >= 0 and math.isfinite(value)):
        raise SymbackpropError(f"{name} must be a finite number >= 0; got {value!r}")
    return value


def _start(fn, x0) -> np.ndarray:
    if not callable(fn) or not callable(getattr(fn, "value_and_grad", None)):
        raise SymbackpropError(
            f"fn must be a compiled scalar function (sb.compile(f, vars)); got {type(fn).__name__}"
        )
    if getattr(fn, "is_vector", False):
        raise SymbackpropError("minimize needs a scalar function; fn is a vector function")
    try:
        x = np.array(x0, dtype=np.float64)
    except (TypeError, ValueError):
        raise SymbackpropError(f"x0 must be a sequence of numbers; got {x0!r}") from None
    n = getattr(fn, "n_inputs", None)
    if x.ndim != 1 or (n is not None and x.shape != (n,)):
        want = f"({n},)" if n is not None else "1-D"
        raise SymbackpropError(f"x0 must have shape {want}; got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise SymbackpropError(f"x0 must be finite; got {x}")
    return x


def _plan(fn, method, step, lr):
    """(optimizer or None, method name, step rule, step length) with the defaults filled in."""
    if isinstance(method, Optimizer) or (isinstance(method, str) and method.lower() in OPTIMIZERS):
        if step not in (None, "fixed"):
            raise SymbackpropError(
                f"step={step!r}: optimizers take their own steps; backtracking is for "
                "method='gd' or 'newton'"
            )
        optimizer = make_optimizer(method, lr)
        return optimizer, optimizer.name.lower(), "fixed", optimizer.lr
    if method not in ("gd", "newton"):
        raise SymbackpropError(
            f"unknown method {method!r}; known: {', '.join(METHODS)}, or an optimizer object"
        )
    if method == "newton" and not callable(getattr(fn, "hessian", None)):
        raise SymbackpropError("method='newton' needs fn.hessian (a compiled function has it)")
    if step is None:
        step = "backtracking" if method == "newton" else "fixed"
    if step not in ("fixed", "backtracking"):
        raise SymbackpropError(f"step must be 'fixed' or 'backtracking'; got {step!r}")
    if lr is None:
        lr = 0.1 if (method == "gd" and step == "fixed") else 1.0
    try:
        lr = float(lr)
    except (TypeError, ValueError):
        raise SymbackpropError(f"lr must be a positive number; got {lr!r}") from None
    if not (lr > 0 and math.isfinite(lr)):
        raise SymbackpropError(f"lr must be a positive finite number; got {lr!r}")
    return None, method, step, lr


def _evaluate(fn, x, k, last_finite) -> tuple[float, np.ndarray]:
    f, g = fn.value_and_grad(x)
    f, g = float(f), np.asarray(g, dtype=np.float64)
    if not (math.isfinite(f) and np.all(np.isfinite(g))):
        what = "f" if not math.isfinite(f) else "the gradient"
        where = "at x0" if k == 0 else f"at iteration {k}"
        raise NonFiniteError(
            f"{what} is not finite {where} (f = {f}); the last finite point is "
            f"{np.array2string(np.asarray(last_finite), precision=6, separator=', ')} "
            "(the error's .x)",
            iteration=k,
            x=np.array(last_finite, dtype=np.float64),
        )
    return f, g


def _newton_direction(fn, x, g, k) -> tuple[np.ndarray, bool]:
    """(d, modified): d solves H d = -g, H made positive definite first when it is not."""
    H = np.asarray(fn.hessian(x), dtype=np.float64)
    if not np.all(np.isfinite(H)):
        raise NonFiniteError(
            f"the Hessian is not finite at iteration {k}", iteration=k, x=x.copy()
        )  # fmt: skip
    H = (H + H.T) / 2
    try:
        np.linalg.cholesky(H)  # succeeds exactly when H is (numerically) positive definite
        return np.linalg.solve(H, -g), False
    except np.linalg.LinAlgError:
        pass
    eigenvalues, V = np.linalg.eigh(H)
    floor = math.sqrt(np.finfo(np.float64).eps) * max(1.0, float(np.max(np.abs(eigenvalues))))
    return -(V @ ((V.T @ g) / np.maximum(np.abs(eigenvalues), floor))), True


def _backtrack(fn, x, f, g, d, t) -> float | None:
    """Armijo backtracking: the first t, t/2, t/4, ... with enough decrease, or None."""
    slope = float(g @ d)
    if not slope < 0:
        return None  # not a descent direction (g = 0 is caught by the gradient rule first)
    for _ in range(MAX_HALVINGS):
        trial = float(fn(x + t * d))
        # trial < f too: a step too small to change f in float64 satisfies Armijo by rounding
        if math.isfinite(trial) and trial <= f + ARMIJO_C * t * slope and trial < f:
            return t
        t *= BACKTRACK
    return None


def _classify_end(fn, x, grad_tol) -> CriticalPoint:
    if not callable(getattr(fn, "hessian", None)):
        raise SymbackpropError("classify needs fn.hessian (a compiled function has it)")
    names = getattr(fn, "input_names", None) or [f"x{i + 1}" for i in range(x.size)]
    symbols = [sp.Symbol(str(name)) for name in names]
    return classify_numeric((fn, fn.grad, fn.hessian), symbols, x, grad_tol, EIGENVALUE_TOL)
