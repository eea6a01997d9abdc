"""All unit directions at once: the exact Hessian as one batched Hessian-vector product.

The H v graph (a second reverse sweep over <grad, V>) is linear in the direction V. Running it
for the P unit directions together, the way JAX's ``vmap`` batches a function, gives all P
columns of H from one pass of matrix products instead of P passes that each redo the forward
sweep. Values that depend on V get the batched layout of ir/batched.py; the rest (the forward
values, the gradient's adjoints) are computed once and broadcast.

The unit directions are ``seed`` leaves, never multiplied: a plain matrix times a seed only
places the matrix's columns (``place``, read in place by the map that uses it), and a map's
body, affine in its batched operands, becomes sum_k c_k e_k with each coefficient c_k computed
once. For logistic regression the Hessian reduces to the closed form
[X 1]^T diag(s (1 - s)) [X 1] / m + 2 lambda I.

Batching rules, one per primitive, receive the node, its arguments (batched ones replaced) and
which arguments are batched, and return the batched node.
"""

from __future__ import annotations

from ..ir.batched import Seed, batched_shape, times
from ..ir.elementwise import MapSpec, operand
from ..ir.graph import substitute, toposort
from ..ir.node import ONE, Node, make
from ..ir.ops import SCALAR_OPS


class NotBatchable(Exception):
    """The graph uses a primitive without a batching rule on a direction-dependent value
    (callers fall back to one Hessian-vector product per direction)."""


def _reshape(node: Node, shape: tuple) -> Node:
    return make("reshape", node, attr=tuple(shape))


def _matmul(node, args, batched, P):
    a, b = args
    if batched == (True, False):
        if a.op == "dir_transpose":
            # A_p^T b for every direction p as (b^T A_p)^T: one product over A's (r, P*c)
            # view, then only the small result is reordered (dW1 = dZ1^T X at batch m).
            inner = a.args[0]
            r, c = node.args[0].shape[::-1]
            n = node.args[1].shape[1]
            wide = make("matmul", make("transpose", b), _reshape(inner, (r, P * c)))
            return make("dir_transpose", _reshape(wide, (times(n, P), c)), attr=P)
        r, k = node.args[0].shape
        if k == 1:  # an outer product: element-wise, so it fuses into the map that reads it
            c = node.args[1].shape[1]
            column, row = _reshape(a, (times(r, P),)), _reshape(b, (c,))
            body = operand(0) * operand(1)
            return make("map", column, row, attr=MapSpec(body, ("col", "row"), (times(r, P), c), P))
        return make("matmul", a, b)  # rows i*P + p times b: one product
    if batched == (False, True):
        if b.op == "seed":
            return make("place", a, attr=b.attr)
        k, c = node.args[1].shape
        r = node.args[0].shape[0]
        wide = make("matmul", a, _reshape(b, (k, c * P)))  # (k*P, c) viewed as (k, P*c)
        return _reshape(wide, (times(r, P), c))
    raise NotBatchable("a product of two direction-dependent matrices (the graph is not linear)")


def _transpose(node, args, batched, P):
    (a,) = args
    if a.op == "seed":
        s = a.attr
        return make("seed", attr=Seed(s.offset, s.shape, not s.transposed, s.period))
    r, c = node.args[0].shape
    if c == 1:  # (r*P, 1) is the (r, P) matrix: its transpose is the (P, r) result, a view
        return make("transpose", _reshape(a, (r, P)))
    return make("dir_transpose", a, attr=P)


def _colsum(node, args, batched, P):
    (a,) = args
    r, c = node.args[0].shape
    return _reshape(make("colsum", _reshape(a, (r, P * c))), (P, c))


def _rowsum(node, args, batched, P):
    (a,) = args
    return make("dirs_first", make("rowsum", a), attr=P)


def _sum_all(node, args, batched, P):
    (a,) = args
    if len(node.args[0].shape) == 2:
        a = _rowsum(node, args, batched, P)  # (P, r): each direction's row sums
    return make("rowsum", a)


# Broadcast kinds in a batched map, by (rank of the map's plain shape, kind, batched).
_KINDS = {
    (2, "full", False): "block",
    (2, "row", False): "row",
    (2, "col", False): "colblock",
    (2, "scalar", False): "scalar",
    (2, "full", True): "full",
    (2, "row", True): "cycle",
    (2, "col", True): "colT",
    (2, "scalar", True): "colcycle",
    (1, "full", False): "row",
    (1, "scalar", False): "scalar",
    (1, "full", True): "full",
    (1, "scalar", True): "col",
}


