"""Prints a data model's ``_prepare(data)``: the call-time checks and layout of its data.

It converts each data argument (float64, the dimensions the model reads), computes each length
symbol from the arrays its index ties together (they must agree), each sum's row range from its
bounds, and checks that every read stays inside its array, before any kernel runs: Numba does
not check bounds. The helpers it calls (``_array``, ``_length``, ``_reads``, ...) are in
templates/data_helpers.py.tmpl.
"""

from __future__ import annotations

import sympy as sp

from ..frontend.data import DataModel
from .lines import Lines


def bound_code(expr: sp.Expr) -> str:
    """Python source for an integer bound in the length symbols (``N - 1``).

    >>> N = sp.Symbol("N", integer=True)
    >>> bound_code(N - 1), bound_code(sp.Integer(9)), bound_code(2 * N)
    ('N - 1', '9', '2*N')
    """
    return sp.pycode(expr, fully_qualified_modules=False)


def prepare_source(model: DataModel) -> str:
    """The ``_prepare`` function of ``model``'s module (its data in the user's order)."""
    arrays = {a.name: a for a in model.arrays}
    b = Lines()
    b.add("def _prepare(data):")
    with b.indented():
        b.add('"""The data as the kernels take it: (arrays, ds, bounds); DataError naming the '
              'array if it does not fit."""')
        names = ", ".join(model.order)
        b.add(f"({names},) = data" if model.order else "() = data")
        for name in model.order:
            if name in arrays:
                b.add(f"{name} = _array({name}, {name!r}, {arrays[name].ndim})")
            else:
                b.add(f"{name} = _scalar({name}, {name!r})")
        for length in model.lengths:
            ties = ", ".join(f"({a}, {a!r}, {axis})" for a, axis in length.ties)
            b.add(f"{length.symbol} = _length({str(length.symbol)!r}, {str(length.index)!r}, "
                  f"({ties},))")
        bounds = []
        for k, r in enumerate(model.reductions):
            (index, lo, hi), inner = r.loops[0], r.loops[1:]
            spans = [(f"lo{k}", f"hi{k}")]
            b.add(f"lo{k}, hi{k} = {bound_code(lo)}, {bound_code(hi + 1)}")
            bounds.append(f"(lo{k}, hi{k})")
            for level, (_, first, last) in enumerate(inner, start=1):
                # Inner bounds are i + k or k (checked by the front end): their extremes over
                # the rows with a non-empty inner range bound every inner read.
                coefficients = []
                for bound in (first, last + 1):
                    a = int(bound.coeff(index)) if index in bound.free_symbols else 0
                    coefficients += [str(a), bound_code(sp.expand(bound - a * index))]
                name = (f"lo{k}_{level}", f"hi{k}_{level}")
                b.add(f"{name[0]}, {name[1]} = _span(lo{k}, hi{k}, {', '.join(coefficients)})")
                spans.append(name)
            seen = set()
            variables = [str(i) for i, _, _ in r.loops]
            for _, access in r.accesses:
                if access.base is None or access in seen:
                    continue
                seen.add(access)
                read = access.code(variables)
                for axis, (level, offset) in enumerate(access.at):
                    if level is None:
                        b.add(f"_position({access.base}, {access.base!r}, {axis}, {offset}, "
                              f"{read!r})")
                    else:
                        first, end = spans[level]
                        b.add(f"_reads({access.base}, {access.base!r}, {axis}, {first}, {end}, "
                              f"{offset}, {read!r})")
        scalars = [s.name for s in model.scalars] + [f"float({n.symbol})" for n in model.lengths]
        scalars += [f"_fixed({base}, {base!r}, {at!r})" for _, base, at in model.fixed_reads]
        b.add(f"ds = np.array([{', '.join(scalars)}], dtype=np.float64)")
        tuple_of = lambda items: f"({', '.join(items)},)" if items else "()"  # noqa: E731
        b.add(f"return {tuple_of([a.name for a in model.arrays])}, ds, {tuple_of(bounds)}")
    return b.text()
