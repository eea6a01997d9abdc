"""Layouts of values batched over P directions (the exact Hessian's P columns, computed at once).

An (r, c) array batched over directions is stored (r*P, c): row i*P + p holds row i of direction
p. A vector (n,) becomes (P, n) and a scalar (P,). With this layout a batched matrix times a
plain one is one matrix product, and so is a plain matrix times a batched one after a free
reshape. Dimensions may be names ("m", the batch size), so products of dims are names too.
"""

from __future__ import annotations

from dataclasses import dataclass


def times(dim, period: int):
    """``dim * period`` for an int or a named dimension ("m" -> "m*5")."""
    return dim * period if isinstance(dim, int) else f"{dim}*{period}"


def divide(dim, period: int):
    """The inverse of :func:`times`.

    >>> divide(times("m", 5), 5), divide(15, 5)
    ('m', 3)
    """
    if isinstance(dim, int):
        if dim % period:
            raise TypeError(f"dimension {dim} is not a multiple of {period} directions")
        return dim // period
    suffix = f"*{period}"
    if not dim.endswith(suffix):
        raise TypeError(f"dimension {dim!r} is not batched over {period} directions")
    return dim[: -len(suffix)]


def batched_shape(shape: tuple, period: int) -> tuple:
    """The layout of a value of ``shape`` batched over ``period`` directions."""
    if len(shape) == 0:
        return (period,)
    if len(shape) == 1:
        return (period, shape[0])
    if len(shape) == 2:
        return (times(shape[0], period), shape[1])
    raise TypeError(f"no batched layout for shape {shape}")


@dataclass(frozen=True)
class Seed:
    """The unit directions of one parameter block, batched: direction ``offset + k`` moves the
    block's k-th entry (C order) by one. ``transposed`` seeds stand for the block's transpose."""

    offset: int
    shape: tuple  # the parameter's shape
    transposed: bool
    period: int

    @property
    def matrix(self) -> tuple[int, int]:
        """The (rows, cols) matrix each direction is: vectors are one row, scalars 1 x 1."""
        rows, cols = ((1, 1), (1,) + tuple(self.shape), tuple(self.shape))[len(self.shape)]
        return (cols, rows) if self.transposed else (rows, cols)

    def layout(self) -> tuple:
        if len(self.shape) == 2:
            return batched_shape(self.matrix, self.period)
        return batched_shape(tuple(self.shape), self.period)

    def digest_bytes(self) -> bytes:
        return repr((self.offset, tuple(self.shape), self.transposed, self.period)).encode()


@dataclass(frozen=True)
class TermSpec:
    """One sparse term of a :class:`Spread`: direction ``seed.offset + t`` (t < the block's
    size, entry (q, j) of the seed's matrix) is nonzero only in column j, where sample i holds
    A[i, q] * C[i, j]. ``a`` says whether A is read (else 1), ``c`` how C broadcasts ("full",
    "row", "col", "scalar"; "" for none), ``rows`` whether an extra operand only gives the
    number of samples (when neither A nor C does)."""

    seed: Seed
    a: bool
    c: str
    rows: bool


# How a spread's terms combine with its last operand (B, or D for "left"), per direction p:
SPREAD_MODES = (
    "place",  # the term itself: (r*P, c)
    "right",  # term @ B, B (c, n): (r*P, n)
    "contract",  # term^T @ B, B (r, n): (c*P, n) -- dW = dZ^T A for a sparse dZ
    "left",  # D @ term, D (R, r) or no D (column sums, R = 1): (R*P, c)
)


@dataclass(frozen=True)
class Spread:
    """A value batched over ``period`` directions that is a dense ``base`` (if any; laid out
    over ``base_period`` directions) plus sparse terms, each nonzero in one entry per sample and direction. Only the
    nonzeros are visited: the unit directions of one weight touch one unit each, so the first
    layer's tangents cost O(samples x weights), not O(samples x weights x units).
    Operands: [base] + per term [A] [C] [rows] + [B or D]."""

    mode: str
    period: int
    cols: int  # columns of each term's per-direction matrix (the seed matrix's)
    terms: tuple[TermSpec, ...]
    base: bool
    other: bool  # a last operand B or D
    base_period: int = 0  # the base's own period (its rows are moved when it differs)

    def split(self, args: tuple) -> tuple:
        """(base or None, [(term, A, C, rows) ...], other or None) from the node's operands."""
        args = list(args)
        base = args.pop(0) if self.base else None
        other = args.pop() if self.other else None
        parts = []
        for term in self.terms:
            a = args.pop(0) if term.a else None
            c = args.pop(0) if term.c else None
            r = args.pop(0) if term.rows else None
            parts.append((term, a, c, r))
        return base, parts, other

    def digest_bytes(self) -> bytes:
        terms = tuple((t.seed.digest_bytes(), t.a, t.c, t.rows) for t in self.terms)
        fields = (self.mode, self.period, self.cols, terms, self.base, self.other, self.base_period)
        return repr(fields).encode()
