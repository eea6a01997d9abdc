"""Graph invariants, checked after every pass in the tests (tinygrad's spec idea).

A valid graph lists each node once, after its arguments; every output node is listed; leaves
are constants or input reads; every op is a known primitive with the right arity.
"""

from __future__ import annotations

import math

from .graph import Graph
from .node import make
from .ops import ARITY


def validate(graph: Graph) -> None:
    """Raise AssertionError describing the first broken invariant of ``graph``."""
    position: dict = {}
    for k, node in enumerate(graph.nodes):
        assert node not in position, f"node {node!r} listed twice"
        assert node.op in ARITY, f"unknown op {node.op!r}"
        assert len(node.args) == ARITY[node.op], f"{node.op} has {len(node.args)} arguments"
        for a in node.args:
            assert a in position, f"{node!r} is listed before its argument {a!r}"
        if node.op == "const":
            assert isinstance(node.attr, float), f"constant {node.attr!r} is not a float"
        if node.op == "input":
            array, index, name = node.attr
            assert isinstance(array, str) and index >= 0 and isinstance(name, str)
        rebuilt = make(node.op, *node.args, attr=node.attr)
        assert rebuilt is node, f"{node!r} is not the interned node for its structure"
        position[node] = k
    for name, out in graph.outputs.items():
        assert len(out.nodes) == len(out.index), f"output {name}: nodes and index differ in length"
        for node, pos in zip(out.nodes, out.index):
            assert node in position, f"output {name}{pos} node {node!r} is not in the node list"
            assert len(pos) == len(out.shape), f"output {name}: index {pos} vs shape {out.shape}"
            assert all(0 <= p < s for p, s in zip(pos, out.shape)), f"{name}{pos} out of range"
            if out.symmetric:
                assert pos[0] <= pos[1], f"symmetric output {name} stores lower entry {pos}"
        assert len(set(out.index)) == len(out.index), f"output {name} repeats a position"
        assert math.prod(out.shape) >= len(out.nodes)
