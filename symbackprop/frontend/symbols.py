"""The variables a user passes (``vars``, ``wrt``), checked once for every entry point."""

from __future__ import annotations

import sympy as sp

from ..errors import SymbackpropError


def symbol_list(vars, what: str = "vars", *, distinct: bool = False) -> list[sp.Symbol]:
    """``vars`` (a Symbol or an iterable of them) as a list, or a SymbackpropError naming the
    entry at fault; with ``distinct``, a symbol listed twice is an error too.

    >>> import sympy as sp
    >>> x, y = sp.symbols("x y")
    >>> symbol_list(x), symbol_list((x, y))
    ([x], [x, y])
    >>> symbol_list([x, 3])
    Traceback (most recent call last):
    ...
    symbackprop.errors.SymbackpropError: variable 3 is not a SymPy Symbol
    """
    try:
        symbols = [vars] if isinstance(vars, sp.Symbol) else list(vars)
    except TypeError:
        raise SymbackpropError(f"{what} must be a list of SymPy symbols; got {vars!r}") from None
    if not symbols:
        raise SymbackpropError(
            f"{what} is empty: give the variables to differentiate with respect to"
        )
    entry = "variable" if what == "vars" else f"{what} entry"
    for v in symbols:
        if not isinstance(v, sp.Symbol):
            raise SymbackpropError(f"{entry} {v!r} is not a SymPy Symbol")
    if distinct:
        seen: set[sp.Symbol] = set()
        for v in symbols:
            if v in seen:
                raise SymbackpropError(f"variable {v} appears twice in {what}")
            seen.add(v)
    return symbols
