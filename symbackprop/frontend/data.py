"""Data front end: a model over call-time data -> its parameters, its data and its sums.

A model is a SymPy expression (or a list) in a few parameters, over data that is given at call
time and never differentiated: ``IndexedBase`` arrays read as ``t[i]``, ``t[i + 1]`` or
``X[i, 2]`` inside a ``Sum`` over ``i``, and plain Symbols (a scalar such as an ODE's time).
Each ``Sum`` becomes a *reduction*: a per-row body, differentiated once, that the generated
code loops over; the expression around the sums (the *outer* part) sees each sum as one more
variable. With ``rows=i`` the expression itself is the per-row body (a residual r_i).

A sum's bounds may use length symbols (``N - 1``): each is the length of the data arrays its
sum's index reads along the axis where it reads them, known only at call time, so nothing here
depends on the number of rows.
"""

from __future__ import annotations

import keyword
from collections.abc import Sequence
from dataclasses import dataclass

import sympy as sp

from ..errors import SymbackpropError

# Names the generated code itself uses for its arrays and helpers.
RESERVED_NAMES = frozenset(
    {"xs", "ds", "ss", "vs", "lo", "hi", "np", "nb", "math", "theta", "data", "grad", "hessian",
     "hvp", "value", "jacobian", "out", "acc", "range", "float", "int", "row", "threads", "os"}
)


@dataclass(frozen=True)
class Access:
    """One value read per row: ``base[offset + row, column]`` (column None for 1-D data), or
    the row number itself (``base`` None) when the body uses the index as a number."""

    base: str | None
    offset: int = 0
    column: int | None = None

    @property
    def name(self) -> str:
        """A readable local name: t_i, t_i_p1, t_i_m1, X_i_2, i_row."""
        if self.base is None:
            return "row_number"
        shift = "" if not self.offset else f"_{'p' if self.offset > 0 else 'm'}{abs(self.offset)}"
        column = "" if self.column is None else f"_{self.column}"
        return f"{self.base}_i{shift}{column}"

    def code(self, row: str) -> str:
        """How the generated loop reads it, with ``row`` the loop variable."""
        if self.base is None:
            return f"float({row})"
        at = row if not self.offset else f"{row} + {self.offset}" if self.offset > 0 else f"{row} - {-self.offset}"
        return f"{self.base}[{at}]" if self.column is None else f"{self.base}[{at}, {self.column}]"


@dataclass(frozen=True)
class Reduction:
    """One ``Sum(body, (index, lo, hi))`` (or, for ``rows=``, the per-row body itself)."""

    index: sp.Symbol
    lo: sp.Expr
    hi: sp.Expr  # inclusive, as SymPy writes it
    body: sp.Expr  # data reads replaced by the symbols of ``accesses``
    accesses: tuple[tuple[sp.Symbol, Access], ...]
    source: sp.Expr  # the Sum as the user wrote it (for messages and the module's header)


@dataclass(frozen=True)
class DataArray:
    name: str
    ndim: int


@dataclass(frozen=True)
class Length:
    """A length symbol: the size of ``array`` along ``axis`` (other arrays read by the same
    index along their own axis must agree with it)."""

    symbol: sp.Symbol
    ties: tuple[tuple[str, int], ...]  # (array, axis) pairs that must all have this length
    index: sp.Symbol


@dataclass(frozen=True)
class DataModel:
    """What the rest of the compiler needs to know about a model over data."""

    params: tuple[sp.Symbol, ...]
    arrays: tuple[DataArray, ...]  # in the order the user gave them
    scalars: tuple[sp.Symbol, ...]  # scalar data symbols
    order: tuple[str, ...]  # every data name, arrays and scalars, in the user's order
    lengths: tuple[Length, ...]
    fixed_reads: tuple[tuple[sp.Symbol, str, tuple[int, ...]], ...]  # t[0] outside any loop
    reductions: tuple[Reduction, ...]
    outer: tuple[sp.Expr, ...]  # sums replaced by the symbols in ``sums``
    sums: tuple[sp.Symbol, ...]
    vector: bool
    rows: sp.Symbol | None  # the residual index, for per-row outputs

    @property
    def call_scalars(self) -> tuple[sp.Symbol, ...]:
        """The scalar inputs every kernel reads from ``ds``: scalar data, then lengths, then
        fixed reads of arrays."""
        return self.scalars + tuple(n.symbol for n in self.lengths) + tuple(
            s for s, _, _ in self.fixed_reads
        )


