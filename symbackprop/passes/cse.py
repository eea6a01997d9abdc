"""Common-subexpression elimination across every output (value, gradient, Hessian, HVP).

Hash-consing already makes structurally equal nodes one object; this pass also puts the
arguments of commutative ops in a canonical (digest) order, so a*b and b*a become one node and
the backward sweep reuses the forward pass's values.
"""

from __future__ import annotations

from ..ir.graph import Graph, rewrite
from ..ir.node import Node, make
from ..ir.ops import COMMUTATIVE


def commuted_to_canonical(node: Node) -> Node:
    """b * a -> a * b when a's digest sorts first (likewise +, ==, !=, and, or)."""
    if node.op in COMMUTATIVE:
        a, b = node.args
        if b.digest < a.digest:
            return make(node.op, b, a, attr=node.attr)
    return node


def cse(graph: Graph) -> Graph:
    return rewrite(graph, commuted_to_canonical)


def cse_structural(graph: Graph) -> Graph:
    """CSE for element-wise map bodies: commutative operands ordered by structure, with
    operand leaves by index, so renumbering a map's operands never flips the order (ordering
    by digest could, and the tidy and fuse passes would then undo each other forever)."""

    def step(node: Node) -> Node:
        if node.op in COMMUTATIVE:
            a, b = node.args
            if structurally_before(b, a):
                return make(node.op, b, a, attr=node.attr)
        return node

    return rewrite(graph, step)


def structurally_before(a: Node, b: Node) -> bool:
    """True if ``a`` sorts before ``b`` by (op, attr, then arguments in order), compared
    lexicographically. Hash-consing makes equal subgraphs one object, so the first pair of
    arguments that are not the same node decides: one walk down, not a recursion (a Maxout
    over many pieces is a deep chain of max nodes).

    >>> from symbackprop.ir.elementwise import operand
    >>> e0, e1 = operand(0), operand(1)
    >>> structurally_before(e0 * e1, e1 * e0), structurally_before(e1 * e0, e0 * e1)
    (True, False)
    """
    while a is not b:
        ka, kb = (a.op, repr(a.attr)), (b.op, repr(b.attr))
        if ka != kb:
            return ka < kb
        pair = next(((x, y) for x, y in zip(a.args, b.args) if x is not y), None)
        if pair is None:
            return len(a.args) < len(b.args)
        a, b = pair
    return False
