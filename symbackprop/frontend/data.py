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
    {
        "xs",
        "ds",
        "ss",
        "vs",
        "lo",
        "hi",
        "np",
        "nb",
        "math",
        "theta",
        "data",
        "grad",
        "hessian",
        "hvp",
        "value",
        "jacobian",
        "out",
        "acc",
        "range",
        "float",
        "int",
        "row",
        "threads",
        "os",
    }
)


@dataclass(frozen=True)
class Access:
    """One value read per iteration: ``base[...]`` with, per axis, ``(level, offset)``: the loop
    variable of that nesting level (0 outermost) plus an offset, or (None, k) for a fixed
    position k. ``base`` None is the loop variable of ``at[0]`` used as a number.

    >>> Access("X", ((0, 1), (None, 2))).code(("i",)), Access("x", ((1, 0),)).code(("i", "j"))
    ('X[i + 1, 2]', 'x[j]')
    """

    base: str | None
    at: tuple[tuple[int | None, int], ...]

    @property
    def level(self) -> int:
        """The innermost loop it depends on."""
        return max(lv for lv, _ in self.at if lv is not None)

    @property
    def name(self) -> str:
        """A readable local name: t_i, t_i_p1, X_i_2, x_j."""
        letters = "ijklmn"
        parts = []
        for level, k in self.at:
            if level is None:
                parts.append(str(k))
            else:
                parts.append(
                    letters[level] + ("" if not k else f"_{'p' if k > 0 else 'm'}{abs(k)}")
                )
        return f"{self.base or 'row'}_{'_'.join(parts)}"

    def code(self, variables: Sequence[str]) -> str:
        """How the generated loop reads it, with ``variables`` the loop variables by level."""
        axes = []
        for level, k in self.at:
            if level is None:
                axes.append(str(k))
            else:
                v = variables[level]
                axes.append(v if not k else f"{v} + {k}" if k > 0 else f"{v} - {-k}")
        return f"float({axes[0]})" if self.base is None else f"{self.base}[{', '.join(axes)}]"


@dataclass(frozen=True)
class Reduction:
    """One sum as nested loops over ``loops`` ((index, lo, hi inclusive), outermost first), of
    ``body`` (data reads replaced by the symbols of ``accesses``); or, for ``rows=``, the
    per-row body itself (one loop)."""

    loops: tuple[tuple[sp.Symbol, sp.Expr, sp.Expr], ...]
    body: sp.Expr
    accesses: tuple[tuple[sp.Symbol, Access], ...]
    source: sp.Expr  # the Sum as the user wrote it (for messages and the module's header)

    @property
    def index(self) -> sp.Symbol:
        return self.loops[0][0]


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
    index: sp.Symbol  # the index whose reads tie them


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
        return (
            self.scalars
            + tuple(n.symbol for n in self.lengths)
            + tuple(s for s, _, _ in self.fixed_reads)
        )