def data_model(exprs: Sequence[sp.Expr], params: Sequence[sp.Symbol], data, rows=None,
               vector: bool = False, constants=()) -> DataModel:
    """Read a model over data; every problem is a SymbackpropError naming the culprit.

    >>> import sympy as sp
    >>> i, N = sp.Symbol("i", integer=True), sp.Symbol("N", integer=True)
    >>> t, y = sp.IndexedBase("t"), sp.IndexedBase("y")
    >>> a, b = sp.symbols("a b")
    >>> m = data_model([sp.Sum((y[i] - a * sp.exp(-b * t[i]))**2, (i, 0, N - 1))], [a, b], [t, y])
    >>> [a.name for a in m.arrays], m.lengths[0].symbol, m.lengths[0].ties, m.outer
    (['t', 'y'], N, (('t', 0), ('y', 0)), (S0,))
    """
    params = tuple(params)
    arrays, scalars, order = _data_items(data, params)
    array_names = {a.name for a in arrays}
    constant_symbols = {s for s, _ in constants}
    ndims: dict[str, int] = {}
    reductions: list[Reduction] = []
    sums: list[sp.Symbol] = []
    if rows is not None:
        if not isinstance(rows, sp.Symbol):
            raise SymbackpropError(f"rows must be the index symbol of the rows (e.g. i); got {rows!r}")
        if vector:
            raise SymbackpropError("rows= takes one per-row expression (a residual r_i), not a list")
        body = exprs[0]
        if body.atoms(sp.Sum):
            raise SymbackpropError(
                f"a per-row residual (rows={rows}) cannot contain a Sum yet: {body}"
            )
        reductions.append(_reduction(body, rows, sp.S.Zero, sp.S.NegativeOne, body, array_names,
                                     ndims))
        outer: list[sp.Expr] = []
    else:
        outer = []
        for k, e in enumerate(exprs):
            replaced = {}
            for s in sorted(e.atoms(sp.Sum), key=sp.default_sort_key):
                if any(isinstance(a, sp.Sum) for a in s.function.atoms(sp.Sum)):
                    raise SymbackpropError(f"nested sums are not supported yet: {s}")
                if len(s.limits) != 1:
                    raise SymbackpropError(
                        f"{s} sums over several indices at once; write one Sum per index"
                    )
                index, lo, hi = s.limits[0]
                symbol = sp.Symbol(f"S{len(sums)}")
                reductions.append(_reduction(s.function, index, lo, hi, s, array_names, ndims))
                sums.append(symbol)
                replaced[s] = symbol
            outer.append(e.xreplace(replaced) if replaced else e)
    lengths = _lengths(reductions, ndims, rows)
    fixed: list[tuple[sp.Symbol, str, tuple[int, ...]]] = []
    outer = [_fixed_reads(e, array_names, ndims, fixed) for e in outer]
    reductions = [
        Reduction(r.index, r.lo, r.hi, _fixed_reads(r.body, array_names, ndims, fixed),
                  r.accesses, r.source)
        for r in reductions
    ]
    for a in arrays:
        if a.name not in ndims:
            raise SymbackpropError(f"data array {a.name} is never read by the expression")
    arrays = tuple(DataArray(a.name, ndims[a.name]) for a in arrays)
    model = DataModel(params, arrays, scalars, order, tuple(lengths), tuple(fixed),
                      tuple(reductions), tuple(outer), tuple(sums), vector, rows)
    _check_symbols(model, constant_symbols)
    return model


def _data_items(data, params):
    if data is None or isinstance(data, (str, sp.Basic)) or not hasattr(data, "__iter__"):
        raise SymbackpropError("data must be a list of sympy IndexedBase arrays and Symbols")
    arrays, scalars, order, seen = [], [], [], set()
    param_names = {str(p) for p in params}
    for item in data:
        if isinstance(item, sp.IndexedBase):
            name = str(item.label)
        elif isinstance(item, sp.Symbol):
            name = item.name
        else:
            raise SymbackpropError(
                f"data entry {item!r} is not a sympy IndexedBase (an array, read as t[i]) or a "
                "Symbol (a scalar)"
            )
        if not name.isidentifier() or keyword.iskeyword(name) or name.startswith("_") or (
            name in RESERVED_NAMES
        ):
            raise SymbackpropError(
                f"data name {name!r} cannot name an argument of the generated code; rename it"
            )
        if name in seen:
            raise SymbackpropError(f"data name {name} is given twice")
        if name in param_names:
            raise SymbackpropError(f"{name} is both a parameter and data")
        seen.add(name)
        order.append(name)
        (arrays if isinstance(item, sp.IndexedBase) else scalars).append(
            DataArray(name, 0) if isinstance(item, sp.IndexedBase) else item
        )
    return arrays, tuple(scalars), tuple(order)


