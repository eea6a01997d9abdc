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


def _steps(model: DataModel) -> list[tuple]:
    """The checks and values of a model's data layout, in order, for both printers below:
    ("length", symbol, index, ties), ("bounds", lo, hi, lo code, hi code), ("span", names,
    outer names, coefficients), ("reads", array, axis, first, end, offset, read) and
    ("position", array, axis, k, read)."""
    steps: list[tuple] = []
    for length in model.lengths:
        steps.append(("length", str(length.symbol), str(length.index), length.ties))
    for k, r in enumerate(model.reductions):
        (index, lo, hi), inner = r.loops[0], r.loops[1:]
        spans = [(f"lo{k}", f"hi{k}")]
        steps.append(("bounds", f"lo{k}", f"hi{k}", bound_code(lo), bound_code(hi + 1)))
        for level, (_, first, last) in enumerate(inner, start=1):
            # Inner bounds are i + k or k (checked by the front end): their extremes over the
            # rows with a non-empty inner range bound every inner read.
            coefficients = []
            for bound in (first, last + 1):
                a = int(bound.coeff(index)) if index in bound.free_symbols else 0
                coefficients += [str(a), bound_code(sp.expand(bound - a * index))]
            spans.append((f"lo{k}_{level}", f"hi{k}_{level}"))
            steps.append(("span", spans[-1], spans[0], tuple(coefficients)))
        seen = set()
        variables = [str(i) for i, _, _ in r.loops]
        for _, access in r.accesses:
            if access.base is None or access in seen:
                continue
            seen.add(access)
            read = access.code(variables)
            for axis, (level, offset) in enumerate(access.at):
                if level is None:
                    steps.append(("position", access.base, axis, offset, read))
                else:
                    steps.append(("reads", access.base, axis, *spans[level], offset, read))
    for _, base, at in model.fixed_reads:
        read = f"{base}[{', '.join(map(str, at))}]"
        for axis, k in enumerate(at):
            steps.append(("position", base, axis, k, read))
    return steps


def _scalars(model: DataModel) -> list[str]:
    """ds, in the order of model.call_scalars."""
    out = [s.name for s in model.scalars] + [f"float({n.symbol})" for n in model.lengths]
    return out + [f"{base}[{', '.join(map(str, at))}]" for _, base, at in model.fixed_reads]


def _tuple(items) -> str:
    return f"({', '.join(items)},)" if items else "()"


def prepare_source(model: DataModel) -> str:
    """``_prepare(data)``: each datum converted and checked, naming the array, the index and
    the sizes in a DataError; returns (arrays, ds, bounds) for the kernels."""
    arrays = {a.name: a for a in model.arrays}
    b = Lines()
    b.add("def _prepare(data):")
    with b.indented():
        b.add(
            '"""The data as the kernels take it: (arrays, ds, bounds); DataError naming the '
            'array if it does not fit."""'
        )
        b.add(f"{_tuple(model.order)} = data")
        for name in model.order:
            if name in arrays:
                b.add(f"{name} = _array({name}, {name!r}, {arrays[name].ndim})")
            else:
                b.add(f"{name} = _scalar({name}, {name!r})")
        bounds = []
        for step in _steps(model):
            kind, *args = step
            if kind == "length":
                symbol, index, ties = args
                pairs = ", ".join(f"({a}, {a!r}, {axis})" for a, axis in ties)
                b.add(f"{symbol} = _length({symbol!r}, {index!r}, ({pairs},))")
            elif kind == "bounds":
                lo, hi, lo_code, hi_code = args
                b.add(f"{lo}, {hi} = {lo_code}, {hi_code}")
                bounds.append(f"({lo}, {hi})")
            elif kind == "span":
                (first, end), (lo, hi), coefficients = args
                b.add(f"{first}, {end} = _span({lo}, {hi}, {', '.join(coefficients)})")
            elif kind == "reads":
                base, axis, first, end, offset, read = args
                b.add(f"_reads({base}, {base!r}, {axis}, {first}, {end}, {offset}, {read!r})")
            else:
                base, axis, k, read = args
                b.add(f"_position({base}, {base!r}, {axis}, {k}, {read!r})")
        b.add(f"ds = np.array([{', '.join(_scalars(model))}], dtype=np.float64)")
        b.add(f"bounds = np.array([{', '.join(bounds)}], dtype=np.int64).reshape(-1, 2)")
        b.add(f"return {_tuple([a.name for a in model.arrays])}, ds, bounds")
    return b.text()


def layout_source(model: DataModel) -> str:
    """``_layout(data...)``: the same checks, compiled, for data that is float64 already:
    (ok, ds, bounds), where not ok means "call _prepare to say why"."""
    b = Lines()
    b.add("@nb.njit(cache=CACHE)")
    b.add(f"def _layout({''.join(f'{n}, ' for n in model.order)}ds, bounds):")
    with b.indented():
        b.add('"""_prepare\'s checks without their messages: whether the data fits; if it '
              'does, ds and bounds filled in."""')
        bad = "return False"
        bounds = []
        for kind, *args in _steps(model):
            if kind == "length":
                symbol, _, ties = args
                (first, axis0), *rest = ties
                b.add(f"{symbol} = {first}.shape[{axis0}]")
                for a, axis in rest:
                    b.add(f"if {a}.shape[{axis}] != {symbol}:")
                    b.add(f"    {bad}")
            elif kind == "bounds":
                lo, hi, lo_code, hi_code = args
                b.add(f"{lo}, {hi} = {lo_code}, {hi_code}")
                bounds.append((lo, hi))
            elif kind == "span":
                (first, end), (lo, hi), coefficients = args
                b.add(f"{first}, {end} = _span({lo}, {hi}, {', '.join(coefficients)})")
            elif kind == "reads":
                base, axis, first, end, offset, _ = args
                b.add(
                    f"if {end} > {first} and ({first} + {offset} < 0 or "
                    f"{end} - 1 + {offset} >= {base}.shape[{axis}]):"
                )
                b.add(f"    {bad}")
            else:
                base, axis, k, _ = args
                b.add(f"if {k} >= {base}.shape[{axis}]:")
                b.add(f"    {bad}")
        for j, value in enumerate(_scalars(model)):
            b.add(f"ds[{j}] = {value}")
        for j, (lo, hi) in enumerate(bounds):
            b.add(f"bounds[{j}, 0], bounds[{j}, 1] = {lo}, {hi}")
        b.add("return True")
    return b.text()
