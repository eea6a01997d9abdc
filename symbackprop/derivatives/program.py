"""Derivative programs: which output groups a generated module computes.

Scalar f: value, grad (one reverse sweep), hessian (a sweep per gradient entry, upper triangle,
structural zeros skipped), hvp (one sweep over grad f . v). Vector f: value, jacobian (a sweep
per output). Network: forward, loss, one gradient per parameter, and H V by a second sweep,
batched over all unit directions for the exact Hessian.
``optimize`` is passed in, so this module does not depend on the passes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from ..ir.batched import Seed
from ..ir.graph import Graph, Output, with_outputs
from ..ir.node import ZERO, Node, input_, make
from .directions import NotBatchable, batch_directions
from .reverse import adjoints

Optimize = Callable[[Graph], Graph]


def _group(nodes: Sequence[Node], shape: tuple[int, ...]) -> Output:
    return Output(tuple(nodes), tuple((i,) for i in range(len(nodes))), shape)


def _entries(out: Output) -> dict[tuple[int, ...], Node]:
    return dict(zip(out.index, out.nodes))


def scalar_program(f: Node, inputs: Sequence[Node], optimize: Optimize, second_order: bool):
    """(raw graphs by stage, optimized graph) for a scalar function's value and grad, plus
    hessian and hvp when ``second_order``."""
    n = len(inputs)
    raw_value = with_outputs(Graph(tuple(inputs), {}), {"value": Output((f,), ((),), ())})
    forward = optimize(raw_value)
    f_opt = forward.outputs["value"].nodes[0]

    grads = [g if g is not None else ZERO for g in adjoints(f_opt, inputs)]
    raw_grad = with_outputs(
        forward, {"value": forward.outputs["value"], "grad": _group(grads, (n,))}
    )
    with_grad = optimize(raw_grad)
    grad_out = with_grad.outputs["grad"]
    if not second_order:
        return {"value": raw_value, "grad": raw_grad}, with_grad
    g = _entries(grad_out)

    hess_nodes, hess_index = [], []
    for (i,), gi in sorted(g.items()):
        # Row i of the Hessian is the gradient of g_i; only j >= i is kept (symmetry).
        for j, hij in enumerate(adjoints(gi, inputs[i:]), start=i):
            if hij is not None:
                hess_nodes.append(hij)
                hess_index.append((i, j))
    v = [input_("vs", i, f"v{i}") for i in range(n)]
    dot = None
    for (i,), gi in sorted(g.items()):
        term = gi * v[i]
        dot = term if dot is None else dot + term
    hvp = (
        [h if h is not None else ZERO for h in adjoints(dot, inputs)]
        if dot is not None
        else [ZERO] * n
    )
    outputs = {
        "value": with_grad.outputs["value"],
        "grad": grad_out,
        "hessian": Output(tuple(hess_nodes), tuple(hess_index), (n, n), symmetric=True),
        "hvp": _group(hvp, (n,)),
    }
    raw_full = with_outputs(with_grad, outputs)
    final = optimize(raw_full)
    return {"value": raw_value, "grad": raw_grad, "hessian": raw_full, "hvp": raw_full}, final


def vector_program(fs: Sequence[Node], inputs: Sequence[Node], optimize: Optimize):
    """(raw graphs by stage, optimized graph) for a vector function's value and Jacobian."""
    m, n = len(fs), len(inputs)
    raw_value = with_outputs(Graph(tuple(inputs), {}), {"value": _group(fs, (m,))})
    forward = optimize(raw_value)
    values = _entries(forward.outputs["value"])
    nodes, index = [], []
    for (i,), fi in sorted(values.items()):
        for j, d in enumerate(adjoints(fi, inputs)):
            if d is not None:
                nodes.append(d)
                index.append((i, j))
    jac = Output(tuple(nodes), tuple(index), (m, n))
    raw_full = with_outputs(forward, {"value": forward.outputs["value"], "jacobian": jac})
    final = optimize(raw_full)
    return {"value": raw_value, "jacobian": raw_full}, final


def _zeros_like(param: Node) -> Node:
    from ..ir.elementwise import elementwise
    from ..ir.node import const

    return const(0.0) if param.shape == () else elementwise(lambda _: const(0.0), param)


def _whole(node: Node) -> Output:
    """An output group holding one whole (array or scalar) node."""
    return Output((node,), ((),), tuple(node.shape))


def _array_graph(outputs: dict[str, Output], names: dict) -> Graph:
    """A graph over array leaves (no scalar inputs) with these outputs and display names."""
    return with_outputs(Graph((), {}, (), dict(names)), outputs)


