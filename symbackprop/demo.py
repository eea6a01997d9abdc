"""The built-in example behind ``symbackprop demo``: the lecture's quadratic, end to end."""

from __future__ import annotations

import importlib.util
import tempfile
import time
from pathlib import Path

import numpy as np
import sympy as sp


def run(echo=print) -> None:
    from . import compile, grad, hessian

    x1, x2, x3 = sp.symbols("x1 x2 x3")
    f = x1**2 + x1 * (1 - x2) + x2**2 - x2 * x3 + x3**2 + x3
    echo(f"f(x1, x2, x3) = {f}")
    echo(f"gradient       = {list(grad(f, [x1, x2, x3]))}")
    echo(f"Hessian        = {hessian(f, [x1, x2, x3]).tolist()}")

    fn = compile(f, [x1, x2, x3])
    point = np.array([-1.0, -1.0, -1.0])
    echo(f"compiled: f{tuple(point.tolist())} = {fn(point):g}, grad = {fn.grad(point)}")
    echo(f"Hessian eigenvalues at that point: {np.linalg.eigvalsh(fn.hessian(point))}")
    echo("cost report:\n" + fn.cost().table())

    folder = Path(tempfile.mkdtemp(prefix="symbackprop-demo-"))
    path = fn.save(folder / "lecture_gradient.py")
    spec = importlib.util.spec_from_file_location("lecture_gradient", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.grad(point)  # first call compiles (or loads Numba's cache)
    calls = 20000
    start = time.perf_counter()
    for _ in range(calls):
        module.grad(point)
    per_call = (time.perf_counter() - start) / calls
    echo(f"standalone module written to {path}")
    echo(
        f"its grad(x) takes {per_call * 1e6:.2f} us per call (median-free quick timing; see "
        "benchmarks/ for proper numbers)"
    )
