"""sb.Sequential: a feed-forward network, its initial parameters, its compiled forward/backward
code (through the same IR, passes, printer and cache as scalar functions) and its math shown.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import sympy as sp

from .cost import CostReport, count_ops
from .derivatives.program import network_program
from .errors import SymbackpropError

# Losses whose targets are classes: predictions are argmax (or > 0.5 for one output).
CLASSIFICATION_LOSSES = ("cross_entropy", "binary_cross_entropy", "hinge")
# Batches are split across Numba's threads from max(PARALLEL_MIN_ROWS, PARALLEL_WORK / units)
# rows on, in networks with at most PARALLEL_MAX_WEIGHTS_PER_UNIT weights per unit: where matrix
# products dominate, BLAS already uses every core and splitting oversubscribes them. Measured
# on 2 cores at 10,000 rows: 2-32-32-1 tanh 1.5x, 10-64-1 sigmoid 1.7x, 64-32-10 1.25x faster;
# 64-32-10 at 1,000 rows and 784-256-128-10 at 1,024 (597 weights per unit) were slower split.
PARALLEL_MIN_ROWS = 4096
PARALLEL_WORK = 262144
PARALLEL_MAX_WEIGHTS_PER_UNIT = 64
from .frontend.functions import ACTIVATIONS
from .frontend.network import (
    LOSSES,
    PRELU,
    RELU_LIKE,
    Dense,
    Maxout,
    build_graph,
    check_network_size,
    describe,
    param_shapes,
    printable,
)
from .loader.cache import Cache
from .loader.model import CompiledNetwork
from .passes import optimize
from .pipeline import Stages, cache_key, cached_module, check_cache_dir, structural_digest
from .printer.network_module import network_module_source


class Sequential:
    """A feed-forward network: X (m x inputs) -> layers -> Y_hat, with a named loss.

    Parameters are W1, b1, W2, b2, ... (plus alpha<l> for prelu layers); Dense W has shape
    (units, inputs) and Z = X @ W.T + b. The loss is the batch mean of the per-sample loss,
    plus ``l2`` times the sum of squared weights (not biases).

    >>> import numpy as np, symbackprop as sb
    >>> net = sb.Sequential(inputs=2, layers=[sb.Dense(2, "sigmoid"), sb.Dense(2, "sigmoid")],
    ...                     loss="half_sse")
    >>> sorted(net.init_params(seed=0))
    ['W1', 'W2', 'b1', 'b2']
    >>> Sequential(inputs=2, layers=[sb.Dense(1)], loss="squared")
    Traceback (most recent call last):
    ...
    symbackprop.errors.SymbackpropError: unknown loss 'squared'; known: mse, half_sse, ...
    """

    def __init__(self, inputs: int, layers: Sequence, loss: str = "mse", l2: float = 0.0):
        if isinstance(inputs, bool) or not isinstance(inputs, (int, np.integer)) or inputs < 1:
            raise SymbackpropError(f"inputs must be a positive integer; got {inputs!r}")
        try:
            layers = list(layers)
        except TypeError:
            raise SymbackpropError(
                f"layers must be a list of sb.Dense / sb.Maxout; got {layers!r}"
            ) from None
        if not layers:
            raise SymbackpropError("layers is empty: give at least one sb.Dense or sb.Maxout")
        for k, layer in enumerate(layers, start=1):
            if not isinstance(layer, (Dense, Maxout)):
                raise SymbackpropError(f"layer {k} is {layer!r}; expected sb.Dense or sb.Maxout")
        if not isinstance(loss, str) or loss not in LOSSES:
            raise SymbackpropError(f"unknown loss {loss!r}; known: {', '.join(LOSSES)}")
        try:
            l2 = float(l2)
        except (TypeError, ValueError):
            raise SymbackpropError(f"l2 must be a number; got {l2!r}") from None
        if not math.isfinite(l2) or l2 < 0:
            raise SymbackpropError(f"l2 must be finite and >= 0; got {l2}")
        check_network_size(int(inputs), layers)
        self.inputs, self.layers, self.loss, self.l2 = int(inputs), layers, loss, l2

    @property
    def outputs(self) -> int:
        return self.layers[-1].units

    @property
    def task(self) -> str:
        """What a prediction is: "classes" (argmax of the outputs) for a softmax output or a
        classification loss, "binary" (output > 0.5) for one such output, else "raw".

        >>> import symbackprop as sb
        >>> sb.Sequential(4, [sb.Dense(3, "softmax")], loss="cross_entropy").task
        'classes'
        """
        last = self.layers[-1]
        classifying = self.loss in CLASSIFICATION_LOSSES or (
            getattr(last, "activation", None) == "softmax"
        )
        if not classifying:
            return "raw"
        return "binary" if self.outputs == 1 else "classes"

    def param_shapes(self) -> dict[str, tuple[int, ...]]:
        """Parameter names and shapes, in order (W1, b1[, alpha1], W2, b2, ...)."""
        return param_shapes(self.inputs, self.layers)

    def init_params(self, seed: int = 0) -> dict[str, np.ndarray]:
        """Initial parameters: He-normal weights for relu-like layers (and Maxout) with a
        small positive bias (0.01, so units start active), Glorot-uniform weights and zero
        bias otherwise; prelu's alpha starts at 0.25."""
        if (
            isinstance(seed, (bool, np.bool_))
            or not isinstance(seed, (int, np.integer))
            or seed < 0
        ):
            raise SymbackpropError(f"seed must be a non-negative integer; got {seed!r}")
        rng = np.random.default_rng(seed)
        params: dict[str, np.ndarray] = {}
        shapes = self.param_shapes()
        fan_in = self.inputs
        for l, layer in enumerate(self.layers, start=1):
            relu_like = isinstance(layer, Maxout) or layer.activation in RELU_LIKE
            if relu_like:
                params[f"W{l}"] = rng.normal(0.0, math.sqrt(2.0 / fan_in), shapes[f"W{l}"])
                params[f"b{l}"] = np.full(shapes[f"b{l}"], 0.01)
            else:
                limit = math.sqrt(6.0 / (fan_in + layer.units))
                params[f"W{l}"] = rng.uniform(-limit, limit, shapes[f"W{l}"])
                params[f"b{l}"] = np.zeros(shapes[f"b{l}"])
            if f"alpha{l}" in shapes:
                params[f"alpha{l}"] = np.array([0.25])
            fan_in = layer.units
        return params

    def compile(self, cache_dir=None) -> CompiledNetwork:
        """Generate, cache and load forward, loss and gradient code (the Hessian's on first use)."""
        cache_dir = check_cache_dir(cache_dir)
        module, path, seconds = _build(self, False, cache_dir)
        return CompiledNetwork(module, path, seconds, lambda: _build(self, True, cache_dir))

    def expression(self) -> sp.MatrixExpr:
        """The forward pass as a SymPy matrix expression in X, W1, b1, ...

        >>> import symbackprop as sb
        >>> sb.Sequential(2, [sb.Dense(3, "tanh")]).expression()
        Lambda(z, tanh(z)).(X*W1.T + 1*b1.T)
        """
        m = sp.Symbol("m", integer=True, positive=True)
        A = sp.MatrixSymbol("X", m, self.inputs)
        fan_in = self.inputs
        ones = sp.OneMatrix(m, 1)
        for l, layer in enumerate(self.layers, start=1):
            if isinstance(layer, Maxout):
                pieces = [
                    A * sp.MatrixSymbol(f"W{l}_{p}", layer.units, fan_in).T
                    + ones * sp.MatrixSymbol(f"b{l}_{p}", layer.units, 1).T
                    for p in range(layer.pieces)
                ]
                A = sp.Function("maxout")(*pieces)
            else:
                Z = (
                    A * sp.MatrixSymbol(f"W{l}", layer.units, fan_in).T
                    + ones * sp.MatrixSymbol(f"b{l}", layer.units, 1).T
                )
                A = _apply_activation(layer.activation, Z, l)
            fan_in = layer.units
        return A

    def derivation(self) -> Derivation:
        """The backward pass as equations (the notes' delta recursion), as text and LaTeX."""
        return _derivation(self)

    def _spec(self) -> str:
        parts = [f"inputs={self.inputs}", f"loss={self.loss}", f"l2={float.hex(self.l2)}"]
        for layer in self.layers:
            if isinstance(layer, Maxout):
                parts.append(f"Maxout({layer.units},{layer.pieces})")
            else:
                act = layer.activation
                # A Lambda by its structural digest: srepr recurses on a deep body.
                text = structural_digest([act]).hex() if isinstance(act, sp.Lambda) else act
                parts.append(f"Dense({layer.units},{text})")
        return ";".join(parts)

    def __repr__(self) -> str:
        layers = ", ".join(describe(layer) for layer in self.layers)
        return (
            f"Sequential(inputs={self.inputs}, layers=[{layers}], loss={self.loss!r}, l2={self.l2})"
        )