def network_program(
    params: dict[str, Node],
    output: Node,
    loss: Node,
    names: dict,
    adjoint_names: dict,
    optimize: Optimize,
    second_order: bool,
):
    """(raw graphs by stage, optimized graph) for a network: "forward" (Y_hat), "loss",
    "d<param>" (one reverse sweep) and, with ``second_order``, "hv<param>" (H v by a second
    sweep over sum_p <d<param>, V_p>, with V_p the direction's block for parameter p).

    ``names`` label forward nodes for the printer; ``adjoint_names`` label nodes whose
    adjoint gets "d" + the label (the layers' pre-activation products -> dZ1, dZ2, ...)."""
    leaves = list(params.values())
    # Adjoint labels ride along as "@label" names so they follow their nodes through rewrites.
    tagged = {**names, **{n: "@" + label for n, label in adjoint_names.items()}}
    # The loss is optimized on its own, before differentiating: with Y_hat not an output,
    # the output activation fuses into the loss (log(sigmoid) -> softplus, log(softmax) ->
    # log-sum-exp), so the backward pass starts from the stable form.
    raw_loss = _array_graph({"loss": _whole(loss)}, tagged)
    loss_graph = optimize(raw_loss)
    raw_forward = _array_graph({"forward": _whole(output)}, names)
    forward = optimize(raw_forward)
    labels = {n: label.lstrip("@") for n, label in loss_graph.names.items()}
    grads = adjoints(loss_graph.outputs["loss"].nodes[0], leaves, names=labels)
    adjoint_keys = {n for n, label in loss_graph.names.items() if label.startswith("@")}
    names = {**forward.names, **{n: label for n, label in labels.items() if n not in adjoint_keys}}
    grads = [g if g is not None else _zeros_like(p) for g, p in zip(grads, leaves)]
    outputs = {**forward.outputs, **loss_graph.outputs}
    outputs.update({f"d{name}": _whole(g) for name, g in zip(params, grads)})
    raw_grad = _array_graph(
        outputs, {**names, **{g: f"d{name}" for name, g in zip(params, grads) if g.args}}
    )
    with_grad = optimize(raw_grad)
    if not second_order:
        return {"forward": raw_forward, "loss": raw_loss, "grad": raw_grad}, with_grad
    directions = {
        name: input_(f"V_{name}", 0, f"V_{name}")
        if p.shape == ()
        else make("array", attr=(f"V_{name}", p.shape))
        for name, p in params.items()
    }
    dot = None
    for name in params:
        g = with_grad.outputs[f"d{name}"].nodes[0]
        term = g * directions[name] if g.shape == () else make("sum_all", g * directions[name])
        dot = term if dot is None else dot + term
    hv = adjoints(dot, leaves)
    hv = [h if h is not None else _zeros_like(p) for h, p in zip(hv, leaves)]
    outputs = dict(with_grad.outputs)
    outputs.update({f"hv{name}": _whole(h) for name, h in zip(params, hv)})
    raw_full = _array_graph(outputs, with_grad.names)
    final = optimize(raw_full)
    raw = {"forward": raw_forward, "loss": raw_loss, "grad": raw_grad, "hvp": raw_full}
    return raw, _all_directions(final, params, directions, optimize)


def _all_directions(graph: Graph, params: dict, directions: dict, optimize: Optimize) -> Graph:
    """``graph`` with the H v outputs "hv<param>" replaced by "H_<param>": H v batched over all
    unit directions (derivatives/directions.py), one block of H per parameter, holding rows
    (directions) up to its own parameter's at least (the rest of H follows by symmetry); a
    parameter without a block has zero second derivatives. Left as it is when the graph uses
    a primitive without a batching rule (Maxout's pieces): the Hessian then runs H v once per
    direction."""
    seeds, demand, offset = {}, {}, 0
    for name, p in params.items():
        end = offset + math.prod(p.shape)
        seeds[directions[name]] = Seed(offset, tuple(p.shape), False, end)
        demand[name] = end  # H is symmetric: later rows come from later blocks
        offset = end
    roots = {name: graph.outputs[f"hv{name}"].nodes[0] for name in params}
    try:
        blocks = batch_directions(roots, seeds, demand)
    except NotBatchable:
        return graph
    outputs = {k: v for k, v in graph.outputs.items() if not k.startswith("hv")}
    outputs.update({f"H_{name}": _whole(block) for name, block in blocks.items()})
    return optimize(_array_graph(outputs, graph.names))
