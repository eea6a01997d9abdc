"""Symbolic derivatives as SymPy matrices: gradient, Jacobian, Hessian.

Each entry is tidied by symbackprop.simplification's bounded ladder (cheap steps below size
bounds, so a call is fast in any thread); ``simplify="full"`` asks for sympy.simplify instead.
"""

from __future__ import annotations

import sympy as sp

from .errors import SymbackpropError
from .frontend.symbols import symbol_list
from .limits import check_size, recursion_guard
from .simplification import check_mode, tidy_all


def _expr(f, where="f") -> sp.Expr:
    if isinstance(f, str) or not isinstance(f, (sp.Expr, int, float)):
        raise SymbackpropError(f"{where} must be a SymPy expression; got {type(f).__name__}")
    return sp.sympify(f)


def grad(f, vars, *, simplify: str = "bounded") -> sp.Matrix:
    """The gradient of scalar ``f`` as an n x 1 SymPy Matrix.

    ``simplify``: "bounded" (default) tidies each entry with cheap steps whose cost is
    bounded by its size (:func:`symbackprop.simplification.tidy`); "full" runs
    ``sympy.simplify`` on each entry (slow and unbounded per entry; entries reached after
    SIMPLIFY_SECONDS get the bounded steps); "none" returns the entries as differentiated.
    The same holds for :func:`jacobian` and :func:`hessian`.

    >>> import sympy as sp
    >>> x, y = sp.symbols("x y")
    >>> grad(x**2 * y + y, [x, y])
    Matrix([
    [   2*x*y],
    [x**2 + 1]])
    """
    f = _expr(f)
    vs = symbol_list(vars)
    check_mode(simplify)
    check_size([f])
    with recursion_guard("sb.grad", [f]):
        return sp.Matrix(tidy_all([sp.diff(f, v) for v in vs], simplify))


def jacobian(fs, vars, *, simplify: str = "bounded") -> sp.Matrix:
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
    check_mode(simplify)
    check_size(exprs, "fs")
    with recursion_guard("sb.jacobian", exprs):
        entries = tidy_all([sp.diff(e, v) for e in exprs for v in vs], simplify)
    return sp.Matrix(len(exprs), len(vs), entries)


def hessian(f, vars, *, simplify: str = "bounded") -> sp.Matrix:
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
    check_mode(simplify)
    check_size([f])
    with recursion_guard("sb.hessian", [f]):
        first = [sp.diff(f, v) for v in vs]
        upper = [(i, j) for i in range(n) for j in range(i, n)]
        entries = tidy_all([sp.diff(first[i], vs[j]) for i, j in upper], simplify)
    H = sp.zeros(n, n)
    for (i, j), e in zip(upper, entries):
        H[i, j] = H[j, i] = e
    return H