def _apply_activation(activation, Z, layer: int):
    from sympy.matrices.expressions.applyfunc import ElementwiseApplyFunction

    if activation == "softmax":
        return sp.Function("softmax")(Z)
    if activation == "prelu":
        z = PRELU.variables[0]
        return ElementwiseApplyFunction(
            sp.Lambda(z, PRELU.expr.subs(PRELU.variables[1], sp.Symbol(f"alpha{layer}"))), Z
        )
    lam = activation if isinstance(activation, sp.Lambda) else ACTIVATIONS[activation]
    return ElementwiseApplyFunction(lam, Z)


# ---- derivation -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Derivation:
    """Backward-pass equations; ``str()`` gives the text form."""

    text: str
    latex: str

    def __str__(self) -> str:
        return self.text


def _activation_slope(activation) -> tuple[str, str]:
    """(text, latex) of g'(z) from SymPy."""
    if activation == "prelu":
        z, a = PRELU.variables
        d = sp.diff(PRELU.expr, z)
    else:
        lam = activation if isinstance(activation, sp.Lambda) else ACTIVATIONS[activation]
        if not printable(lam.expr):
            return "the custom activation's derivative", "g'(z)"
        z = lam.variables[0]
        d = sp.diff(lam.expr, z)
    return str(d), sp.latex(d)