def data_model(
    exprs: Sequence[sp.Expr],
    params: Sequence[sp.Symbol],
    data,
    rows=None,
    vector: bool = False,
    constants=(),
) -> DataModel:
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
            raise SymbackpropError(
                f"rows must be the index symbol of the rows (e.g. i); got {rows!r}"
            )
        if vector:
            raise SymbackpropError(
                "rows= takes one per-row expression (a residual r_i), not a list"
            )
        body = exprs[0]
        if body.atoms(sp.Sum):
            raise SymbackpropError(
                f"a per-row residual (rows={rows}) cannot contain a Sum yet: {body}"
            )
        length = sp.Symbol(f"N_{rows}", integer=True)
        reductions.append(
            _reduction(body, ((rows, sp.S.Zero, length - 1),), body, array_names, ndims)
        )
        outer: list[sp.Expr] = []
    else:
        outer = []
        for e in exprs:
            replaced = {}
            for s in sorted(e.atoms(sp.Sum), key=sp.default_sort_key):
                if any(s in other.atoms(sp.Sum) - {other} for other in e.atoms(sp.Sum)):
                    continue  # an inner sum: part of the sum around it
                total = sp.S.Zero
                for loops, body in _nests(s, ()):
                    symbol = sp.Symbol(f"S{len(sums)}")
                    reductions.append(_reduction(body, loops, s, array_names, ndims))
                    sums.append(symbol)
                    total += symbol
                replaced[s] = total
            outer.append(e.xreplace(replaced) if replaced else e)
    lengths = _lengths(reductions)
    fixed: list[tuple[sp.Symbol, str, tuple[int, ...]]] = []
    outer = [_fixed_reads(e, array_names, ndims, fixed) for e in outer]
    reductions = [
        Reduction(r.loops, _fixed_reads(r.body, array_names, ndims, fixed), r.accesses, r.source)
        for r in reductions
    ]
    for a in arrays:
        if a.name not in ndims:
            raise SymbackpropError(f"data array {a.name} is never read by the expression")
    arrays = tuple(DataArray(a.name, ndims[a.name]) for a in arrays)
    model = DataModel(
        params,
        arrays,
        scalars,
        order,
        tuple(lengths),
        tuple(fixed),
        tuple(reductions),
        tuple(outer),
        tuple(sums),
        vector,
        rows,
    )
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
        if (
            not name.isidentifier()
            or keyword.iskeyword(name)
            or name.startswith("_")
            or (name in RESERVED_NAMES)
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


MAX_NESTING = 2


def _nests(s: sp.Sum, loops) -> list[tuple[tuple, sp.Expr]]:
    """``s`` as sums of single terms over nested loops: Sum_i (a + c Sum_j b) is
    Sum_i a + Sum_i Sum_j c b (c does not depend on j). An inner sum inside a nonlinear
    function of the row is refused."""
    for index, lo, hi in reversed(s.limits):  # SymPy lists the innermost limit first
        loops = loops + ((index, lo, hi),)
    if len(loops) > MAX_NESTING:
        raise SymbackpropError(
            f"{s}: sums nested {len(loops)} deep; at most {MAX_NESTING} (rows, and pairs or "
            "components within a row) are supported"
        )
    if not s.function.atoms(sp.Sum):
        return [(loops, s.function)]
    out = []
    for term in sp.Add.make_args(
        sp.expand(
            s.function,
            deep=False,
            mul=True,
            multinomial=False,
            power_exp=False,
            power_base=False,
            log=False,
        )
    ):
        inner = [f for f in sp.Mul.make_args(term) if isinstance(f, sp.Sum)]
        rest = [f for f in sp.Mul.make_args(term) if not isinstance(f, sp.Sum)]
        if not inner and not term.atoms(sp.Sum):
            out.append((loops, term))
        elif len(inner) == 1 and not any(f.atoms(sp.Sum) for f in rest):
            (inside,) = inner
            factor = sp.Mul(*rest)
            if any(index in factor.free_symbols for index, _, _ in inside.limits):
                raise SymbackpropError(f"{term}: a factor outside {inside} uses its index")
            out.extend(_nests(sp.Sum(factor * inside.function, *inside.limits), loops))
        else:
            raise SymbackpropError(
                f"a sum inside a nonlinear function of a row, or a product of sums within one "
                f"row, is not supported yet: {term} (in {s})"
            )
    return out


def _reduction(body, loops, source, array_names, ndims) -> Reduction:
    indices = []
    fixed_loops = []
    for level, (index, lo, hi) in enumerate(loops):
        if not isinstance(index, sp.Symbol):
            raise SymbackpropError(f"the index of {source} must be a symbol; got {index}")
        if isinstance(index, sp.Idx):
            index = sp.Symbol(index.name, integer=True)
        if index in indices:
            raise SymbackpropError(f"{source} uses the index {index} twice")
        for bound in (sp.sympify(lo), sp.sympify(hi)):
            _check_bound(bound, index, indices, source)
        indices.append(index)
        fixed_loops.append((index, sp.sympify(lo), sp.sympify(hi)))
    accesses: dict[Access, sp.Symbol] = {}
    replaced = {}
    for read in sorted(body.atoms(sp.Indexed), key=sp.default_sort_key):
        name = _array_read(read, array_names)
        if not set(indices) & read.free_symbols:
            continue  # a fixed read such as t[0]: read once, outside the loop
        ndim = len(read.indices)
        if ndim > 2:
            raise SymbackpropError(f"{read}: data arrays have one or two indices")
        if ndims.setdefault(name, ndim) != ndim:
            raise SymbackpropError(f"{name} is read with {ndims[name]} and with {ndim} indices")
        access = Access(name, tuple(_axis(k, indices, read) for k in read.indices))
        replaced[read] = accesses.setdefault(access, sp.Dummy(access.name))
    body = body.xreplace(replaced) if replaced else body
    for level, index in enumerate(indices):
        if index in body.free_symbols:  # the loop variable used as a number
            access = Access(None, ((level, 0),))
            symbol = accesses.setdefault(access, sp.Dummy(f"{index}_number"))
            body = body.xreplace({index: symbol})
    return Reduction(tuple(fixed_loops), body, tuple((s, a) for a, s in accesses.items()), source)


def _check_bound(bound, index, outer_indices, source) -> None:
    if bound.is_integer is not True:
        raise SymbackpropError(
            f"the bounds of {source} must be integers or integer symbols (declare a length "
            f"with sp.Symbol('N', integer=True)); got {bound}"
        )
    if index in bound.free_symbols:
        raise SymbackpropError(f"the bounds of {source} use its own index {index}")
    poly = sp.Poly(bound, *outer_indices) if outer_indices else None
    if poly is not None and (
        poly.total_degree() > 1
        or any(c not in (0, 1) for c in (poly.coeff_monomial(i) for i in outer_indices))
    ):
        raise SymbackpropError(
            f"the bounds of {source} may use an outer index once, as i + k; got {bound}"
        )


def _axis(expr, indices, read) -> tuple[int | None, int]:
    """(level, offset) of one index of a data read: a loop index plus an integer, or a
    fixed position (None, k)."""
    expr = sp.expand(expr)
    used = [k for k, index in enumerate(indices) if index in expr.free_symbols]
    if not used:
        return None, _integer(expr, read, "a fixed index")
    shift = sp.expand(expr - indices[used[-1]])
    if len(used) > 1 or not shift.is_Integer:
        names = ", ".join(map(str, indices))
        raise SymbackpropError(
            f"{read}: a data index must be one sum index ({names}) plus an integer (i, i + 1, "
            f"i - 2) or a number; got {expr}"
        )
    return used[-1], int(shift)


def _integer(expr, read, what) -> int:
    if not sp.sympify(expr).is_Integer:
        raise SymbackpropError(f"{read}: {what} must be an integer; got {expr}")
    value = int(expr)
    if value < 0:
        raise SymbackpropError(f"{read}: {what} must not be negative; got {value}")
    return value


def _lengths(reductions) -> list[Length]:
    """Each length symbol in the bounds, tied to the arrays its sum's index reads, along the
    axis where it reads them."""
    found: dict[sp.Symbol, Length] = {}
    for r in reductions:
        for level, (index, lo, hi) in enumerate(r.loops):
            ties = tuple(
                dict.fromkeys(
                    (a.base, axis)
                    for _, a in r.accesses
                    if a.base is not None
                    for axis, (lv, _) in enumerate(a.at)
                    if lv == level
                )
            )
            symbols = (lo.free_symbols | hi.free_symbols) - {i for i, _, _ in r.loops}
            for s in sorted(symbols, key=str):
                if not ties:
                    raise SymbackpropError(
                        f"{s} in the bounds of {r.source} is not the length of any data array "
                        f"read at {index}; give the bounds as numbers, or read the data at {index}"
                    )
                if not s.name.isidentifier() or s.name in RESERVED_NAMES:
                    raise SymbackpropError(f"length {s} cannot name a local of the generated code")
                if s in found:
                    ties = tuple(dict.fromkeys(found[s].ties + ties))
                found[s] = Length(s, ties, index)
    return list(found.values())


def _array_read(read: sp.Indexed, array_names) -> str:
    """The name of the data array ``read`` reads; SymbackpropError if it is not data."""
    name = str(read.base.label)
    if name not in array_names:
        raise SymbackpropError(
            f"{read} reads {name}, which is not in data; add sp.IndexedBase({name!r}) to data"
        )
    return name


def _fixed_reads(expr, array_names, ndims, fixed) -> sp.Expr:
    """Replace reads at constant positions (t[0], X[2, 1]) by scalars read once per call."""
    replaced = {}
    for read in sorted(expr.atoms(sp.Indexed), key=sp.default_sort_key):
        name = _array_read(read, array_names)
        where = tuple(_integer(k, read, "an index outside a sum") for k in read.indices)
        if ndims.setdefault(name, len(where)) != len(where):
            raise SymbackpropError(
                f"{name} is read with {ndims[name]} and with {len(where)} indices"
            )
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
