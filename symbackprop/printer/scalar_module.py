"""Prints a scalar or vector function's module: its kernels and the template fields around
them, filled into templates/module.py.tmpl.
"""

from __future__ import annotations

import numpy as np

from .. import __version__
from ..ir.evaluate import evaluate
from ..ir.graph import Graph
from .module import STAGE_SECONDS_PLACEHOLDER, brief, docstring_safe, render, requirement_fields
from .numba import NumbaPrinter, literal


def scalar_module_source(
    exprs, variables, constants, vector: bool, graph: Graph, kernels, second_order: bool, cost
) -> str:
    """The module of a scalar or vector function: its kernels of ``graph`` and the template
    fields around them (header, the self-check's point, the API for its kind)."""
    printer = NumbaPrinter(graph)
    n, m = len(variables), len(exprs)
    names = tuple(str(v) for v in variables)
    meta = "\n".join(
        [
            f"N_INPUTS = {n}",
            f"N_OUTPUTS = {m if vector else None}",
            f"INPUT_NAMES = {names!r}",
            f"SECOND_ORDER = {second_order}",
            f"CHECK_POINT = np.array([{', '.join(literal(c) for c in _check_point(graph, n))}])",
            f"COST = {cost.to_dict()!r}",
        ]
    )
    signature = f"f({', '.join(names)}) = " + (
        f"[{', '.join(brief(e, 200) for e in exprs)}]" if vector else brief(exprs[0], 400)
    )
    if vector:
        summary, api = (
            "Defines value(x) -> (m,) and jacobian(x) -> (m, n).",
            render("vector_api.py.tmpl"),
        )
    else:
        summary = "Defines value(x), grad(x), value_and_grad(x)" + (
            ", hessian(x) and hvp(x, v)."
            if second_order
            else "; hessian and hvp are generated on first use."
        )
        api = render(
            "scalar_api.py.tmpl",
            second_order_api=render(
                "hessian_api.py.tmpl" if second_order else "no_hessian_api.py.tmpl"
            ),
        )
    kernel_text = "\n\n\n".join(printer.kernel(k) for k in kernels)
    return render(
        "module.py.tmpl",
        title=("Vector function" if vector else "Scalar function") + " and its derivatives, "
        "compiled for Numba.",
        version=__version__,
        signature=docstring_safe(signature),
        summary=summary + "\n",
        variables=docstring_safe(", ".join(names)),
        constants=docstring_safe(", ".join(f"{k} = {v!r}" for k, v in constants) or "none"),
        cost=cost.table(),
        stage_seconds=STAGE_SECONDS_PLACEHOLDER,
        meta=meta,
        helpers=render("helpers.py.tmpl"),
        kernels=kernel_text,
        api=api,
        **requirement_fields(printer.packages),
    )


def _check_point(graph: Graph, n: int) -> np.ndarray:
    """A point where every output is finite, for the module's self-check."""
    rng = np.random.default_rng(0)
    roots = list(graph.output_nodes())
    candidates = [
        rng.uniform(0.2, 0.8, n),
        rng.uniform(-1.0, 1.0, n),
        rng.uniform(1.0, 2.0, n),
        rng.uniform(-2.0, -1.0, n),
    ]
    for x in candidates:
        values = evaluate(roots, {"xs": x, "vs": np.zeros(n)})
        if all(np.all(np.isfinite(v)) for v in values):
            return np.round(x, 6)
    return np.round(candidates[0], 6)
