"""Element-wise maps: a scalar IR body applied to every element of array inputs (fused loops).

The body reads its k operands as ``input_("e", k, name)`` leaves. Each operand is broadcast
one way: "full" (the map's shape), "row" (a vector indexed by the last axis, like a bias),
"col" (a vector indexed by the first axis, one value per sample) or "scalar".
"""

from __future__ import annotations

from dataclasses import dataclass

from .node import Node, input_, make

BROADCASTS = ("full", "row", "col", "scalar")


@dataclass(frozen=True, eq=True)
class MapSpec:
    body: Node
    bcast: tuple[str, ...]
    shape: tuple

    def digest_bytes(self) -> bytes:
        return self.body.digest + repr((self.bcast, self.shape)).encode()

    def check(self, args) -> tuple:
        if len(args) != len(self.bcast):
            raise TypeError(f"map over {len(self.bcast)} operands got {len(args)}")
        if "full" not in self.bcast:
            # Loop bounds come from a full-shape operand (sizes like the batch are dynamic).
            raise TypeError(f"map of shape {self.shape} has no full-shape operand")
        for a, kind in zip(args, self.bcast):
            expected = {
                "full": self.shape,
                "scalar": (),
                "row": self.shape[-1:],
                "col": self.shape[:1],
            }[kind]
            if kind not in BROADCASTS or tuple(a.shape) != tuple(expected):
                raise TypeError(f"map operand of shape {a.shape} is not {kind} for {self.shape}")
        return self.shape

    def __repr__(self) -> str:
        return f"MapSpec({self.body!r}, {self.bcast}, {self.shape})"


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
