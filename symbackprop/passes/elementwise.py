"""Element-wise maps: tidy operands, drop identity maps, optimize bodies, fuse chains into one
loop. A map feeding exactly one other map (or costing nothing) is inlined into its consumer,
so dZ = dA * g'(Z) and the bias add become single loops; a map with several consumers (a
forward activation the backward pass reads) stays, so nothing is recomputed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

from ..ir.elementwise import operand, sizer
from ..ir.graph import Graph, Output, rewrite, substitute, toposort, with_outputs
from ..ir.node import Node, make


def _leaf_index(node: Node) -> int | None:
    return node.attr[1] if node.op == "input" and node.attr[0] == "e" else None


def _remap(node: Node, body: Node, keep: list[int]) -> Node:
    """``node``'s map with ``body``, over only the operands ``keep`` (renumbered 0.. in order)."""
    spec = node.attr
    position = {old: new for new, old in enumerate(keep)}
    mapping = {
        leaf: operand(position[leaf.attr[1]])
        for leaf in toposort([body])
        if _leaf_index(leaf) is not None and leaf.attr[1] in position
    }
    bcast = tuple(spec.bcast[k] for k in keep)
    return make(
        "map",
        *(node.args[k] for k in keep),
        attr=replace(spec, body=substitute(body, mapping), bcast=bcast),
    )


def operands_to_minimal(node: Node) -> Node:
    """map(f)(A, A, c, unused) -> map(f')(A): constants go into the body, repeated operands
    become one, unused ones are dropped (one full-shape operand always stays for the loop)."""
    if node.op != "map":
        return node
    spec, args = node.attr, node.args
    extra: dict[int, Node] = {}
    first_of: dict[tuple, int] = {}
    for k, (a, kind) in enumerate(zip(args, spec.bcast)):
        if a.op == "const":
            extra[k] = a
        elif a.op == "map" and not a.attr.body.args and _leaf_index(a.attr.body) is None:
            extra[k] = a.attr.body  # a constant-filled array
        elif (a, kind) in first_of:
            extra[k] = operand(first_of[(a, kind)])
        else:
            first_of[(a, kind)] = k
    body = substitute(spec.body, {operand(k): v for k, v in extra.items()})
    used = {_leaf_index(n) for n in toposort([body])} - {None}
    keep = [k for k in range(len(args)) if k in used and k not in extra]
    if sizer([spec.bcast[k] for k in keep]) is None:  # one operand must size the loop
        keep = sorted(keep + [sizer(spec.bcast)])
    if keep == list(range(len(args))):
        return node
    return _remap(node, body, keep)


def identity_map_to_operand(node: Node) -> Node:
    """map(e0)(A) -> A for a full-shape A (a copy is no computation)."""
    if node.op == "map":
        k = _leaf_index(node.attr.body)
        if k is not None and node.attr.bcast[k] == "full":
            return node.args[k]
    return node


def transpose_pairs_to_operand(node: Node) -> Node:
    """(A^T)^T -> A;  (A^T B)^T -> B^T A (dW = dZ^T A_prev, with no transposed copy)."""
    if node.op != "transpose":
        return node
    (a,) = node.args
    if a.op == "transpose":
        return a.args[0]
    if a.op == "matmul":
        left, right = a.args
        return make("matmul", make("transpose", right), make("transpose", left))
    return node


def _body_optimized(node: Node) -> Node:
    from . import BODY_PIPELINE, optimize

    spec = node.attr
    out = Output((spec.body,), ((),), ())
    body = optimize(with_outputs(Graph((), {}), {"body": out}), BODY_PIPELINE)
    new = body.outputs["body"].nodes[0]
    return node if new is spec.body else make("map", *node.args, attr=replace(spec, body=new))


def _has_arrays(graph: Graph) -> bool:
    return any(n.op in ("map", "transpose") for n in graph.nodes)


def tidy(graph: Graph) -> Graph:
    """Bodies optimized, operands minimal, identity maps and transpose pairs removed."""
    if not _has_arrays(graph):
        return graph  # a scalar program: nothing to do, and no need to walk it

    def step(node: Node) -> Node:
        for _ in range(8):
            new = node
            if new.op == "map":
                new = operands_to_minimal(_body_optimized(new))
            new = identity_map_to_operand(transpose_pairs_to_operand(new))
            if new is node:
                return node
            node = new
        return node

    return rewrite(graph, step)


def _scalar_fill(node: Node) -> bool:
    """A map whose body reads only scalar operands: a broadcast value, free to recompute."""
    spec = node.attr
    leaves = {_leaf_index(n) for n in toposort([spec.body])} - {None}
    return all(spec.bcast[k] == "scalar" for k in leaves)


def fuse(graph: Graph) -> Graph:
    """map(f)(map(g)(A, B), C) -> map(f(g(a, b), c))(A, B, C) when the inner map has one use
    (or only broadcasts a scalar)."""
    if not _has_arrays(graph):
        return graph
    # Count uses among live nodes only: dead ones a previous rewrite left behind do not count.
    live = toposort(n for out in graph.outputs.values() for n in out.nodes)
    uses: Counter = Counter(a for n in live for a in n.args)
    for out in graph.outputs.values():
        uses.update(out.nodes)
    origin: dict[Node, Node] = {}  # node built in this pass -> the node it replaces

    def fusable(a: Node, kind: str, shape, period: int) -> bool:
        if a.op != "map":
            return False
        if _scalar_fill(a):
            return True  # same value everywhere: fits any broadcast kind
        return (
            kind == "full"
            and a.attr.shape == shape
            and a.attr.period == period
            and uses[origin.get(a, a)] == 1
        )

    def step(node: Node, old: Node) -> Node:
        if node.op != "map":
            return node
        spec = node.attr
        for k, (a, kind) in enumerate(zip(node.args, spec.bcast)):
            if not fusable(a, kind, spec.shape, spec.period):
                continue
            inner = a.attr
            # A scalar fill brings only its scalar operands (its full one just sized the loop).
            bring = [
                j for j, kind in enumerate(inner.bcast) if not _scalar_fill(a) or kind == "scalar"
            ]
            offset = len(node.args)
            shifted = substitute(
                inner.body, {operand(j): operand(offset + n) for n, j in enumerate(bring)}
            )
            body = substitute(spec.body, {operand(k): shifted})
            args = node.args + tuple(a.args[j] for j in bring)
            bcast = spec.bcast + tuple(inner.bcast[j] for j in bring)
            new = operands_to_minimal(
                make("map", *args, attr=replace(spec, body=body, bcast=bcast))
            )
            origin[new] = origin.get(old, old)
            return new
        if node is not old:
            origin[node] = origin.get(old, old)
        return node

    return rewrite(graph, step, with_original=True)
