"""What a person types -> what the library takes: formulas (through the safe parser, never
evaluated as Python) with real symbols, the --wrt variables, the --data names (arrays read as
t[i], or scalars), and name=value assignments (--at, --const); plus the options several
commands share.
"""

from __future__ import annotations

import re

import click

from ..errors import SymbackpropError

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SPLIT_NAME = re.compile(r"(\d+)")

WRT = click.option(
    "--wrt",
    multiple=True,
    metavar="x,y,...",
    help="Variables, comma-separated (default: every symbol of the formula, by name). "
    "Other names are constants.",
)
JSON = click.option("--json", "as_json", is_flag=True, help="Print one JSON object (for scripts).")
DATA = click.option(
    "--data",
    "data",
    multiple=True,
    metavar="t,y,...",
    help="Data names, comma-separated: read as t[i] (or X[i, 2]) a name is an array, else a "
    "scalar; sum(body, i) sums over every row i = 0..N-1, sum(body, i, lo, hi) from lo to hi. "
    "Data is given at call time and never differentiated.",
)
LATEX = click.option("--latex", is_flag=True, help="Print LaTeX instead of plain text.")


def _natural(name: str) -> tuple:
    """Sort key: x2 before x10."""
    return tuple(int(p) if p.isdigit() else p for p in _SPLIT_NAME.split(name))


def _names(values: tuple[str, ...], what: str) -> list[str]:
    """'x,y' (possibly given several times) -> ['x', 'y'], each a plain name."""
    names = [n.strip() for v in values for n in v.split(",") if n.strip()]
    for n in names:
        if not _NAME.fullmatch(n) or "__" in n:
            raise SymbackpropError(f"{what} {n!r} is not a variable name (letters, digits, _)")
    if len(set(names)) != len(names):
        twice = sorted({n for n in names if names.count(n) > 1})
        raise SymbackpropError(f"{what} names {', '.join(twice)} more than once")
    return names


def _real(expr):
    """Every symbol real (so |x|' is sign(x), not a complex-analysis formula)."""
    import sympy as sp

    if isinstance(expr, sp.MatrixBase):
        return expr
    swap = {s: sp.Symbol(s.name, real=True) for s in expr.free_symbols if not s.is_real}
    return expr.xreplace(swap) if swap else expr


def formulas(texts, wrt: tuple[str, ...], *, what: str = "EXPR", named=(), data=()):
    """The formulas (SymPy, real symbols) and the variables: --wrt, else every symbol by name.

    ``named``: the other names the command was given (--const, --at); like --wrt they are
    symbols to the parser, so ``lr x`` with ``--const lr=0.1`` has the symbol lr, not l*r.
    ``data``: the --data names (see :func:`data_items`); they, the sums' indices and lengths are
    never variables.

    >>> formulas(["x2 + x10 y"], ())
    ([x10*y + x2], [x2, x10, y])
    >>> formulas(["sum((y[i] - a t[i])^2, i)"], (), data=("t,y",))
    ([Sum((-a*t[i] + y[i])**2, (i, 0, N - 1))], [a])
    """
    import sympy as sp

    from ..analysis.parse import parse

    if not texts:
        raise click.UsageError(f"give a formula ({what})")
    names = _names(wrt, "--wrt")
    data_names = _names(data, "--data")
    for n in data_names:
        if n in names:
            raise SymbackpropError(f"{n} is in --wrt and in --data: a variable or data, not both")
    data_symbols = [sp.Symbol(n, real=True) for n in data_names]
    variables = [sp.Symbol(n, real=True) for n in names]
    exprs = []
    for text in texts:
        if text.startswith("--"):
            raise click.UsageError(f"no such option: {text.split('=', 1)[0]}")
        declared = variables + [sp.Symbol(n, real=True) for n in named if n not in names]
        try:
            expr = _real(parse(text, declared, allow_new=True, data=data_symbols))
        except SymbackpropError as error:
            if "declared as data" in str(error) and not data_names:
                raise SymbackpropError(f"{error}; name the data arrays with --data") from None
            raise
        if isinstance(expr, sp.MatrixBase):
            raise SymbackpropError(f"{text!r} is a matrix; give one formula per argument")
        # 'a(x + 1)' reads as the product a*(x + 1): say so (not an error, since with a
        # constant a that is what it means; a longer word before '(' the parser refuses)
        known = {v.name for v in variables}
        for s in sorted(expr.free_symbols, key=lambda s: s.name):
            if s.name not in known and re.search(rf"(?<![A-Za-z0-9_]){s.name}\s*\(", text):
                click.echo(
                    f"note: {s.name}(...) reads as {s.name} times (...): {s.name} is not a "
                    "known function",
                    err=True,
                )
        if expr.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
            raise SymbackpropError(f"{text!r} is undefined or infinite (it reads as {expr})")
        if not data_names and expr.has(sp.Sum):
            raise SymbackpropError(
                f"{text!r} has a sum: sums are over data; name the data arrays with --data"
            )
        exprs.append(expr)
    free = set().union(*(e.free_symbols for e in exprs))
    # data, the sums' indices and the lengths (integer symbols) are not variables
    free = {s for s in free if isinstance(s, sp.Symbol) and not s.is_integer}
    free -= set(data_symbols)
    symbols = sorted(free, key=lambda s: _natural(s.name))
    if not variables:
        variables = symbols
        if not variables:
            raise SymbackpropError("the formula has no variables: nothing to differentiate")
    return exprs, variables


