"""The built-in example behind ``symbackprop demo``: the lecture's examples, end to end.

Five steps, each one of symbackprop's jobs on the notes' own numbers: the 2-2-2 sigmoid
network's gradients, two of the notes' claims checked (one right, one wrong), the quadratic's
critical point classified, its gradient compiled, and a standalone module saved, imported and
timed. Every printed number is computed here, none is copied from the notes.
"""

from __future__ import annotations

import importlib.util
import tempfile
import time
from pathlib import Path

import numpy as np
import sympy as sp

# The notes' worked example: W1 = [[w1, w2], [w3, w4]], W2 = [[w5, w6], [w7, w8]].
LECTURE_PARAMS = {
    "W1": [[0.15, 0.20], [0.25, 0.30]],
    "b1": [0.35, 0.35],
    "W2": [[0.40, 0.45], [0.50, 0.55]],
    "b2": [0.60, 0.60],
}
LECTURE_X = [[0.05, 0.10]]
LECTURE_Y = [[0.01, 0.99]]
# The first example of the notes, and the gradient they print for it (its first entry drops
# the -x2 that x1 (1 - x2) contributes).
QUADRATIC = "x1^2 + x1(1 - x2) + x2^2 - x2 x3 + x3^2 + x3"
NOTES_GRADIENT = ("2x1 + 1", "-x1 + 2x2 - x3", "-x2 + 2x3 + 1")
TIMED_CALLS = 20000


def _nested(a) -> str:
    """[[0.000438568, 0.000877135], [...]]: nine decimals, on one line."""
    if np.ndim(a) == 0:
        return f"{float(a):.9f}"
    return "[" + ", ".join(_nested(v) for v in a) + "]"


def _heading(echo, style, text: str) -> None:
    echo("")
    echo(style(text, bold=True))


def run(echo=print, style=lambda text, **_: text) -> None:
    """Print the demo through ``echo``; ``style(text, fg=..., bold=...)`` may colour it.

    Too slow for a doctest on a cold cache (Numba compiles the network and f): the command-line
    tests run it (``symbackprop demo``) and check its numbers.
    """
    from . import Dense, Sequential, check_derivative, compile, critical_points, grad, hessian
    from .analysis.parse import parse

    echo(style("symbackprop demo: the lecture's examples, end to end", bold=True))

    # 1. The network: one forward and one reverse sweep of generated code.
    _heading(echo, style, "1. Gradients of the lecture's 2-2-2 sigmoid network (loss half_sse)")
    net = Sequential(inputs=2, layers=[Dense(2, "sigmoid"), Dense(2, "sigmoid")], loss="half_sse")
    model = net.compile()
    params = {k: np.array(v) for k, v in LECTURE_PARAMS.items()}
    X, Y = np.array(LECTURE_X), np.array(LECTURE_Y)
    loss, grads = model.loss_and_grad(params, X, Y)
    out = model.forward(params, X)[0]
    echo(f"inputs 0.05, 0.10; targets 0.01, 0.99; outputs {out[0]:.9f}, {out[1]:.9f}")
    echo(f"E = 1/2 sum (t - o)^2 = {loss:.9f}   (the notes' 0.275 is the first output's term only)")
    echo(
        f"dE/dw5 = {grads['W2'][0, 0]:.9f}   dE/dw1 = {grads['W1'][0, 0]:.9f}   "
        "(w5 is W2[0, 0], w1 is W1[0, 0])"
    )
    for name in model.param_names:
        echo(f"dE/d{name} = {_nested(grads[name])}")
    echo("derivation (what the generated backward pass computes):")
    for line in str(net.derivation()).splitlines():
        echo("  " + line)

    # 2. Two of the notes' claims: sigmoid' = s(1 - s) (right) and a gradient (wrong).
    _heading(echo, style, "2. Checking the lecture's claims")
    z = sp.Symbol("z", real=True)
    x1, x2, x3 = xs = sp.symbols("x1 x2 x3", real=True)
    f = parse(QUADRATIC, xs)
    claims = [
        ("sigmoid'(z) = sigmoid(z)(1 - sigmoid(z))", check_derivative(
            parse("sigmoid(z)", [z]), z, "sigmoid(z)(1 - sigmoid(z))")),
        (f"grad of f = {f} is ({', '.join(NOTES_GRADIENT)})", check_derivative(
            f, list(xs), list(NOTES_GRADIENT))),
    ]  # fmt: skip
    for claim, verdict in claims:
        echo(f"claim: {claim}")
        colour = "green" if verdict.ok else "red"
        echo("  " + style(str(verdict), fg=colour))
        if not verdict.ok:
            echo(f"  expected: ({', '.join(map(str, verdict.expected))})")

    # 3. The quadratic's critical point, classified by its Hessian's eigenvalues.
    _heading(echo, style, "3. Critical points of f")
    echo(f"f(x1, x2, x3) = {f}")
    echo(f"gradient       = {list(grad(f, xs))}")
    echo(f"Hessian        = {hessian(f, xs).tolist()}")
    for point in critical_points(f, list(xs)):
        echo(style(point.explain(), fg="green" if point.kind == "minimum" else "yellow"))

    # 4. The compiled gradient and Hessian.
    _heading(echo, style, "4. f compiled to Numba")
    fn = compile(f, list(xs))
    at = np.array([-1.0, -1.0, -1.0])
    echo(f"compiled: f{tuple(at.tolist())} = {fn(at):g}, grad = {fn.grad(at)}")
    echo(f"Hessian eigenvalues at that point: {np.linalg.eigvalsh(fn.hessian(at))}")
    echo("cost report:\n" + fn.cost().table())

    # 5. A standalone module: needs what its header says (numpy, numba); imported like any file.
    _heading(echo, style, "5. A standalone gradient module")
    folder = Path(tempfile.mkdtemp(prefix="symbackprop-demo-"))
    path = fn.save(folder / "lecture_gradient.py")
    spec = importlib.util.spec_from_file_location("lecture_gradient", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.grad(at)  # first call compiles (or loads Numba's cache)
    start = time.perf_counter()
    for _ in range(TIMED_CALLS):
        module.grad(at)
    per_call = (time.perf_counter() - start) / TIMED_CALLS
    echo(f"standalone module written to {path}")
    echo(f"imported; its grad({', '.join(map(str, at.tolist()))}) = {module.grad(at)}")
    echo(
        f"its grad(x) takes {per_call * 1e6:.2f} us per call ({TIMED_CALLS} calls; see "
        "benchmarks/ for proper numbers)"
    )