def _map(node, args, batched, P):
    spec = node.attr
    linear = _linear(node, list(args), list(batched))
    if linear is None:
        raise NotBatchable("a map that is not affine in the direction")
    args, batched, body, kinds = linear
    rank = len(spec.shape)
    batched_kinds = []
    for kind, is_batched in zip(kinds, batched):
        if rank == 1 and kind in ("row", "col"):
            kind = "full"  # a vector map's row/col operand is the vector itself
        batched_kinds.append(_KINDS[(rank, kind, is_batched)])
    for k, (a, kind) in enumerate(zip(args, batched_kinds)):
        if a.op == "place" and kind == "full":  # read A's columns in place: no (r*P, c) array
            args[k], batched_kinds[k] = a.args[0], a.attr
    shape = batched_shape(spec.shape, P)
    return make("map", *args, attr=MapSpec(body, tuple(batched_kinds), shape, P))


def _linear(node, args, batched):
    """(args, batched, body, kinds) with the body as sum_k c_k e_k over its batched operands,
    each coefficient c_k (a partial derivative of the body) computed once by a plain map; None
    when the body is not affine in them. Affine bodies have no constant term: the H v graph is
    linear in the direction, so the body vanishes when every direction does."""
    from .reverse import adjoints  # the sweep imports the rule tables: import late

    spec = node.attr
    leaves = [operand(k) for k, b in enumerate(batched) if b]
    partials = adjoints(spec.body, leaves)
    varying = set(leaves)
    for n in toposort([p for p in partials if p is not None]):
        if n in varying or any(a in varying for a in n.args):
            return None  # a partial that reads a batched operand: not affine
    kinds = list(spec.bcast)
    body = None
    for leaf, partial in zip(leaves, partials):
        if partial is None:
            continue
        if partial.args:
            plain = _plain_map(partial, node.args, spec)
            if plain is not None:
                args.append(plain)
                batched.append(False)
                kinds.append("full")
                partial = operand(len(args) - 1)
        term = leaf if partial is ONE else partial * leaf
        body = term if body is None else body + term
    if body is None:
        return None
    return _used(args, batched, body, kinds)


def _used(args, batched, body, kinds):
    """(args, batched, body, kinds) over only the operands ``body`` reads, renumbered, and one
    full-shape operand to size the loop."""
    used = sorted(n.attr[1] for n in toposort([body]) if n.op == "input")
    if not any(kinds[k] == "full" for k in used):
        used = sorted(used + [kinds.index("full")])  # it sizes the loop
    body = substitute(body, {operand(k): operand(i) for i, k in enumerate(used)})
    return [args[k] for k in used], [batched[k] for k in used], body, [kinds[k] for k in used]


def _plain_map(expression: Node, operands, spec: MapSpec):
    """``expression`` (part of a map's body) as a map of its own over the operands it reads,
    or None when it reads no full-shape operand (then it is cheap: a bias or a scalar)."""
    used = sorted(n.attr[1] for n in toposort([expression]) if n.op == "input")
    if not any(spec.bcast[k] == "full" for k in used):
        return None
    body = substitute(expression, {operand(k): operand(i) for i, k in enumerate(used)})
    kinds = tuple(spec.bcast[k] for k in used)
    return make("map", *(operands[k] for k in used), attr=MapSpec(body, kinds, spec.shape))


def _scalar(node, args, batched, P):
    """A scalar op on batched scalars: a map over the P directions."""
    body = make(node.op, *(operand(k) for k in range(len(args))), attr=node.attr)
    kinds = tuple("full" if b else "scalar" for b in batched)
    return make("map", *args, attr=MapSpec(body, kinds, (P,), P))


# fmt: off
BATCH_RULES = {
    "matmul":    _matmul,
    "transpose": _transpose,
    "colsum":    _colsum,
    "rowsum":    _rowsum,
    "sum_all":   _sum_all,
    "map":       _map,
}
# fmt: on


def batch_directions(roots: dict[str, Node], seeds: dict[Node, Seed]) -> dict[str, Node]:
    """The batched form of each root, given the direction leaves and their seeds.

    A root that does not depend on any direction is left out (its batched value is zero: the
    graph is linear in the directions). Raises NotBatchable naming a primitive that has no
    batching rule on a direction-dependent value."""
    periods = {s.period for s in seeds.values()}
    if len(periods) != 1:
        raise ValueError(f"seeds of different direction counts: {sorted(periods)}")
    P = periods.pop()
    for s in seeds.values():
        if len(s.shape) > 2:
            raise NotBatchable(f"a parameter of shape {s.shape} has no batched layout")
    batched: dict[Node, Node] = {leaf: make("seed", attr=s) for leaf, s in seeds.items()}
    for node in toposort(list(roots.values())):
        if node in batched or not any(a in batched for a in node.args):
            continue
        flags = tuple(a in batched for a in node.args)
        args = [batched.get(a, a) for a in node.args]
        rule = BATCH_RULES.get(node.op) or (_scalar if node.op in SCALAR_OPS else None)
        if rule is None:
            raise NotBatchable(f"no batching rule for {node.op!r}")
        out = rule(node, args, flags, P)
        expected = batched_shape(node.shape, P)
        if tuple(out.shape) != expected:
            raise AssertionError(f"batched {node.op}: shape {out.shape}, expected {expected}")
        batched[node] = out
    return {name: batched[root] for name, root in roots.items() if root in batched}
