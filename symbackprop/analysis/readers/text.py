"""What every reader shares: the limits on user text and the error that names a position.

Every failure while reading a formula, SymPy's own included, leaves a reader as one
SymbackpropError that quotes the text and gives the position where reading stopped.
"""

from __future__ import annotations

from ...errors import SymbackpropError

MAX_LENGTH = 2000  # characters of user text; longer input is refused before any parsing
MAX_DEPTH = 100  # nesting of parentheses, braces, signs and powers
# Exact arithmetic on literals could build astronomically large integers (9^9^9): refuse a
# numeric power whose result would need more bits than this.
MAX_POWER_BITS = 100_000
# What SymPy raises on values it cannot combine: NaN or I in a comparison (TypeError), Max of a
# non-real number (ValueError), an exact power too large (OverflowError, MemoryError).
SYMPY_ERRORS = (TypeError, ValueError, ArithmeticError, MemoryError)


def fail(text: str, pos: int, what: str) -> SymbackpropError:
    """The error for ``what`` went wrong at ``pos`` of ``text`` (quoted, shortened if long).

    >>> print(fail("x + * y", 4, "unexpected '*'"))
    cannot parse 'x + * y': unexpected '*' at position 4
    """
    shown = text if len(text) <= 60 else text[:57] + "..."
    return SymbackpropError(f"cannot parse {shown!r}: {what} at position {pos}")


def checked(text) -> str:
    """``text`` when it is a non-empty string within MAX_LENGTH; else the error saying why.

    >>> checked(" x ")
    ' x '
    >>> checked(3)
    Traceback (most recent call last):
    ...
    symbackprop.errors.SymbackpropError: expected a formula as text; got int
    """
    if not isinstance(text, str):
        raise SymbackpropError(f"expected a formula as text; got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise SymbackpropError(
            f"formula of {len(text)} characters refused: the limit is {MAX_LENGTH}"
        )
    if not text.strip():
        raise SymbackpropError("cannot parse an empty formula")
    return text
