"""The one rule for what a name in a formula means, shared by every reader and command.

A name is, in this order: a symbol the caller declared (``x_1`` and ``x1`` are one name unless
both are declared); a function the compiler can compile (``FUNCTIONS``); a constant
(``CONSTANTS``); else a product written without spaces, split into the fewest pieces, each a
declared symbol, ``e`` or ``pi``, or (where new symbols are allowed) one letter or Greek letter
name with its digits and subscript: ``2xy`` is 2*x*y and ``x1x2`` is x1*x2 whether or not x and
y were declared, so the checker, the command line and the library read a formula alike.
Refused: a split word spelling a function (``sinx``: write ``sin x``), and a word of several
pieces directly before ``(`` (``relu2(x)`` is no function; ``a(x + 1)`` is a product).
Data names (``data=``) are declared symbols too; one followed by ``[`` is an array read
(``t[i]``, the plain reader's ``Names.array``), else a scalar.
"""

from __future__ import annotations

import re

import sympy as sp

from ...errors import SymbackpropError
from ...frontend.functions import elu, hardtanh, leaky_relu, relu, sigmoid, softplus

# name -> (SymPy callable, fewest arguments, most arguments): exactly what the compiler's
# scalar front end turns into IR (tests/test_parser.py fails naming any entry it cannot compile
# and any compiled function without a spelling here).
FUNCTIONS: dict[str, tuple[object, int, int]] = {
    "exp": (sp.exp, 1, 1),
    "log": (sp.log, 1, 2),  # natural log; log(x, b) is log base b
    "ln": (sp.log, 1, 1),
    "sqrt": (sp.sqrt, 1, 1),
    "sin": (sp.sin, 1, 1), "cos": (sp.cos, 1, 1), "tan": (sp.tan, 1, 1),
    "cot": (sp.cot, 1, 1), "sec": (sp.sec, 1, 1), "csc": (sp.csc, 1, 1),
    "asin": (sp.asin, 1, 1), "acos": (sp.acos, 1, 1), "atan": (sp.atan, 1, 1),
    "acot": (sp.acot, 1, 1), "asec": (sp.asec, 1, 1), "acsc": (sp.acsc, 1, 1),
    "arcsin": (sp.asin, 1, 1), "arccos": (sp.acos, 1, 1), "arctan": (sp.atan, 1, 1),
    "arccot": (sp.acot, 1, 1), "arcsec": (sp.asec, 1, 1), "arccsc": (sp.acsc, 1, 1),
    "atan2": (sp.atan2, 2, 2),  # atan2(y, x)
    "sinh": (sp.sinh, 1, 1), "cosh": (sp.cosh, 1, 1), "tanh": (sp.tanh, 1, 1),
    "coth": (sp.coth, 1, 1), "sech": (sp.sech, 1, 1), "csch": (sp.csch, 1, 1),
    "asinh": (sp.asinh, 1, 1), "acosh": (sp.acosh, 1, 1), "atanh": (sp.atanh, 1, 1),
    "acoth": (sp.acoth, 1, 1),
    "arcsinh": (sp.asinh, 1, 1), "arccosh": (sp.acosh, 1, 1), "arctanh": (sp.atanh, 1, 1),
    "arccoth": (sp.acoth, 1, 1),
    "erf": (sp.erf, 1, 1), "erfc": (sp.erfc, 1, 1),
    "sign": (sp.sign, 1, 1), "sgn": (sp.sign, 1, 1),
    "abs": (sp.Abs, 1, 1), "Abs": (sp.Abs, 1, 1),
    "max": (sp.Max, 1, 64), "Max": (sp.Max, 1, 64),
    "min": (sp.Min, 1, 64), "Min": (sp.Min, 1, 64),
    "Heaviside": (sp.Heaviside, 1, 1),
    # symbackprop's own functions and the named activations (frontend/functions.py)
    "sigmoid": (sigmoid, 1, 1),
    "sigma": (sigmoid, 1, 1),  # LaTeX \sigma(x), unless the caller has a symbol named sigma
    "softplus": (softplus, 1, 1),
    "relu": (relu, 1, 1),
    "leaky_relu": (leaky_relu, 1, 2),  # leaky_relu(x, alpha), alpha 1/100 by default
    "elu": (elu, 1, 2),  # elu(x, alpha), alpha 1 by default
    "hardtanh": (hardtanh, 1, 1),
}  # fmt: skip
# nan is "undefined": what a LaTeX cases environment is where none of its cases holds.
CONSTANTS: dict[str, sp.Expr] = {"e": sp.E, "E": sp.E, "pi": sp.pi, "nan": sp.nan}
_IN_WORDS = ("e", "pi")  # the constants a word may contain: 2pi x, xe^x
GREEK = [
    "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta",
    "vartheta", "iota", "kappa", "lamda", "mu", "nu", "xi", "omicron", "rho", "sigma", "tau",
    "upsilon", "phi", "varphi", "chi", "psi", "omega",
    "Gamma", "Delta", "Theta", "Lamda", "Xi", "Sigma", "Upsilon", "Phi", "Psi", "Omega",
]  # fmt: skip
# A new symbol's name: a letter or Greek letter name, digits, and an optional _subscript.
_LETTER = "|".join(sorted(GREEK, key=len, reverse=True)) + "|[A-Za-z]"
_NEW_NAME = re.compile(rf"(?:{_LETTER})[0-9]*(?:_[A-Za-z0-9]+)?", re.ASCII)