def refuse_data(command: str, data: tuple[str, ...], why: str) -> None:
    """The error for --data given to a command that cannot use it, saying what to do instead."""
    if data:
        raise SymbackpropError(f"{command} does not take --data: {why}")


def data_items(exprs, data: tuple[str, ...]) -> list:
    """The --data names as the library takes them, in their order: ``sp.IndexedBase`` for a
    name the formulas read as t[i], the Symbol for a scalar; a name used both ways, or not at
    all, is an error.

    >>> fs, _ = formulas(["sum((y[i] - a t[i])^2, i) + c"], (), data=("t,y,c",))
    >>> data_items(fs, ("t,y,c",))
    [t, y, c]
    """
    import sympy as sp

    names = _names(data, "--data")
    arrays = {str(read.base.label): read.base for e in exprs for read in e.atoms(sp.Indexed)}
    # what is left once every read t[...] is gone: the names used as scalars
    plain = [e.xreplace({r: sp.Dummy() for r in e.atoms(sp.Indexed)}) for e in exprs]
    scalars = {s.name: s for e in plain for s in e.free_symbols if isinstance(s, sp.Symbol)}
    items = []
    for n in names:
        if n in arrays and n in scalars:
            raise SymbackpropError(f"--data {n} is read as an array ({n}[i]) and as a scalar")
        if n not in arrays and n not in scalars:
            raise SymbackpropError(f"--data {n}: the formula does not use {n}")
        items.append(arrays.get(n) or scalars[n])
    return items


def assignments(values: tuple[str, ...], what: str) -> dict[str, object]:
    """'x=-2,y=1/2' -> {'x': -2, 'y': 1/2}; values are numeric formulas (exact when written so).

    >>> assignments(("x=-2,y=max(1,2)/4",), "--at")
    {'x': -2, 'y': 1/2}
    """
    out: dict[str, object] = {}
    for value in values:
        for item in top_level_split(value):
            if not item.strip():
                continue
            name, eq, number = item.partition("=")
            name = name.strip()
            if not eq or not _NAME.fullmatch(name):
                raise SymbackpropError(f"{what} {item.strip()!r} must look like name=number")
            v = _number(number.strip(), what, item.strip())
            if name in out:
                raise SymbackpropError(f"{what} gives {name} twice")
            out[name] = v
    return out


def numbers(text: str, what: str, *, count: int) -> tuple:
    """'LO,HI' -> its ``count`` numbers (SymPy, exact when written so); the caller's library
    function judges their values.

    >>> numbers("-1, pi", "--box", count=2)
    (-1, pi)
    """
    values = tuple(_number(p.strip(), what, p.strip()) for p in top_level_split(text))
    if len(values) != count:
        raise SymbackpropError(f"{what} {text!r} must be {count} numbers separated by commas")
    return values


def _number(text: str, what: str, item: str):
    import sympy as sp

    from ..analysis.parse import parse

    v = parse(text, ())
    if isinstance(v, sp.MatrixBase) or v.free_symbols or not v.is_number:
        raise SymbackpropError(f"{what} {item!r}: the value is not a number")
    return v


def top_level_split(text: str) -> list[str]:
    """Split at commas outside parentheses.

    >>> top_level_split("x=max(1,2),y=3")
    ['x=max(1,2)', 'y=3']
    """
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    return parts + [text[start:]]
