"""Network front end: layers, activations and losses -> array-level IR.

A weight matrix is one ``array`` node; activations and per-element losses are SymPy Lambdas
whose bodies become element-wise maps through the scalar front end, so a user's own Lambda
works like a built-in one. Shapes and names are checked here, when the network is built.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import sympy as sp

from ..errors import SymbackpropError
from ..ir.elementwise import elementwise, operand
from ..ir.node import Node, const, input_, make
from ..limits import check_bytes, check_count, check_size, measure
from .functions import ACTIVATIONS
from .scalar import to_ir

_z, _a = sp.symbols("z alpha", real=True)
_y, _p = sp.symbols("y yhat", real=True)

# Activations beyond the element-wise table: softmax is row-wise; prelu has a learnable alpha.
ROW_WISE = ("softmax",)
PRELU = sp.Lambda((_z, _a), sp.Piecewise((_z, _z > 0), (_a * _z, True)))
ACTIVATION_NAMES = tuple(ACTIVATIONS) + ROW_WISE + ("prelu",)

# Per-element losses as Lambdas of (y, yhat); how each is summed is in LOSS_SCALE.
LOSSES: dict[str, sp.Lambda | None] = {
    "mse": sp.Lambda((_y, _p), (_y - _p) ** 2),
    "half_sse": sp.Lambda((_y, _p), sp.Rational(1, 2) * (_y - _p) ** 2),
    "cross_entropy": sp.Lambda((_y, _p), -_y * sp.log(_p)),
    "binary_cross_entropy": sp.Lambda((_y, _p), -(_y * sp.log(_p) + (1 - _y) * sp.log(1 - _p))),
    "absolute": sp.Lambda((_y, _p), sp.Abs(_y - _p)),
    "hinge": None,  # multiclass: needs each row's true-class score, built in _hinge
}
# Mean over the batch, and also over outputs for these (the contract's definitions).
MEAN_OVER_OUTPUTS = {"mse", "binary_cross_entropy", "absolute"}
RELU_LIKE = {"relu", "leaky_relu", "prelu", "elu"}


def printable(expr: sp.Basic) -> bool:
    """True if ``expr`` is small enough for SymPy's printer and ``diff`` (both recursive, and
    the printer sorts terms): at most 400 nodes as a tree."""
    return measure([expr]).tree_size <= 400


def shown(lam: sp.Lambda) -> str:
    """``lam`` as text, or a summary where SymPy's (recursive, sorting) printer would be slow
    or too deep.

    >>> import sympy as sp
    >>> z = sp.Symbol("z")
    >>> deep = z
    >>> for _ in range(5000):
    ...     deep = sp.sin(deep, evaluate=False)
    >>> shown(sp.Lambda(z, sp.tanh(z))), shown(sp.Lambda(z, deep))
    ('Lambda(z, tanh(z))', 'Lambda(z, <an expression of 5001 nodes, 5001 deep>)')
    """
    if printable(lam.expr):
        return str(lam)
    size = measure([lam.expr])
    variables = ", ".join(map(str, lam.variables))
    return f"Lambda({variables}, <an expression of {size.nodes} nodes, {size.depth} deep>)"


def _lambda_body(lam: sp.Lambda, what: str) -> Node:
    """The scalar IR body of ``lam``, its k-th variable read from map operand k; its size and
    depth within MAX_NODES and MAX_DEPTH."""
    leaves = {v: operand(k, str(v)) for k, v in enumerate(lam.variables)}
    free = check_size([lam.expr], what).free_symbols - set(lam.variables)
    if free:
        raise SymbackpropError(
            f"{what} uses symbols {sorted(map(str, free))} that are not its variables"
        )
    return to_ir([lam.expr], leaves)[0]


def _check_activation(activation) -> str | sp.Lambda:
    if isinstance(activation, sp.Lambda):
        if len(activation.variables) != 1:
            raise SymbackpropError(
                f"a custom activation must be a Lambda of one variable; "
                f"{shown(activation)} has {len(activation.variables)}"
            )
        # Converted now, so an activation that cannot compile fails here.
        _lambda_body(activation, f"activation {shown(activation)}")
        return activation
    if not isinstance(activation, str) or activation not in ACTIVATION_NAMES:
        raise SymbackpropError(
            f"unknown activation {activation!r}; known: "
            f"{', '.join(ACTIVATION_NAMES)}, or a sympy.Lambda"
        )
    return activation


def _positive_int(value, what: str) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < 1:
        raise SymbackpropError(f"{what} must be a positive integer; got {value!r}")
    return int(value)


@dataclass(frozen=True)
class Dense:
    """A fully connected layer: A = g(Z), Z = A_prev @ W.T + b, W of shape (units, inputs).

    ``activation``: a name (linear, sigmoid, tanh, relu, leaky_relu, prelu, elu, softplus,
    softmax, hardtanh, abs) or a ``sympy.Lambda`` of one variable.

    >>> Dense(3, "tanh").units
    3
    >>> Dense(3, "swish")
    Traceback (most recent call last):
    ...
    symbackprop.errors.SymbackpropError: unknown activation 'swish'; known: ...
    """

    units: int
    activation: str | sp.Lambda = "linear"

    def __post_init__(self):
        object.__setattr__(self, "units", _positive_int(self.units, "Dense units"))
        object.__setattr__(self, "activation", _check_activation(self.activation))


@dataclass(frozen=True)
class Maxout:
    """A maxout layer: A = max over pieces p of (A_prev @ W[p].T + b[p]).

    W has shape (pieces, units, inputs), b shape (pieces, units). At most MAX_PIECES pieces
    (symbackprop.limits): the generated code grows with their square.

    >>> Maxout(4, pieces=3).pieces
    3
    >>> Maxout(4, pieces=100_000)
    Traceback (most recent call last):
    ...
    symbackprop.errors.SymbackpropError: Maxout(4, 100000) has 100000 pieces, more than the \
