"""Symbolic derivatives as SymPy matrices: gradient, Jacobian, Hessian.

Each entry is simplified only when that is cheap (small expressions, within the SIMPLIFY_SECONDS
budget of symbackprop.limits for the whole call), so large inputs stay fast.
"""

from __future__ import annotations

import sympy as sp

from .errors import SymbackpropError
from .frontend.symbols import symbol_list
from .limits import Deadline, check_size, recursion_guard, simplify_within

# Entries with at most this many operations get sympy.simplify; larger ones are left as
# differentiated (simplify's cost grows quickly and can stall on big expressions).
SIMPLIFY_MAX_OPS = 40


def _cheap_simplify(e: sp.Expr, deadline: Deadline) -> sp.Expr:
    """``simplify(e)`` if e is small, the result is not larger, and the call's time budget
    (shared by all entries) allows; otherwise e as differentiated."""
    if deadline.expired() or e.count_ops() > SIMPLIFY_MAX_OPS:
        return e
    s = simplify_within(e, deadline)
    return s if s is not None and sp.count_ops(s) <= sp.count_ops(e) else e


def _expr(f, where="f") -> sp.Expr:
    if isinstance(f, str) or not isinstance(f, (sp.Expr, int, float)):
        raise SymbackpropError(f"{where} must be a SymPy expression; got {type(f).__name__}")
    return sp.sympify(f)


def grad(f, vars) -> sp.Matrix:
    """The gradient of scalar ``f`` as an n x 1 SymPy Matrix.

    >>> import sympy as sp
    >>> x, y = sp.symbols("x y")
    >>> grad(x**2 * y + y, [x, y])
    Matrix([
    [   2*x*y],
    [x**2 + 1]])
    """
    f = _expr(f)
    vs = symbol_list(vars)
    check_size([f])
    deadline = Deadline()
    with recursion_guard("sb.grad", [f]):
        return sp.Matrix([_cheap_simplify(sp.diff(f, v), deadline) for v in vs])


def jacobian(fs, vars) -> sp.Matrix:
    """The m x n Jacobian of a list (or Matrix) of expressions.

    >>> import sympy as sp
    >>> x, y = sp.symbols("x y")
    >>> jacobian([x * y, x + y], [x, y])
    Matrix([
    [y, x],
    [1, 1]])
    """
    items = list(fs) if isinstance(fs, (list, tuple, sp.MatrixBase)) else [fs]
    if not items:
        raise SymbackpropError("fs is empty: give at least one expression")
    exprs = [_expr(e, f"fs[{k}]") for k, e in enumerate(items)]
    vs = symbol_list(vars)
    check_size(exprs, "fs")
    deadline = Deadline()
    with recursion_guard("sb.jacobian", exprs):
        return sp.Matrix([[_cheap_simplify(sp.diff(e, v), deadline) for v in vs] for e in exprs])


def hessian(f, vars) -> sp.Matrix:
    """The n x n Hessian of scalar ``f``; the upper triangle is derived and mirrored.

    >>> import sympy as sp
    >>> x, y = sp.symbols("x y")
    >>> hessian(x**3 * y, [x, y])
    Matrix([
    [ 6*x*y, 3*x**2],
    [3*x**2,      0]])
    """
    f = _expr(f)
    vs = symbol_list(vars)
    n = len(vs)
    check_size([f])
    deadline = Deadline()
    with recursion_guard("sb.hessian", [f]):
        first = [sp.diff(f, v) for v in vs]
        H = sp.zeros(n, n)
        for i in range(n):
            for j in range(i, n):
                H[i, j] = H[j, i] = _cheap_simplify(sp.diff(first[i], vs[j]), deadline)
    return H
