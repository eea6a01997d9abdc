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
