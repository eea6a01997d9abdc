"""Element-wise maps: a scalar IR body applied to every element of array inputs (fused loops).

The body reads its k operands as ``input_("e", k, name)`` leaves. Each operand is broadcast
one way: "full" (the map's shape), "row" (a vector indexed by the last axis, like a bias),
"col" (a vector indexed by the first axis, one value per sample) or "scalar".

Maps over values batched over P directions (ir/batched.py, layout (r*P, c)) read plain
operands at row i // P ("block", and "colblock" for a per-sample vector) and batched vectors
and scalars at direction i % P ("cycle" for a (P, c) vector, "colT" for a (P, r) per-sample
vector, "colcycle" for a (P,) scalar); ``period`` is P.
"""

from __future__ import annotations

from dataclasses import dataclass

from .batched import divide, times
from .node import Node, input_, make

BROADCASTS = ("full", "row", "col", "scalar")
BATCHED_BROADCASTS = ("block", "colblock", "cycle", "colT", "colcycle")


@dataclass(frozen=True)
class Strided:
    """A batched operand of kind ``kind`` ("full", "cycle", "colT" or "colcycle") laid out
    over ``period`` directions instead of the map's."""

    kind: str
    period: int


@dataclass(frozen=True, eq=True)
class MapSpec:
    body: Node
    bcast: tuple[str, ...]
    shape: tuple
    period: int = 0  # P for maps over direction-batched values, else 0

    def digest_bytes(self) -> bytes:
        extra = (self.period,) if self.period else ()
        return self.body.digest + repr((self.bcast, self.shape) + extra).encode()

    def check(self, args) -> tuple:
        if len(args) != len(self.bcast):
            raise TypeError(f"map over {len(self.bcast)} operands got {len(args)}")
        if sizer(self.bcast) is None:
            # Loop bounds come from a full-shape operand (sizes like the batch are dynamic).
            raise TypeError(f"map of shape {self.shape} has no full-shape operand")
        kinds = BROADCASTS + (BATCHED_BROADCASTS if self.period else ())
        for a, kind in zip(args, self.bcast):
            strided = isinstance(kind, Strided) and self.period
            if kind not in kinds and not strided:
                raise TypeError(f"map operand broadcast {kind!r} (period {self.period})")
            expected = self._expected(kind.kind, kind.period) if strided else self._expected(kind)
            if tuple(a.shape) != tuple(expected):
                raise TypeError(f"map operand of shape {a.shape} is not {kind} for {self.shape}")
        return self.shape

    def _expected(self, kind: str, period: int = 0) -> tuple:
        shape, own = self.shape, self.period
        period = period or own
        if kind == "full":
            if period == own:
                return shape
            if len(shape) == 1:
                return (period,)
            return (times(divide(shape[0], own), period),) + tuple(shape[1:])
        if kind == "scalar":
            return ()
        if kind == "row":
            return shape[-1:]
        if kind == "col":
            return shape[:1]
        if kind == "colcycle":
            return (period,)
        if kind == "cycle":
            return (period,) + tuple(shape[1:])
        rows = divide(shape[0], own)
        return {"block": (rows,) + tuple(shape[1:]), "colblock": (rows,), "colT": (period, rows)}[
            kind
        ]

    def __repr__(self) -> str:
        return f"MapSpec({self.body!r}, {self.bcast}, {self.shape})"


def sizer(bcast) -> int | None:
    """The operand that fixes a map's loop bounds: a full-shape one, else (over batched values)
    a plain one repeated per direction or a batched one of another period."""
    ranked = [k for k, kind in enumerate(bcast) if kind == "full"]
    ranked += [k for k, kind in enumerate(bcast) if kind == "block"]
    ranked += [
        k for k, kind in enumerate(bcast) if isinstance(kind, Strided) and kind.kind == "full"
    ]
    if ranked:
        return ranked[0]
    if "col" in bcast and "row" in bcast:
        return bcast.index("col")  # an outer product: (len(col), len(row))
    return None


def operand(k: int, name: str | None = None) -> Node:
    """The body's leaf for operand ``k``."""
    return input_("e", k, name or f"e{k}")


def broadcast_kind(node: Node, shape: tuple) -> str:
    if tuple(node.shape) == tuple(shape):
        return "full"
    if node.shape == ():
        return "scalar"
    if len(shape) == 2 and tuple(node.shape) == (shape[1],):
        return "row"
    if len(shape) == 2 and tuple(node.shape) == (shape[0],):
        return "col"
    raise TypeError(f"cannot broadcast shape {node.shape} to {shape}")


def elementwise(fn, *inputs: Node, shape: tuple | None = None) -> Node:
    """map(fn) over ``inputs``: ``fn`` receives one scalar leaf per input and returns the body.

    >>> from symbackprop.ir.node import make
    >>> Z = make("array", attr=("Z", ("m", 3)))
    >>> elementwise(lambda z: z * z, Z).shape
    ('m', 3)
    """
    if shape is None:
        shape = max((i.shape for i in inputs), key=len)
    kinds = tuple(broadcast_kind(i, shape) for i in inputs)
    body = fn(*(operand(k) for k in range(len(inputs))))
    return make("map", *inputs, attr=MapSpec(body, kinds, tuple(shape)))