limit 10 (MAX_PIECES; ...; raise it with SYMBACKPROP_MAX_PIECES)
    """

    units: int
    pieces: int = 2

    def __post_init__(self):
        object.__setattr__(self, "units", _positive_int(self.units, "Maxout units"))
        object.__setattr__(self, "pieces", _positive_int(self.pieces, "Maxout pieces"))
        if self.pieces < 2:
            raise SymbackpropError("Maxout needs at least 2 pieces")
        check_count(
            "MAX_PIECES",
            self.pieces,
            f"Maxout({self.units}, {self.pieces}) has {self.pieces} pieces",
            "each piece's gradient re-evaluates the max over all pieces, so the generated code "
            "grows with their square",
        )


@dataclass
class NetworkGraph:
    """The IR of a network: parameter leaves in contract order, inputs, outputs, name hints."""

    params: dict[str, Node]
    X: Node
    Y: Node
    output: Node  # Y_hat
    loss: Node
    hints: dict[Node, str]  # display names of forward nodes (A1, Z1_0, loss, ...)
    # Pre-activation products A_prev W^T: their adjoints are the layers' dZ (the bias add is
    # fused into the activation, so Z itself is never a separate array).
    pre_activation: dict[Node, str]


def param_shapes(inputs: int, layers) -> dict[str, tuple[int, ...]]:
    """Parameter names and shapes in the contract's order: W1, b1[, alpha1], W2, b2, ..."""
    shapes: dict[str, tuple[int, ...]] = {}
    fan_in = inputs
    for l, layer in enumerate(layers, start=1):
        if isinstance(layer, Maxout):
            shapes[f"W{l}"] = (layer.pieces, layer.units, fan_in)
            shapes[f"b{l}"] = (layer.pieces, layer.units)
        else:
            shapes[f"W{l}"] = (layer.units, fan_in)
            shapes[f"b{l}"] = (layer.units,)
            if layer.activation == "prelu":
                shapes[f"alpha{l}"] = (1,)
        fan_in = layer.units
    return shapes


def check_network_size(inputs: int, layers) -> None:
    """Refuse a network over the limits before anything is allocated or generated: more than
    MAX_LAYERS layers, or float64 parameters over MAX_PARAM_BYTES (naming the largest array).

    >>> check_network_size(2, [Dense(10**12)])
    Traceback (most recent call last):
    ...
    symbackprop.errors.SymbackpropError: the network's parameters (largest: W1 of layer 1, \
Dense(1000000000000), shape (1000000000000, 2), 16000000000000 bytes) need 24000000000000 \
bytes (22351.7 GiB), more than the limit ...
    """
    check_count(
        "MAX_LAYERS",
        len(layers),
        f"the network has {len(layers)} layers",
        "the generated code grows with each layer, Numba's compile time faster",
    )
    shapes = param_shapes(inputs, layers)
    size = {name: 8 * math.prod(shape) for name, shape in shapes.items()}
    largest = max(size, key=size.get)
    k = int("".join(filter(str.isdigit, largest)))  # W3, b3, alpha3: layer 3
    layer = layers[k - 1]
    if isinstance(layer, Maxout):
        kind = f"Maxout({layer.units}, {layer.pieces})"
    else:
        kind = f"Dense({layer.units})"
    check_bytes(
        "MAX_PARAM_BYTES",
        sum(size.values()),
        f"the network's parameters (largest: {largest} of layer {k}, {kind}, "
        f"shape {shapes[largest]}, {size[largest]} bytes) need",
        "use fewer units or inputs",
    )