def _derivation(net: Sequential) -> Derivation:
    L = len(net.layers)
    text = [f"Forward: Z_l = A_(l-1) W_l^T + b_l, A_l = g_l(Z_l), A_0 = X, Y_hat = A_{L}"]
    latex = [r"Z_l = A_{l-1} W_l^\top + b_l,\quad A_l = g_l(Z_l),\quad A_0 = X"]
    last = net.layers[-1]
    fused = {
        ("softmax", "cross_entropy"): "delta_L = (Y_hat - Y) / m",
        ("sigmoid", "binary_cross_entropy"): "delta_L = (Y_hat - Y) / (m n_out)",
    }
    key = (getattr(last, "activation", None), net.loss)
    if key in fused:
        text.append(fused[key] + "   (the loss and output activation fused: computed from logits)")
        latex.append(
            r"\delta_{L} = (\hat Y - Y)/"
            + ("m" if net.loss == "cross_entropy" else r"(m\,n_{out})")
        )
    else:
        text.append(f"delta_{L} = dE/dA_{L} * g_{L}'(Z_{L})   (element-wise; E = {net.loss} loss)")
        latex.append(
            rf"\delta_{{{L}}} = \frac{{\partial E}}{{\partial A_{{{L}}}}} \odot g_{{{L}}}'(Z_{{{L}}})"
        )
    for l in range(L, 0, -1):
        layer = net.layers[l - 1]
        reg = f" + 2 l2 W_{l}" if net.l2 else ""
        if isinstance(layer, Maxout):
            text.append(
                f"dW_{l}[p] = (delta_{l} * [piece p is the max])^T A_{l - 1}{reg}, "
                f"db_{l}[p] = column sums of delta_{l} * [piece p is the max]"
            )
            latex.append(
                rf"dW_{{{l}}}[p] = (\delta_{{{l}}} \odot 1_{{p=\arg\max}})^\top A_{{{l - 1}}}"
            )
        else:
            text.append(f"dW_{l} = delta_{l}^T A_{l - 1}{reg}, db_{l} = column sums of delta_{l}")
            latex.append(
                rf"dW_{{{l}}} = \delta_{{{l}}}^\top A_{{{l - 1}}}"
                + (rf" + 2\lambda W_{{{l}}}" if net.l2 else "")
                + rf",\quad db_{{{l}}} = \mathbf{{1}}^\top \delta_{{{l}}}"
            )
        if l > 1:
            below = net.layers[l - 2]
            if isinstance(below, Maxout) or below.activation == "softmax":
                slope_text, slope_tex = "J_g", r"J_g"
            else:
                slope_text, slope_tex = _activation_slope(below.activation)
            text.append(
                f"delta_{l - 1} = (delta_{l} W_{l}) * g_{l - 1}'(Z_{l - 1}),  "
                f"g_{l - 1}'(z) = {slope_text}"
            )
            latex.append(
                rf"\delta_{{{l - 1}}} = (\delta_{{{l}}} W_{{{l}}}) \odot "
                rf"g_{{{l - 1}}}'(Z_{{{l - 1}}}),\quad g'(z) = {slope_tex}"
            )
    return Derivation("\n".join(text), "\\\\\n".join(latex))


