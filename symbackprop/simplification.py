"""Simplification whose cost is bounded by the size of its input: a short ladder of cheap SymPy
steps for derivative entries, and an exact zero test for differences. No timers: each step runs
only below a size bound fixed before it starts, so results are fast and the same in any thread.

``sympy.simplify`` (unbounded) runs only on request (``mode="full"``).
"""

from __future__ import annotations

import math

import sympy as sp
from sympy.simplify.fu import TR8

from .errors import SymbackpropError
from .limits import Deadline, measure

MODES = ("bounded", "full", "none")
MAX_TREE = 400  # larger entries are returned as differentiated
# Products and powers of sin and cos become sums of them (Fu's rule TR8: 2 sin x cos x -> sin 2x,
# cos^2 - sin^2 -> cos 2x) on entries up to this size; Fu's whole search is not used, its first
# rule factors polynomials, which took seconds on a 40-node gradient entry.
MAX_TRIG_TREE = 80
# cancel takes polynomial gcds: only on small rational functions.
MAX_CANCEL_TERMS = 100  # numerator and denominator terms once expanded
MAX_TERMS = 2000  # the zero test expands a numerator only if it has at most this many terms
_TRIG = (sp.sin, sp.cos, sp.tan, sp.cot, sp.sec, sp.csc)
# Rewritten as exponentials by the zero test: then their identities are polynomial ones.
_EXPONENTIAL = [*_TRIG, sp.sinh, sp.cosh, sp.tanh, sp.coth, sp.sech, sp.csch]


def check_mode(mode, what: str = "simplify") -> str:
    """``mode`` if it is one of MODES, else SymbackpropError naming the keyword.

    >>> check_mode("full")
    'full'
    >>> check_mode("fast")
    Traceback (most recent call last):
    ...
    symbackprop.errors.SymbackpropError: simplify must be one of 'bounded', 'full', 'none'; \
got 'fast'
    """
    if not isinstance(mode, str) or mode not in MODES:
        choices = ", ".join(map(repr, MODES))
        raise SymbackpropError(f"{what} must be one of {choices}; got {mode!r}")
    return mode


def _tree(e: sp.Basic) -> int:
    return measure([e]).tree_size  # iterative: safe on trees too deep for SymPy's recursion


def expanded_terms(e: sp.Basic) -> int:
    """An upper bound on the number of terms of ``sp.expand(e)``, computed without expanding.

    >>> import sympy as sp
    >>> x, y, z = sp.symbols("x y z")
    >>> expanded_terms((x + y + z) ** 4), len(sp.expand((x + y + z) ** 4).args)
    (15, 15)
    >>> expanded_terms((x + 1) ** 200 * (y + 1) ** 200)
    40401
    """
    terms: dict[int, int] = {}
    stack = [(e, False)]
    while stack:
        node, ready = stack.pop()
        if id(node) in terms:
            continue
        if not ready and node.args:
            stack.append((node, True))
            stack.extend((a, False) for a in node.args)
            continue
        args = [terms.get(id(a), 1) for a in node.args]
        if node.is_Add:
            count = sum(args)
        elif node.is_Mul:
            count = math.prod(args)
        elif node.is_Pow and node.exp.is_Integer and node.exp > 0:
            k, n = args[0], int(node.exp)  # monomials of degree n in k terms
            count = math.comb(k + n - 1, n) if k < 10**6 else math.inf
        else:
            count = 1  # a function, a symbol, a negative or fractional power: one term
        terms[id(node)] = min(count, 10**12)
    return terms[id(e)]


def _smaller(e: sp.Expr, candidates) -> sp.Expr:
    """The candidate with the fewest nodes (the earliest on a tie; e itself first)."""
    best, cost = e, _tree(e)
    for c in candidates:
        if c is not None and (n := _tree(c)) < cost:
            best, cost = c, n
    return best


def _cancelled(e: sp.Expr) -> sp.Expr | None:
    """cancel(e) when e is a rational function whose numerator and denominator expand to few
    terms, else None (with functions such as tanh or atan as generators, SymPy's polynomial
    gcds get slow)."""
    if not e.is_rational_function(*e.free_symbols):
        return None
    num, den = sp.together(e).as_numer_denom()
    if max(expanded_terms(num), expanded_terms(den)) > MAX_CANCEL_TERMS:
        return None
    return sp.cancel(e)


