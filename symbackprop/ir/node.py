"""Immutable, hash-consed IR nodes: building the same (op, args, attr) twice returns one object.

So structural equality is identity, nodes are dict keys for adjoint maps, and each node carries
a stable digest (independent of the process) used for canonical ordering and the disk cache key.
"""

from __future__ import annotations

import hashlib
import weakref

from .ops import ARITY, SCALAR_OPS
from .shapes import infer_shape

_INTERN: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


class Node:
    """One IR operation: ``op`` applied to ``args`` (Nodes), with a hashable ``attr``.

    Leaves: ``const`` (attr: the float) and ``input`` (attr: (array name, index, display name)).
    Build nodes through :func:`make`, :func:`const` and :func:`input_` (or operators), never
    with the constructor, so that equal subgraphs stay one object.

    >>> from symbackprop.ir.node import const, input_
    >>> x = input_("x", 0, "x")
    >>> (x * 2.0) is (x * 2.0)
    True
    """

    __slots__ = ("op", "args", "attr", "shape", "digest", "__weakref__")

    op: str
    args: tuple[Node, ...]
    attr: object
    shape: tuple  # () for scalars; array dims are ints or a name (e.g. "m", the batch size)
    digest: bytes

    def __repr__(self) -> str:
        # Printed from an explicit stack of nodes and text, so a deep chain (a Maxout's max over
        # its pieces, a long composition) prints without recursion.
        parts: list[str] = []
        stack: list[Node | str] = [self]
        while stack:
            item = stack.pop()
            if isinstance(item, str):
                parts.append(item)
            elif item.op == "const":
                parts.append(repr(item.attr))
            elif item.op == "input":
                parts.append(item.attr[2])
            else:
                parts.append(f"{item.op}(")
                stack.append(")")
                for k in range(len(item.args) - 1, -1, -1):
                    stack.append(item.args[k])
                    if k:
                        stack.append(", ")
        return "".join(parts)

    # Operators build nodes, so derivative rules read like the calculus they encode; on arrays
    # they build element-wise maps.
    # fmt: off
    def __add__(self, other): return arith("add", self, as_node(other))
    def __radd__(self, other): return arith("add", as_node(other), self)
    def __sub__(self, other): return arith("sub", self, as_node(other))
    def __rsub__(self, other): return arith("sub", as_node(other), self)
    def __mul__(self, other): return arith("mul", self, as_node(other))
    def __rmul__(self, other): return arith("mul", as_node(other), self)
    def __truediv__(self, other): return arith("div", self, as_node(other))
    def __rtruediv__(self, other): return arith("div", as_node(other), self)
    def __pow__(self, other): return arith("pow", self, as_node(other))
    def __neg__(self): return arith("neg", self)
    # fmt: on


def _attr_key(op: str, attr: object) -> object:
    # float.hex keeps -0.0 apart from 0.0 and makes every NaN one key.
    return float.hex(attr) if op == "const" else attr


def make(op: str, *args: Node, attr: object = None) -> Node:
    """The interned node ``op(*args)``; raises if the arity is wrong (an internal error)."""
    arity = ARITY.get(op)
    if arity != len(args) and not (arity == -1 and args):
        raise TypeError(f"IR op {op!r} takes {arity} inputs, got {len(args)}")
    key = (op, args, _attr_key(op, attr))
    node = _INTERN.get(key)
    if node is not None:
        return node
    node = object.__new__(Node)
    node.op, node.args, node.attr = op, args, attr
    node.shape = () if op in SCALAR_OPS else infer_shape(op, args, attr)
    h = hashlib.blake2b(digest_size=16)
    h.update(op.encode())
    h.update(
        attr.digest
        if isinstance(attr, Node)
        else attr.digest_bytes()
        if hasattr(attr, "digest_bytes")
        else repr(key[2]).encode()
    )
    for a in args:
        h.update(a.digest)
    node.digest = h.digest()
    _INTERN[key] = node
    return node


def arith(op: str, *args: Node) -> Node:
    """``op`` on scalars, or an element-wise map of it when any argument is an array."""
    if all(a.shape == () for a in args):
        return make(op, *args)
    from .elementwise import elementwise

    return elementwise(lambda *e: make(op, *e), *args)


def const(value: float) -> Node:
    """The constant leaf ``value`` (converted to float)."""
    return make("const", attr=float(value))


def input_(array: str, index: int, name: str) -> Node:
    """The leaf reading ``array[index]``, shown as ``name`` in generated code."""
    return make("input", attr=(array, int(index), name))


def as_node(value: Node | float | int) -> Node:
    return value if isinstance(value, Node) else const(value)


def is_const(node: Node, value: float | None = None) -> bool:
    """True if ``node`` is a constant (equal to ``value`` when given; NaN never equals)."""
    if node.op != "const":
        return False
    return value is None or node.attr == value


ZERO = const(0.0)
ONE = const(1.0)