# ---- code generation ---------------------------------------------------------------------------


def _build(net: Sequential, second_order: bool, cache_dir):
    def generate(timer: Stages) -> tuple[str, str]:
        ng = build_graph(net.inputs, net.layers, net.loss, net.l2)
        timer.stage("front end")
        raw, graph = network_program(
            ng.params,
            ng.output,
            ng.loss,
            ng.hints,
            ng.pre_activation,
            timer.timed("passes", optimize),
            second_order,
        )
        timer.stage("derivatives", minus=timer.seconds.get("passes", 0.0))
        names = list(ng.params)
        groups = {
            "forward": ["forward"],
            "loss": ["loss"],
            "loss_and_grad": ["loss"] + [f"d{n}" for n in names],
        }
        stage_of = {"forward": "forward", "loss": "loss", "loss_and_grad": "grad"}
        if second_order:
            groups["hvp"] = [f"hv{n}" for n in names]
            stage_of["hvp"] = "hvp"
        cost = CostReport(
            {k: count_ops(raw[stage_of[k]], g) for k, g in groups.items()},
            {k: count_ops(graph, g) for k, g in groups.items()},
        )
        scalars = tuple(n for n, leaf in ng.params.items() if leaf.shape == ())
        source = network_module_source(
            net, graph, names, scalars, second_order, cost, _parallel_rows(net)
        )
        timer.stage("printer")
        return source, graph.digest()

    return cached_module(
        Cache(cache_dir), cache_key("network", str(second_order), net._spec()), generate
    )


def _parallel_rows(net: Sequential) -> int:
    """The batch size from which the kernels run on row chunks in parallel (0: never)."""
    matrices = [shape for shape in net.param_shapes().values() if len(shape) == 2]
    units = max(sum(shape[0] for shape in matrices), 1)
    if sum(r * c for r, c in matrices) > PARALLEL_MAX_WEIGHTS_PER_UNIT * units:
        return 0
    return max(PARALLEL_MIN_ROWS, -(-PARALLEL_WORK // units))
