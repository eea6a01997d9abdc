"""User text (a plain formula or LaTeX) -> SymPy, without evaluating any of it as Python.

The readers in ``readers/`` do the work, one per input language (``plain``, ``latex``); names
mean the same in both (``readers/names.py``). Every failure is a SymbackpropError naming what
was refused and where.
"""

from __future__ import annotations

from .readers.latex import read_latex
from .readers.names import CONSTANTS, FUNCTIONS, Names
from .readers.plain import read_plain
from .readers.text import MAX_DEPTH, MAX_LENGTH, MAX_POWER_BITS, checked

__all__ = ["CONSTANTS", "FUNCTIONS", "MAX_DEPTH", "MAX_LENGTH", "MAX_POWER_BITS", "parse"]


def parse(text: str, symbols=(), latex: bool | None = None, *, allow_new: bool = False, data=()):
    """Parse a formula typed by a person into SymPy, using the caller's own Symbol objects.

    ``text`` is plain (``^`` or ``**`` for powers, implicit multiplication as in ``2x(1-x2)``,
    ``e`` and ``pi`` as constants, ``a if x > 0 else b`` for a piecewise value) or LaTeX
    (``latex=True``; ``None`` detects LaTeX by a backslash or a brace). Names resolve to the
    ``symbols`` given (matched by name, so their assumptions are kept; ``x_1`` matches ``x1``),
    to the functions the compiler compiles (``FUNCTIONS``: also ``relu``, ``erf``, ``sign``, ...),
    or to ``e``/``pi``. A word written without spaces is a product (``x2x3`` is x2*x3): of the
    given symbols, and with ``allow_new`` of fresh one-letter (or Greek) symbols, so ``2xy`` is
    2*x*y however it is called (``readers/names.py`` holds this one rule). Decimals are exact
    (``0.01`` is 1/100). Implicit multiplication binds like ``*`` (``1/2x`` is x/2). A LaTeX
    matrix environment gives a SymPy Matrix.

    ``data`` declares data names (str, Symbol or ``sp.IndexedBase``): such a name followed by
    brackets reads the array (``t[i]``, ``X[i, 2]``, ``t[i + 1]``: a ``sp.Indexed``), else it
    is a scalar. ``sum(body, i)`` sums over every row, ``Sum(body, (i, 0, N - 1))`` with
    N = Symbol("N", integer=True) the number of rows (inferred from the data when compiled);
    ``sum(body, i, lo, hi)`` sums from lo to hi inclusive (``sum(t[i + 1] - t[i], i, 0, N - 2)``).
    Indices, lengths and bounds are integer symbols.

    Nothing in ``text`` is ever evaluated as Python. Anything else (attribute access, quotes,
    brackets other than after a data name, unknown names, Python keywords, over ``MAX_LENGTH`` characters or ``MAX_DEPTH``
    levels of nesting) raises SymbackpropError naming what was refused and where.

    >>> import sympy as sp
    >>> x1, x2 = sp.symbols("x1 x2")
    >>> parse("2x1(1-x2) + x1^2 e^x2", [x1, x2])
    x1**2*exp(x2) + 2*x1*(1 - x2)
    >>> parse(r"\\frac{1}{1+e^{-x_1}}", [x1])
    1/(1 + exp(-x1))
    >>> parse("2xy^2 + relu(x)", allow_new=True)
    2*x*y**2 + Max(0, x)
    >>> parse("sum((y[i] - a t[i])^2, i)", allow_new=True, data=["t", "y"])
    Sum((-a*t[i] + y[i])**2, (i, 0, N - 1))
    >>> parse("x.__class__", [x1])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    symbackprop.errors.SymbackpropError: cannot parse 'x.__class__': '.' followed by ... position 1
    """
    text = checked(text)
    if latex is None:
        latex = "\\" in text or "{" in text
    names = Names(symbols, allow_new, data)
    return read_latex(text, names) if latex else read_plain(text, names)