def tidy(e: sp.Expr, mode: str = "bounded") -> sp.Expr:
    """A simpler form of ``e``, equal to it, or ``e`` itself.

    ``mode="bounded"``: the smallest (fewest nodes) of e, ``factor_terms(e)``, ``cancel(e)``
    (for a rational function whose numerator and denominator expand to at most
    MAX_CANCEL_TERMS terms) and products of sin and cos as sums (on entries of at most
    MAX_TRIG_TREE nodes), for entries of at most MAX_TREE nodes; its cost is bounded by those sizes.
    ``"full"``: ``sympy.simplify(e)`` (unbounded), kept if smaller. ``"none"``: e.

    >>> import sympy as sp
    >>> x, y = sp.symbols("x y")
    >>> tidy((x**2 - 1) / (x - 1)), tidy(2 * sp.sin(x) * sp.cos(x))
    (x + 1, sin(2*x))
    >>> tidy(sp.exp(-x) / (1 + sp.exp(-x)) ** 2, "full")
    1/(4*cosh(x/2)**2)
    """
    if mode == "none" or not isinstance(e, sp.Expr) or e.is_Atom:
        return e
    if mode == "full":
        return _smaller(e, [sp.simplify(e)])
    size = _tree(e)
    if size > MAX_TREE:
        return e
    candidates = [sp.factor_terms(e), _cancelled(e)]
    if size <= MAX_TRIG_TREE and e.has(*_TRIG):
        candidates.append(TR8(e))
    return _smaller(e, candidates)


def tidy_all(entries, mode: str = "bounded", deadline: Deadline | None = None) -> list:
    """``tidy`` of each entry. In ``"full"`` mode, once ``deadline`` (default:
    SIMPLIFY_SECONDS from now) has passed, the remaining entries get the bounded ladder: it is
    checked between entries, since sympy.simplify of one entry cannot be interrupted.

    >>> import sympy as sp
    >>> x = sp.Symbol("x")
    >>> sigmoid_prime = sp.exp(-x) / (1 + sp.exp(-x)) ** 2
    >>> tidy_all([sigmoid_prime], "full")
    [1/(4*cosh(x/2)**2)]
    >>> tidy_all([sigmoid_prime], "full", Deadline(0.0))
    [exp(-x)/(1 + exp(-x))**2]
    """
    deadline = deadline or Deadline()
    return [tidy(e, within(mode, deadline)) for e in entries]


def within(mode: str, deadline: Deadline) -> str:
    """``mode``, or "bounded" instead of "full" once ``deadline`` has passed.

    >>> within("full", Deadline(0.0)), within("full", Deadline(60.0)), within("none", Deadline(0))
    ('bounded', 'full', 'none')
    """
    return "bounded" if mode == "full" and deadline.expired() else mode


def _numerator_vanishes(e: sp.Expr) -> bool:
    num = sp.together(e).as_numer_denom()[0]
    if expanded_terms(num) > MAX_TERMS:
        return False
    return sp.expand(num) == 0


def proved_zero(d: sp.Expr, mode: str = "bounded") -> bool:
    """True only if ``d`` is exactly 0: its numerator over a common denominator expands to 0,
    as written or with tanh, sinh, cosh, sin, cos (and sigmoid, softplus when written with
    exp) rewritten as exponentials, where those expansions have at most MAX_TERMS terms; in
    ``"full"`` mode, also when ``sympy.simplify(d)`` is 0. False means not proved.

    >>> import sympy as sp
    >>> x = sp.Symbol("x")
    >>> proved_zero(sp.tanh(x) - (sp.exp(2 * x) - 1) / (sp.exp(2 * x) + 1))
    True
    >>> proved_zero(sp.sin(x) ** 2 + sp.cos(x) ** 2 - 1), proved_zero(sp.sin(x) - x)
    (True, False)
    """
    if d == 0:
        return True
    if mode == "none" or _tree(d) > MAX_TREE:
        return False
    if _numerator_vanishes(d):
        return True
    exponential = d.rewrite(_EXPONENTIAL, sp.exp)
    if exponential != d and _tree(exponential) <= 4 * MAX_TREE and _numerator_vanishes(exponential):
        return True
    if mode == "full":
        return sp.simplify(d) == 0
    return False
