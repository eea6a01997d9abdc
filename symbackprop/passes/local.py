"""Shared machinery for the rewrite passes: apply node-local rules bottom-up to a fixpoint.

A rule is ``rule(node) -> Node | None`` (None: does not apply). Rules only ever see a node whose
arguments were already rewritten.
"""

from __future__ import annotations

from ..ir.graph import Graph, rewrite
from ..ir.node import Node

MAX_REWRITES_PER_NODE = 16


def apply_rules(graph: Graph, rules) -> Graph:
    def step(node: Node) -> Node:
        for _ in range(MAX_REWRITES_PER_NODE):
            for rule in rules:
                new = rule(node)
                if new is not None and new is not node:
                    node = new
                    break
            else:
                return node
        return node

    return rewrite(graph, step)


def const_arg(node: Node) -> tuple[float, Node] | None:
    """(c, other) if ``node`` is a binary op with exactly one constant argument."""
    a, b = node.args
    if a.op == "const" and b.op != "const":
        return a.attr, b
    if b.op == "const" and a.op != "const":
        return b.attr, a
    return None
