"""All unit directions at once: the exact Hessian as one batched Hessian-vector product.

The H v graph (a second reverse sweep over <grad, V>) is linear in the direction V. Running it
for the P unit directions together, the way JAX's ``vmap`` batches a function, gives all P
columns of H from one pass of matrix products instead of P passes that each redo the forward
sweep. Values that depend on V get the batched layout of ir/batched.py; the rest (the forward
values, the gradient's adjoints) are computed once and broadcast.

The unit directions are ``seed`` leaves, never multiplied. A unit direction of a weight moves
one entry, so a plain matrix times a seed is sparse: in each direction one column, holding a
column of the matrix. Such values stay symbolic :class:`Term` s through the maps that scale
them (the first layer's tangents), and a ``spread`` visits only their nonzeros when a product
or a sum over samples consumes them. A map's body, affine in its batched operands, becomes
sum_k c_k e_k with each coefficient c_k computed once. For logistic regression the Hessian
reduces to the closed form [X 1]^T diag(s (1 - s)) [X 1] / m + 2 lambda I.

Batching rules, one per primitive, receive the node, its arguments (batched ones as
:class:`Value` s) and which arguments are batched, and return the batched :class:`Value`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ..ir.batched import Seed, Spread, TermSpec, batched_shape, times
from ..ir.elementwise import MapSpec, Strided, operand
from ..ir.graph import substitute, toposort
from ..ir.node import ONE, Node, make
from ..ir.ops import SCALAR_OPS


class NotBatchable(Exception):
    """The graph uses a primitive without a batching rule on a direction-dependent value
    (callers fall back to one Hessian-vector product per direction)."""


@dataclass(frozen=True)
class Term:
    """A sparse batched value: direction ``seed.offset + t`` (entry (q, j) of the seed's
    matrix) is nonzero only in column j, where sample i holds A[i, q] * C[i, j]. A is None for
    a vector's seed broadcast over samples (then ``rows`` gives the sample count); C (None: 1)
    broadcasts as ``c_kind``: "full" (r, c), "row" (c,), "col" (r,) or "scalar"."""

    seed: Seed
    A: Node | None
    C: Node | None = None
    c_kind: str = ""
    rows: Node | None = None

    def scaled(self, C: Node | None, kind: str, shape: tuple) -> Term:
        C, kind = _product([(self.C, self.c_kind), (C, kind)], shape)
        return replace(self, C=C, c_kind=kind)


@dataclass(frozen=True)
class Value:
    """A batched value: a dense part laid out over its first ``period`` directions (or None)
    plus sparse terms; ``transposed``: each direction's matrix is still to be transposed (a
    product consumes that without moving the dense part)."""

    dense: Node | None
    period: int = 0
    terms: tuple[Term, ...] = ()
    transposed: bool = False

    @property
    def seed(self) -> Seed | None:
        """The seed, if this is a bare seed leaf."""
        plain = not self.terms and not self.transposed and self.dense is not None
        return self.dense.attr if plain and self.dense.op == "seed" else None


def _reshape(node: Node, shape: tuple) -> Node:
    return make("reshape", node, attr=tuple(shape))


def _end(term: Term) -> int:
    """One past the last direction the term moves."""
    rows, cols = term.seed.matrix
    return term.seed.offset + rows * cols


def _spread(mode: str, terms, base, period: int, want: int, other=None) -> tuple[Node, int]:
    """(spread node, its period): the base (laid out over ``period`` directions) plus the
    terms that move a direction before ``want`` (later ones are not asked for)."""
    kept = tuple(t for t in terms if t.seed.offset < want)
    if not kept and base is not None:
        return base, period
    terms = kept or terms
    P = max([period] + [_end(t) for t in terms])
    cols = {t.seed.matrix[1] for t in terms}
    if len(cols) != 1:
        raise AssertionError(f"terms of different widths {sorted(cols)}")
    args = [base] if base is not None else []
    specs = []
    for t in terms:
        specs.append(TermSpec(t.seed, t.A is not None, t.c_kind, t.rows is not None))
        args += [n for n in (t.A, t.C, t.rows) if n is not None]
    if other is not None:
        args.append(other)
    base_period = period if base is not None else 0
    spec = Spread(
        mode, P, cols.pop(), tuple(specs), base is not None, other is not None, base_period
    )
    return make("spread", *args, attr=spec), P


def _dense(value: Value, want: int) -> tuple[Node, int]:
    """(the value as one array in the batched layout, its period), for directions < want."""
    node, P = value.dense, value.period
    if value.terms:
        node, P = _spread("place", value.terms, node, P, want)
    if value.transposed:
        node = make("dir_transpose", node, attr=P)
    return node, P


def _matmul(node, args, batched, want):
    a, b = args
    if batched == (True, False):
        P = a.period
        dense = None
        if a.transposed:
            # A_p^T b for every direction p as (b^T A_p)^T: one product over A's (r, P*c)
            # view, then only the small result is reordered (dW1 = dZ1^T X at batch m).
            if a.dense is not None:
                r, c = node.args[0].shape[::-1]
                n = node.args[1].shape[1]
                wide = make("matmul", make("transpose", b), _reshape(a.dense, (r, P * c)))
                dense = make("dir_transpose", _reshape(wide, (times(n, P), c)), attr=P)
            if a.terms:
                return Value(*_spread("contract", a.terms, dense, P, want, b))
            return Value(dense, P)
        r, k = node.args[0].shape
        if a.dense is not None and k == 1:
            # An outer product: element-wise, so it fuses into the map that reads it.
            c = node.args[1].shape[1]
            column, row = _reshape(a.dense, (times(r, P),)), _reshape(b, (c,))
            body = operand(0) * operand(1)
            spec = MapSpec(body, ("col", "row"), (times(r, P), c), P)
            dense = make("map", column, row, attr=spec)
        elif a.dense is not None:
            dense = make("matmul", a.dense, b)  # rows i*P + p times b: one product
        if a.terms:
            return Value(*_spread("right", a.terms, dense, P, want, b))
        return Value(dense, P)
    if batched == (False, True):
        if b.seed is not None:  # a times a unit direction: one of a's columns, placed
            return Value(None, 0, (Term(b.seed, a),))
        if b.transposed:
            b = Value(*_dense(b, want))
        P, dense = b.period, None
        if b.dense is not None:
            k, c = node.args[1].shape
            r = node.args[0].shape[0]
            wide = make("matmul", a, _reshape(b.dense, (k, c * P)))  # (k*P, c) as (k, P*c)
            dense = _reshape(wide, (times(r, P), c))
        if b.terms:
            return Value(*_spread("left", b.terms, dense, P, want, a))
        return Value(dense, P)
    raise NotBatchable("a product of two direction-dependent matrices (the graph is not linear)")


def _transpose(node, args, batched, want):
    (a,) = args
    if a.seed is not None:
        s = a.seed
        return Value(
            make("seed", attr=Seed(s.offset, s.shape, not s.transposed, s.period)), a.period
        )
    r, c = node.args[0].shape
    if c == 1:  # (r*P, 1) is the (r, P) matrix: its transpose is the (P, r) result, a view
        dense, P = _dense(a, want)
        return Value(make("transpose", _reshape(dense, (r, P))), P)
    return replace(a, transposed=not a.transposed)


def _colsum(node, args, batched, want):
    (a,) = args
    if a.transposed:
        a = Value(*_dense(a, want))
    r, c = node.args[0].shape
    P, dense = a.period, None
    if a.dense is not None:
        dense = _reshape(make("colsum", _reshape(a.dense, (r, P * c))), (P, c))
    if a.terms:  # a sum over samples is the left product with a row of ones
        return Value(*_spread("left", a.terms, dense, P, want))
    return Value(dense, P)


def _rowsum(node, args, batched, want):
    (a,) = args
    dense, P = _dense(a, want)
    return Value(make("dirs_first", make("rowsum", dense), attr=P), P)


def _sum_all(node, args, batched, want):
    (a,) = args
    if len(node.args[0].shape) == 2:
        a = _rowsum(node, args, batched, want)  # (P, r): each direction's row sums
    dense, P = _dense(a, want)
    return Value(make("rowsum", dense), P)


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


def _map(node, args, batched, want):
    spec = node.attr
    partials = _partials(spec.body, batched)
    if partials is None:
        raise NotBatchable("a map that is not affine in the direction")
    rank = len(spec.shape)
    rows = _samples(node, args, batched) if rank == 2 else None
    sparse, dense = {}, {}  # operand -> its terms (kept symbolic) / (dense part, period)
    for k in partials:
        v, kind = args[k], spec.bcast[k]
        if rank == 2 and kind == "full" and v.terms and not v.transposed:
            # Directions past the demand are not needed (H is symmetric): drop those terms.
            kept = tuple(t for t in v.terms if t.seed.offset < want)
            if kept or v.dense is None:
                sparse[k] = kept or v.terms
            if v.dense is not None:
                dense[k] = (v.dense, v.period)
        elif rank == 2 and kind == "row" and v.seed is not None and rows is not None:
            # A vector's unit directions broadcast over samples (a bias): one entry each.
            sparse[k] = (Term(v.seed, None, rows=rows),)
        else:
            dense[k] = _dense(v, want)
    if dense and not _sizers(spec, batched, dense):  # nothing would size the dense map's loops
        full = [k for k in sparse if spec.bcast[k] == "full"]
        if not full:
            raise NotBatchable("a map over direction-dependent values with no full-shape operand")
        dense[full[0]] = _dense(args[full[0]], want)
        del sparse[full[0]]
    terms = []
    for k, ts in sparse.items():
        C, c_kind = _coefficient(partials[k], node.args, spec)
        terms += [t.scaled(C, c_kind, spec.shape) for t in ts]
    if not dense:
        return Value(None, 0, tuple(terms))
    # Each value keeps the directions it depends on and that are asked of it.
    P = min(want, max(period for _, period in dense.values()))
    sizer = _sizers(spec, batched, dense)[0]
    return Value(_dense_map(node, dense, partials, P, sizer), P, tuple(terms))


def _sizers(spec: MapSpec, batched, dense: dict) -> list[int]:
    """Full-shape operands that can size the dense map's loops: plain ones and batched ones
    whose dense part it reads (a terms-only operand stands for a direction-dependent node)."""
    return [
        k for k, kind in enumerate(spec.bcast) if kind == "full" and (not batched[k] or k in dense)
    ]


def _samples(node, args, batched) -> Node | None:
    """A plain array with one row per sample of this rank-2 map, if any operand has one."""
    for a, kind, b in zip(node.args, node.attr.bcast, batched):
        if kind == "full" and not b:
            return a
    for v, b in zip(args, batched):
        for t in v.terms if b else ():
            if t.A is not None:
                return t.A
    return None


def _partials(body: Node, batched) -> dict[int, Node] | None:
    """{k: d body / d e_k} for the batched operands with a nonzero partial; None when a partial
    reads a batched operand (the body is not affine in them). Affine bodies have no constant
    term: the H v graph is linear in the direction, so the body vanishes when every direction
    does."""
    from .reverse import adjoints  # the sweep imports the rule tables: import late

    indices = [k for k, b in enumerate(batched) if b]
    leaves = [operand(k) for k in indices]
    partials = adjoints(body, leaves)
    varying = set(leaves)
    for n in toposort([p for p in partials if p is not None]):
        if n in varying or any(a in varying for a in n.args):
            return None
    return {k: p for k, p in zip(indices, partials) if p is not None}


def _dense_map(node, dense: dict, partials: dict, P: int, sizer: int) -> Node:
    """The map over the dense parts ((node, period) by operand) for P directions: sum_k c_k e_k,
    each coefficient c_k that reads a full-shape operand hoisted into a plain map of its own
    (computed once, not per direction). Operand ``sizer`` sizes the loops if none read does."""
    spec = node.attr
    rank = len(spec.shape)
    operands = list(node.args)
    flags = [False] * len(operands)
    kinds = list(spec.bcast)
    body = None
    for k, partial in partials.items():
        if k not in dense:
            continue
        operands[k], flags[k] = dense[k][0], True
        if partial.args:
            coefficient, kind = _coefficient(partial, node.args, spec)
            if kind == "full":  # a bias or a scalar stays in the body: it costs nothing
                operands.append(coefficient)
                flags.append(False)
                kinds.append("full")
                partial = operand(len(operands) - 1)
        term = operand(k) if partial is ONE else partial * operand(k)
        body = term if body is None else body + term
    periods = {dense[k][0]: dense[k][1] for k in dense}
    operands, flags, body, kinds = _used(operands, flags, body, kinds, sizer)
    batched_kinds = []
    for a, kind, is_batched in zip(operands, kinds, flags):
        if rank == 1 and kind in ("row", "col"):
            kind = "full"  # a vector map's row/col operand is the vector itself
        kind = _KINDS[(rank, kind, is_batched)]
        if is_batched and periods[a] != P:
            kind = Strided(kind, periods[a])
        batched_kinds.append(kind)
    shape = batched_shape(spec.shape, P)
    return make("map", *operands, attr=MapSpec(body, tuple(batched_kinds), shape, P))


def _used(args, batched, body, kinds, sizer: int):
    """(args, batched, body, kinds) over only the operands ``body`` reads, renumbered, and one
    full-shape operand (``sizer`` if none is read) to size the loop."""
    used = sorted(n.attr[1] for n in toposort([body]) if n.op == "input")
    if not any(kinds[k] == "full" for k in used):
        used = sorted(used + [sizer])
    body = substitute(body, {operand(k): operand(i) for i, k in enumerate(used)})
    return [args[k] for k in used], [batched[k] for k in used], body, [kinds[k] for k in used]


def _coefficient(expression: Node, operands, spec: MapSpec) -> tuple[Node | None, str]:
    """A partial of a rank-2 map's body as a plain value and how it broadcasts over the map:
    (None, "") for 1, a scalar node, or a map over the operands it reads."""
    if expression is ONE:
        return None, ""
    used = sorted(n.attr[1] for n in toposort([expression]) if n.op == "input")
    if all(spec.bcast[k] == "scalar" for k in used):
        return substitute(expression, {operand(k): operands[k] for k in used}), "scalar"
    factors = [(operands[k], spec.bcast[k]) for k in used]
    kind = _kind_of(spec.bcast[k] for k in used)
    return _broadcast_map(expression, factors, used, kind, spec.shape), kind


def _kind_of(kinds) -> str:
    """How a product of values broadcast as ``kinds`` (not all "scalar") broadcasts."""
    kinds = set(kinds) - {"scalar"}
    return "full" if "full" in kinds or len(kinds) > 1 else kinds.pop()


def _broadcast_map(body, factors, used, kind, shape) -> Node:
    """map(body) over ``factors`` ((node, kind) relative to ``shape``) as a value of ``kind``."""
    out_shape = tuple(shape) if kind == "full" else (shape[1],) if kind == "row" else (shape[0],)
    kinds = tuple(k if kind == "full" or k == "scalar" else "full" for _, k in factors)
    body = substitute(body, {operand(k): operand(i) for i, k in enumerate(used)})
    return make("map", *(n for n, _ in factors), attr=MapSpec(body, kinds, out_shape))


def _product(factors, shape) -> tuple[Node | None, str]:
    """The product of plain coefficients ((node or None, kind) over ``shape``) and its kind."""
    factors = [(n, k) for n, k in factors if n is not None]
    if len(factors) <= 1:
        return factors[0] if factors else (None, "")
    kinds = {k for _, k in factors}
    if kinds == {"scalar"}:
        out = factors[0][0]
        for n, _ in factors[1:]:
            out = out * n
        return out, "scalar"
    kind = _kind_of(kinds)
    body = operand(0)
    for k in range(1, len(factors)):
        body = body * operand(k)
    return _broadcast_map(body, factors, list(range(len(factors))), kind, shape), kind


def _scalar(node, args, batched, want):
    """A scalar op on batched scalars: a map over the directions."""
    body = make(node.op, *(operand(k) for k in range(len(args))), attr=node.attr)
    operands = [_dense(a, want) if b else (a, 0) for a, b in zip(args, batched)]
    P = min(want, max(period for _, period in operands))
    kinds = tuple(
        "scalar" if not period else "full" if period == P else Strided("full", period)
        for _, period in operands
    )
    spec = MapSpec(body, kinds, (P,), P)
    return Value(make("map", *(a for a, _ in operands), attr=spec), P)


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


def batch_directions(
    roots: dict[str, Node], seeds: dict[Node, Seed], demand: dict[str, int] | None = None
) -> dict[str, Node]:
    """The batched form of each root, given the direction leaves and their seeds (each laid
    out over the directions up to its block's last); ``demand`` asks root k only for its first
    demand[k] directions (H is symmetric: the block of a parameter needs no direction after
    its own, the rest comes from the other blocks).

    A root's batched value may hold more directions than asked: past the demand they may be
    partial, past its period they are zero. A root that does not depend on any direction is left out (its batched value is
    zero: the graph is linear in the directions). Raises NotBatchable naming a primitive that
    has no batching rule on a direction-dependent value."""
    for s in seeds.values():
        if len(s.shape) > 2:
            raise NotBatchable(f"a parameter of shape {s.shape} has no batched layout")
    P = max(s.period for s in seeds.values())
    order = toposort(list(roots.values()))
    want: dict[Node, int] = {}
    for name, root in roots.items():
        want[root] = max(want.get(root, 0), (demand or {}).get(name, P))
    for node in reversed(order):
        for a in node.args:
            want[a] = max(want.get(a, 0), want.get(node, 0))
    batched = {leaf: Value(make("seed", attr=s), s.period) for leaf, s in seeds.items()}
    for node in order:
        if node in batched or not any(a in batched for a in node.args):
            continue
        flags = tuple(a in batched for a in node.args)
        args = [batched.get(a, a) for a in node.args]
        rule = BATCH_RULES.get(node.op) or (_scalar if node.op in SCALAR_OPS else None)
        if rule is None:
            raise NotBatchable(f"no batching rule for {node.op!r}")
        out = rule(node, args, flags, want[node])
        if out.dense is not None and not out.transposed:
            expected = batched_shape(node.shape, out.period)
            if tuple(out.dense.shape) != expected:
                raise AssertionError(
                    f"batched {node.op}: shape {out.dense.shape}, expected {expected}"
                )
        batched[node] = out
    return {
        name: _dense(batched[root], want[root])[0]
        for name, root in roots.items()
        if root in batched
    }