def _loose(name: str) -> str:
    return name.replace("_", "")


class Names:
    """Reads names by the rule above: ``Names(symbols, allow_new).read(name)``.

    >>> x, y = sp.symbols("x y")
    >>> Names([x, y], allow_new=False).read("xy")
    [x, y]
    >>> Names([], allow_new=True).read("2")  # not a name
    >>> Names([], allow_new=True).read("x1y_2")
    [x1, y_2]
    >>> Names([], allow_new=True).read("relu")
    'relu'
    """

    def __init__(self, symbols, allow_new: bool, data=()):
        self.allow_new = allow_new
        self.exact: dict[str, sp.Symbol] = {}
        # data names: the symbol a scalar use reads, -> the array an indexed use (t[i]) reads
        self.arrays: dict[sp.Symbol, sp.IndexedBase] = {}
        for item in data:
            if isinstance(item, str):
                item = sp.Symbol(item)
            if isinstance(item, sp.IndexedBase) and isinstance(item.label, sp.Symbol):
                self.arrays[item.label] = item
            elif isinstance(item, sp.Symbol):
                self.arrays[item] = sp.IndexedBase(item)
            else:
                raise SymbackpropError(f"data must be names, Symbols or IndexedBase; got {item!r}")
        symbols = list(symbols)
        names = {s.name for s in symbols if isinstance(s, sp.Symbol)}
        symbols += [s for s in self.arrays if s.name not in names]
        loose: dict[str, list[sp.Symbol]] = {}
        for s in symbols:
            if not isinstance(s, sp.Symbol):
                raise SymbackpropError(f"symbols must be SymPy Symbols; got {s!r}")
            self.exact.setdefault(s.name, s)
            loose.setdefault(_loose(s.name), []).append(s)
        # x_1 and x1 name the same symbol unless the caller has both.
        self.loose = {k: v[0] for k, v in loose.items() if len(v) == 1}

    def symbol(self, name: str) -> sp.Symbol | None:
        """The declared symbol ``name`` names, or None."""
        return self.exact.get(name) or self.loose.get(_loose(name))

    def read(self, name: str) -> str | list[sp.Expr] | None:
        """A function's name (str), the factors the name stands for, or None if it names nothing.

        A declared symbol or a constant is one factor; a word, the factors it splits into.
        """
        symbol = self.symbol(name)
        if symbol is not None:
            return [symbol]
        if name in FUNCTIONS:
            return name
        if name in CONSTANTS:
            return [CONSTANTS[name]]
        return self.split(name)

    def split(self, name: str) -> list[sp.Expr] | None:
        """The fewest pieces ``name`` is written with (declared, e/pi, or new), or None."""
        # best[k]: the fewest pieces spelling name[:k], as (text, value) pairs
        best: list[list[tuple[str, sp.Expr]] | None] = [[]] + [None] * len(name)
        for end in range(1, len(name) + 1):
            for start in range(end):
                head = best[start]
                if head is None or (best[end] is not None and len(head) + 1 >= len(best[end])):
                    continue
                value = self.piece(name[start:end])
                if value is not None:
                    best[end] = head + [(name[start:end], value)]
        pieces = best[len(name)]
        if pieces is None:
            return None
        # runs of one-letter pieces, where 'sinx' would hide a function as s*i*n*x
        letters = "".join(text if len(text) == 1 else " " for text, _ in pieces).split()
        for function in FUNCTIONS:
            if len(function) > 1 and any(function in run for run in letters):
                raise SymbackpropError(
                    f"{name!r} spells the function {function!r} inside a product of "
                    f"one-letter symbols: write {function}(...) or {function} x"
                )
        return [value for _, value in pieces]

    def piece(self, text: str) -> sp.Expr | None:
        symbol = self.symbol(text)
        if symbol is not None:
            return symbol
        if text in _IN_WORDS:
            return CONSTANTS[text]
        if self.allow_new and _NEW_NAME.fullmatch(text):
            return sp.Symbol(text)
        return None

    def array(self, symbol) -> sp.IndexedBase | None:
        """The data array a declared data name reads as ``name[...]``, or None."""
        return self.arrays.get(symbol) if isinstance(symbol, sp.Symbol) else None

    def known(self) -> str:
        return ", ".join(sorted(self.exact)) or "none"