def build_graph(inputs: int, layers, loss: str, l2: float) -> NetworkGraph:
    """Forward pass and loss of a network as array-level IR (batch size "m" left symbolic)."""
    shapes = param_shapes(inputs, layers)
    # prelu's alpha is one number: a scalar leaf reading alpha<l>[0].
    params = {
        name: input_(name, 0, name)
        if name.startswith("alpha")
        else make("array", attr=(name, shape))
        for name, shape in shapes.items()
    }
    X = make("array", attr=("X", ("m", inputs)))
    Y = make("array", attr=("Y", ("m", layers[-1].units)))
    hints: dict[Node, str] = {}
    pre_activation: dict[Node, str] = {}
    A = X
    for l, layer in enumerate(layers, start=1):
        W, b = params[f"W{l}"], params[f"b{l}"]
        if isinstance(layer, Maxout):
            pieces = []
            for p in range(layer.pieces):
                product = make("matmul", A, make("transpose", make("take", W, attr=p)))
                Zp = elementwise(lambda u, c: u + c, product, make("take", b, attr=p))
                pre_activation[product] = f"Z{l}_{p}"
                pieces.append(Zp)
            A = elementwise(_max_of, *pieces)
        else:
            product = make("matmul", A, make("transpose", W))
            Z = elementwise(lambda u, c: u + c, product, b)
            pre_activation[product] = f"Z{l}"
            A = _activate(layer.activation, Z, params.get(f"alpha{l}"))
        hints[A] = f"A{l}"
    total = _loss(loss, Y, A)
    m = make("dim", attr=("X", 0))
    scale = m * float(layers[-1].units) if loss in MEAN_OVER_OUTPUTS else m
    value = total / scale
    if l2:
        for name, W in params.items():
            if name.startswith("W"):
                value = value + float(l2) * make("sum_all", W * W)
    hints[value] = "loss"
    return NetworkGraph(params, X, Y, A, value, hints, pre_activation)


def _max_of(*pieces: Node) -> Node:
    result = pieces[0]
    for piece in pieces[1:]:
        result = make("max", result, piece)
    return result


def _activate(activation, Z: Node, alpha: Node | None) -> Node:
    """A = g(Z); ``alpha`` is the layer's prelu parameter leaf (None for other activations)."""
    if activation == "softmax":
        return make("softmax_rows", Z)
    if activation == "prelu":
        return elementwise(lambda z, a: _lambda_call(PRELU, z, a), Z, alpha)
    lam = activation if isinstance(activation, sp.Lambda) else ACTIVATIONS[activation]
    return elementwise(lambda z: _lambda_call(lam, z), Z)


def _lambda_call(lam: sp.Lambda, *leaves: Node) -> Node:
    """The Lambda's body with its variables bound to the given scalar leaves."""
    from ..ir.graph import substitute

    body = _lambda_body(lam, shown(lam))
    return substitute(
        body, {operand(k, str(v)): leaf for k, (v, leaf) in enumerate(zip(lam.variables, leaves))}
    )


def _loss(loss: str, Y: Node, A: Node) -> Node:
    if loss == "hinge":
        return _hinge(Y, A)
    return make("sum_all", elementwise(lambda y, p: _lambda_call(LOSSES[loss], y, p), Y, A))


def _hinge(Y: Node, S: Node) -> Node:
    # sum over j != c of max(0, s_j - s_c + 1), with c each row's true class (Y one-hot).
    true_score = make("rowsum", Y * S)
    margins = elementwise(
        lambda s, sc, y: make("max", const(0.0), s - sc + 1.0) * (1.0 - y), S, true_score, Y
    )
    return make("sum_all", margins)


def describe(layer) -> str:
    """A layer as the user would write it (for messages and module headers)."""
    if isinstance(layer, Maxout):
        return f"Maxout({layer.units}, pieces={layer.pieces})"
    act = layer.activation
    return f"Dense({layer.units}, {shown(act) if isinstance(act, sp.Lambda) else repr(act)})"