def _reduction(body, index, lo, hi, source, array_names, ndims) -> Reduction:
    if not isinstance(index, sp.Symbol):
        raise SymbackpropError(f"the index of {source} must be a symbol; got {index}")
    index = sp.Symbol(index.name, integer=True) if isinstance(index, sp.Idx) else index
    for bound in (lo, hi):
        if not (bound.is_integer or bound.is_Integer or all(s.is_integer for s in bound.free_symbols)):
            raise SymbackpropError(
                f"the bounds of {source} must be integers or integer symbols (declare a length "
                f"with sp.Symbol('N', integer=True)); got {bound}"
            )
        if index in bound.free_symbols:
            raise SymbackpropError(f"the bounds of {source} use its own index {index}")
    accesses: dict[Access, sp.Symbol] = {}
    replaced = {}
    for read in sorted(body.atoms(sp.Indexed), key=sp.default_sort_key):
        name = str(read.base.label)
        if name not in array_names:
            raise SymbackpropError(
                f"{read} reads {name}, which is not in data; add sp.IndexedBase({name!r}) to data"
            )
        if index not in read.free_symbols:
            continue  # a fixed read such as t[0]: read once, outside the loop
        ndim = len(read.indices)
        if ndim > 2:
            raise SymbackpropError(f"{read}: data arrays have one or two indices")
        if ndims.setdefault(name, ndim) != ndim:
            raise SymbackpropError(f"{name} is read with {ndims[name]} and with {ndim} indices")
        offset = _offset(read.indices[0], index, read)
        column = None
        if ndim == 2:
            column = _integer(read.indices[1], read, "its second index")
        access = Access(name, offset, column)
        symbol = accesses.setdefault(access, sp.Dummy(access.name))
        replaced[read] = symbol
    body = body.xreplace(replaced) if replaced else body
    if index in body.free_symbols:  # the row number used as a value
        symbol = accesses.setdefault(Access(None), sp.Dummy("row_number"))
        body = body.xreplace({index: symbol})
    return Reduction(index, sp.sympify(lo), sp.sympify(hi), body,
                     tuple((s, a) for a, s in accesses.items()), source)


def _offset(expr, index, read) -> int:
    shift = sp.expand(expr - index)
    if index in shift.free_symbols or not shift.is_Integer:
        raise SymbackpropError(
            f"{read}: a data index must be the sum's index plus an integer ({index}, {index} + 1, "
            f"{index} - 2); got {expr}"
        )
    return int(shift)


def _integer(expr, read, what) -> int:
    if not sp.sympify(expr).is_Integer:
        raise SymbackpropError(f"{read}: {what} must be an integer; got {expr}")
    value = int(expr)
    if value < 0:
        raise SymbackpropError(f"{read}: {what} must not be negative; got {value}")
    return value


def _lengths(reductions, ndims, rows) -> list[Length]:
    """Each length symbol in the bounds, tied to the arrays its sum's index reads."""
    found: dict[sp.Symbol, Length] = {}
    for r in reductions:
        ties = tuple(dict.fromkeys((a.base, 0) for _, a in r.accesses if a.base is not None))
        symbols = (r.lo.free_symbols | r.hi.free_symbols) if rows is None else set()
        if rows is not None:
            if not ties:
                raise SymbackpropError(f"rows={rows}: the expression reads no data at {rows}")
            symbols = {sp.Symbol(f"N_{rows}", integer=True)}
            reductions[0] = Reduction(r.index, sp.S.Zero, next(iter(symbols)) - 1, r.body,
                                      r.accesses, r.source)
        for s in sorted(symbols, key=str):
            if not ties:
                raise SymbackpropError(
                    f"{s} in the bounds of {r.source} is not the length of any data array read "
                    f"at {r.index}; give the bounds as numbers, or read the data at {r.index}"
                )
            if s in found and found[s].ties != ties:
                ties = tuple(dict.fromkeys(found[s].ties + ties))
            found[s] = Length(s, ties, r.index)
    return list(found.values())


def _fixed_reads(expr, array_names, ndims, fixed) -> sp.Expr:
    """Replace reads at constant positions (t[0], X[2, 1]) by scalars read once per call."""
    replaced = {}
    for read in expr.atoms(sp.Indexed):
        name = str(read.base.label)
        if name not in array_names:
            raise SymbackpropError(
                f"{read} reads {name}, which is not in data; add sp.IndexedBase({name!r}) to data"
            )
        where = tuple(_integer(k, read, "an index outside a sum") for k in read.indices)
        if ndims.setdefault(name, len(where)) != len(where):
            raise SymbackpropError(f"{name} is read with {ndims[name]} and with {len(where)} indices")
        for symbol, base, at in fixed:
            if base == name and at == where:
                break
        else:
            symbol = sp.Dummy(f"{name}_{'_'.join(map(str, where))}")
            fixed.append((symbol, name, where))
        replaced[read] = symbol
    return expr.xreplace(replaced) if replaced else expr


def _check_symbols(model: DataModel, constants) -> None:
    known = set(model.params) | set(model.call_scalars) | set(model.sums) | set(constants)
    for r in model.reductions:
        inner = known | {s for s, _ in r.accesses}
        for s in sorted(r.body.free_symbols - inner, key=str):
            raise SymbackpropError(
                f"free symbol {s} in {r.source} is neither a parameter, data nor a constant; "
                f"add it to the parameters, to data, or give it with constants={{{s}: ...}}"
            )
    for e in model.outer:
        for s in sorted(e.free_symbols - known, key=str):
            raise SymbackpropError(
                f"free symbol {s} is neither a parameter, data nor a constant; add it to the "
                f"parameters, to data, or give it with constants={{{s}: ...}}"
            )
