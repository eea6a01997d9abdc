"""Prints a network's module: its kernels (forward, loss, loss and gradient, the batched exact
Hessian or H v per direction) and the template fields around them (header, shape checks, how
the Hessian's blocks are put together), filled into templates/network_module.py.tmpl.
"""

from __future__ import annotations

import numpy as np

from .. import __version__
from ..frontend.network import MEAN_OVER_OUTPUTS, describe
from .module import STAGE_SECONDS_PLACEHOLDER, render, requirement_fields
from .numba import Kernel, NumbaPrinter


def network_module_source(net, graph, names, scalars, second_order, cost, parallel_rows) -> str:
    """The module text; ``scalars`` are parameters the kernels read as one number (prelu's
    alpha), whose gradients come back as floats."""
    shapes = net.param_shapes()
    grads = tuple(f"d{n}" for n in names)
    checks = {with_y: _shape_checks(net, names, with_y) for with_y in (False, True)}
    kernels = [
        Kernel(
            "_forward",
            tuple(names) + ("X",),
            returns=("forward",),
            doc="Y_hat",
            preamble=checks[False],
            nogil=True,
        ),
        Kernel(
            "_loss",
            tuple(names) + ("X", "Y"),
            returns=("loss",),
            doc="the loss",
            preamble=checks[True],
        ),
        Kernel(
            "_loss_and_grad",
            tuple(names) + ("X", "Y"),
            returns=("loss",) + grads,
            forward_first="loss",
            doc="the loss and its gradient: one forward, one reverse sweep",
            preamble=checks[True],
            nogil=True,
        ),
    ]
    batched = second_order and "hv" + names[0] not in graph.outputs
    if second_order and not batched:
        kernels.append(
            Kernel(
                "_hvp",
                tuple(names) + ("X", "Y") + tuple(f"V_{n}" for n in names),
                returns=tuple(f"hv{n}" for n in names),
                doc="H V: a second reverse sweep over <grad, V>",
                preamble=checks[True],
            )
        )
    printer = NumbaPrinter(graph)
    meta = "\n".join(
        [
            f"PARAM_NAMES = {tuple(names)!r}",
            f"PARAM_SHAPES = {tuple(shapes[n] for n in names)!r}",
            f"SCALAR_PARAMS = {scalars!r}",
            f"N_INPUTS = {net.inputs}",
            f"N_OUTPUTS = {net.outputs}",
            f"TASK = {net.task!r}",
            f"SECOND_ORDER = {second_order}",
            f"COST = {cost.to_dict()!r}",
        ]
    )
    if batched:
        blocks = tuple(f"H_{n}" for n in names if f"H_{n}" in graph.outputs)
        kernel = Kernel(
            "_hessian_blocks",
            tuple(names) + ("X", "Y"),
            returns=blocks,
            doc="H V for every unit direction V at once: per parameter, the rows of H up to its own",
            preamble=checks[True],
        )
        second = render(
            "network_hessian.py.tmpl",
            direction_helpers=render("direction_helpers.py.tmpl"),
            blocks_kernel=printer.kernel(kernel) if blocks else "",
            checks="\n".join(f"    {line}" for line in checks[True]),
            **_block_fields(names, shapes, scalars, blocks),
        )
    elif second_order:
        second = render("network_hessian_hvp.py.tmpl", **_hessian_fields(names, shapes, scalars))
    else:
        second = render("no_hessian_api.py.tmpl")
    layers = " -> ".join(["X"] + [describe(layer) for layer in net.layers])
    kernel_text = "\n\n\n".join(printer.kernel(k) for k in kernels)
    return render(
        "network_module.py.tmpl",
        title="Network forward and backward passes, compiled for Numba.",
        version=__version__,
        summary=f"{layers}; loss {net.loss}"
        + (" (mean over outputs too)" if net.loss in MEAN_OVER_OUTPUTS else "")
        + f"; l2 = {net.l2!r}",
        parameters="\n".join(f"    {n}: {shapes[n]}" for n in names),
        equations="\n".join(f"    {line}" for line in net.derivation().text.splitlines()),
        cost=cost.table(),
        stage_seconds=STAGE_SECONDS_PLACEHOLDER,
        param_list=", ".join(names),
        grad_list=", ".join(grads),
        hessian_doc="; hessian(...) -> (P, P)" if second_order else "",
        n_inputs=str(net.inputs),
        n_outputs=str(net.outputs),
        meta=meta,
        helpers=render("helpers.py.tmpl"),
        array_helpers=render("array_helpers.py.tmpl"),
        kernels=kernel_text,
        parallel=render("network_parallel.py.tmpl", parallel_rows=str(parallel_rows)),
        api=render("network_api.py.tmpl", second_order_api=second),
        **requirement_fields(printer.packages),
    )


def _shape_checks(net, names, with_y: bool) -> tuple[str, ...]:
    """Kernel statements that refuse arrays of the wrong shapes: Numba does not check bounds,
    so a kernel called directly must not read past an array (callers then report which)."""
    shapes = net.param_shapes()
    tests = [f"{n}.shape != {shapes[n]!r}" for n in names]
    tests += [f"X.shape[1] != {net.inputs}", "X.shape[0] == 0"]
    if with_y:
        tests += ["Y.shape[0] != X.shape[0]", f"Y.shape[1] != {net.outputs}"]
    return (
        f"if {' or '.join(tests)}:",
        '    raise ValueError("array shapes do not match the network (see PARAM_SHAPES)")',
    )


def _block_fields(names, shapes, scalars, blocks) -> dict[str, str]:
    """How _hessian puts the batched blocks into H (a parameter without one stays zero)."""
    size = sum(int(np.prod(shapes[n])) for n in names)
    params = ", ".join(names)
    lines = [f"    {', '.join(blocks)} = _hessian_blocks({params}, X, Y)"] if blocks else []
    start = 0
    for n in names:
        shape = shapes[n]
        if f"H_{n}" in blocks:
            rows = shape[0] if len(shape) == 2 else 1
            # A scalar parameter (prelu's alpha) is one number in the kernels: its block is (P,).
            block = f"H_{n}.reshape((-1, 1))" if n in scalars else f"H_{n}"
            end = start + int(np.prod(shape))
            lines.append(f"    _put_directions(H, {block}, {start}, {rows}, {end}, computed)")
        start += int(np.prod(shape))
    return {"params": params, "size": str(size), "blocks": "\n".join(lines)}


def _hessian_fields(names, shapes, scalars) -> dict[str, str]:
    views, stores = [], []
    start = 0
    for n in names:
        size = int(np.prod(shapes[n]))
        views.append(f"direction[{start}:{start + size}].reshape({shapes[n]!r})")
        if n in scalars:  # a scalar leaf in the kernels: its product is a float
            stores.append(f"        H[{start}, k] = hv{n}")
        else:
            stores.append(f"        H[{start}:{start + size}, k] = hv{n}.ravel()")
        start += size
    return {
        "params": ", ".join(names),
        "size": str(start),
        "hv_names": ", ".join(f"hv{n}" for n in names),
        "direction_views": ", ".join(views),
        "stores": "\n".join(stores),
    }
