"""Optimizers over one flat float64 parameter vector: SGD, RMSprop, Adagrad, Adadelta, Adam, AdamW.

Each ``step(x, g)`` is one fused ``@numba.njit`` loop that updates ``x`` and the flat state
vectors in place (PyTorch's documented update rules and defaults); :class:`FlatParams` keeps a
network's parameter dict as reshape views into one such vector, so a step touches one array.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import numba as nb
import numpy as np

from ..errors import SymbackpropError

_F64 = np.dtype(np.float64)


# ---- fused update kernels ----------------------------------------------------------------------
# One pass over the vector per step; each returns whether every updated parameter is finite (the
# check costs nothing inside the loop, and lets callers restore the previous parameters).
# error_model="numpy": a division by zero gives inf/nan (caught by that flag) instead of a
# per-division zero test, which would keep LLVM from vectorizing the loop (about 5x slower).


@nb.njit(cache=True, error_model="numpy")
def _sgd(x, g, buf, lr, momentum, dampening, weight_decay, nesterov, first):
    finite = True
    for i in range(x.size):
        d = g[i] + weight_decay * x[i]
        if momentum != 0.0:
            # PyTorch starts the momentum buffer at the first gradient (no dampening then).
            b = d if first else momentum * buf[i] + (1.0 - dampening) * d
            buf[i] = b
            d = d + momentum * b if nesterov else b
        x[i] -= lr * d
        finite &= math.isfinite(x[i])
    return finite


@nb.njit(cache=True, error_model="numpy")
def _rmsprop(x, g, sq, avg, buf, lr, alpha, eps, weight_decay, momentum, centered):
    finite = True
    for i in range(x.size):
        d = g[i] + weight_decay * x[i]
        v = alpha * sq[i] + (1.0 - alpha) * d * d
        sq[i] = v
        if centered:
            a = alpha * avg[i] + (1.0 - alpha) * d
            avg[i] = a
            v = v - a * a
        denom = math.sqrt(v) + eps
        if momentum > 0.0:
            b = momentum * buf[i] + d / denom
            buf[i] = b
            x[i] -= lr * b
        else:
            x[i] -= lr * d / denom
        finite &= math.isfinite(x[i])
    return finite


@nb.njit(cache=True, error_model="numpy")
def _adagrad(x, g, total, clr, eps, weight_decay):
    finite = True
    for i in range(x.size):
        d = g[i] + weight_decay * x[i]
        s = total[i] + d * d
        total[i] = s
        x[i] -= clr * d / (math.sqrt(s) + eps)
        finite &= math.isfinite(x[i])
    return finite


@nb.njit(cache=True, error_model="numpy")
def _adadelta(x, g, sq, acc, lr, rho, eps, weight_decay):
    finite = True
    for i in range(x.size):
        d = g[i] + weight_decay * x[i]
        v = rho * sq[i] + (1.0 - rho) * d * d
        sq[i] = v
        delta = math.sqrt(acc[i] + eps) / math.sqrt(v + eps) * d
        acc[i] = rho * acc[i] + (1.0 - rho) * delta * delta
        x[i] -= lr * delta
        finite &= math.isfinite(x[i])
    return finite


@nb.njit(cache=True, error_model="numpy")
def _adam(x, g, m, v, vmax, lr, beta1, beta2, eps, weight_decay, decoupled, amsgrad, bc1, bc2):
    finite = True
    step_size = lr / bc1
    bc2_sqrt = math.sqrt(bc2)
    shrink = 1.0 - lr * weight_decay
    for i in range(x.size):
        if decoupled:  # AdamW: decay the weights directly, not through the gradient
            x[i] *= shrink
            d = g[i]
        else:
            d = g[i] + weight_decay * x[i]
        mi = beta1 * m[i] + (1.0 - beta1) * d
        vi = beta2 * v[i] + (1.0 - beta2) * d * d
        m[i] = mi
        v[i] = vi
        if amsgrad:
            if vi > vmax[i]:
                vmax[i] = vi
            vi = vmax[i]
        x[i] -= step_size * mi / (math.sqrt(vi) / bc2_sqrt + eps)
        finite &= math.isfinite(x[i])
    return finite


# ---- optimizer objects ---------------------------------------------------------------------------


def _number(name: str, value, *, low=0.0, high=math.inf, high_open=False) -> float:
    """``value`` as a float in [low, high] (or [low, high)), else an error naming ``name``."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise SymbackpropError(f"{name} must be a number; got {value!r}") from None
    above = value >= high if high_open else value > high
    if not math.isfinite(value) or value < low or above:
        bracket = ")" if high_open else "]"
        raise SymbackpropError(f"{name} must be in [{low:g}, {high:g}{bracket}; got {value!r}")
    return value


class Optimizer(ABC):
    """Base class: hyperparameters, flat state vectors created on the first step, a step count.

    ``step(x, g)`` updates the float64 vector ``x`` in place from the gradient ``g`` (same
    size) and returns True when every updated entry is finite. ``reset()`` forgets the state
    (moments, accumulators, step count) so the next step starts afresh.
    """

    name = "optimizer"
    _state_names: tuple[str, ...] = ()

    def __init__(self):
        self.t = 0  # steps taken since the last reset
        self._size = None
        self.state: dict[str, np.ndarray] = {}

    def reset(self) -> None:
        """Forget the state: the next step is a first step again.

        >>> opt = SGD(lr=0.1, momentum=0.9)
        >>> opt.reset(); opt.t
        0
        """
        self.t = 0
        self._size = None
        self.state = {}

    def _prepare(self, x, g):
        if not (type(x) is np.ndarray and x.dtype is _F64 and x.ndim == 1):
            raise SymbackpropError(
                "the parameters must be a 1-D float64 NumPy array (one flat vector); got "
                f"{type(x).__name__} {getattr(x, 'dtype', '')} {getattr(x, 'shape', '')}".rstrip()
            )
        if not (type(g) is np.ndarray and g.dtype is _F64 and g.shape == x.shape):
            raise SymbackpropError(
                f"the gradient must be a float64 array of shape {x.shape} like the parameters; "
                f"got {type(g).__name__} {getattr(g, 'dtype', '')} {getattr(g, 'shape', '')}"
            )
        if not x.flags.writeable:
            raise SymbackpropError("the parameter vector is read-only; it is updated in place")
        if self._size is None:
            self._size = x.size
            self.state = {k: np.zeros(x.size) for k in self._state_names}
        elif x.size != self._size:
            raise SymbackpropError(
                f"{self.name} holds state for {self._size} parameters; got {x.size} "
                "(call reset() to start over with other parameters)"
            )
        self.t += 1

    @abstractmethod
    def step(self, x: np.ndarray, g: np.ndarray) -> bool:
        """Update ``x`` in place from ``g``; True when every new entry of ``x`` is finite."""

    @abstractmethod
    def _settings(self) -> dict:
        """The hyperparameters, by name (for the repr)."""

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._settings().items())
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov momentum and L2 weight
    decay (PyTorch's ``torch.optim.SGD``): with d = g + weight_decay * x,
    b = d on the first step and momentum * b + (1 - dampening) * d afterwards,
    d = d + momentum * b (Nesterov) or b (momentum), then x -= lr * d.

    >>> import numpy as np
    >>> opt = SGD(lr=0.1, momentum=0.9)
    >>> x = np.array([1.0, -2.0])
    >>> opt.step(x, np.array([1.0, 1.0])), x
    (True, array([ 0.9, -2.1]))
    >>> opt.step(x, np.array([1.0, 1.0])), x   # b = 0.9 * 1 + 1
    (True, array([ 0.71, -2.29]))
    >>> opt
    SGD(lr=0.1, momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=False)
    >>> SGD(lr=-1)
    Traceback (most recent call last):
    ...
    symbackprop.errors.SymbackpropError: lr must be in [0, inf]; got -1.0
    """

    name = "SGD"
    _state_names = ("momentum_buffer",)

    def __init__(self, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
        super().__init__()
        self.lr = _number("lr", lr)
        self.momentum = _number("momentum", momentum)
        self.dampening = _number("dampening", dampening)
        self.weight_decay = _number("weight_decay", weight_decay)
        self.nesterov = bool(nesterov)
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise SymbackpropError("nesterov needs momentum > 0 and dampening = 0")

    def step(self, x, g):
        self._prepare(x, g)
        return _sgd(
            x, g, self.state["momentum_buffer"], self.lr, self.momentum, self.dampening,
            self.weight_decay, self.nesterov, self.t == 1,
        )  # fmt: skip

    def _settings(self):
        return dict(
            lr=self.lr, momentum=self.momentum, dampening=self.dampening,
            weight_decay=self.weight_decay, nesterov=self.nesterov,
        )  # fmt: skip


class RMSprop(Optimizer):
    """RMSprop (PyTorch's ``torch.optim.RMSprop``): v = alpha * v + (1 - alpha) * d^2 with
    d = g + weight_decay * x; centered subtracts the squared running mean of d from v; then
    x -= lr * d / (sqrt(v) + eps), or with momentum b = momentum * b + d / (sqrt(v) + eps),
    x -= lr * b.

    >>> import numpy as np
    >>> opt = RMSprop()
    >>> x = np.array([1.0])
    >>> _ = opt.step(x, np.array([2.0]))
    >>> bool(np.isclose(x[0], 1 - 0.01 * 2 / np.sqrt(0.01 * 4)))
    True
    >>> opt
    RMSprop(lr=0.01, alpha=0.99, eps=1e-08, weight_decay=0.0, momentum=0.0, centered=False)
    """

    name = "RMSprop"
    _state_names = ("square_avg", "grad_avg", "momentum_buffer")

    def __init__(self, lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                 centered=False):  # fmt: skip
        super().__init__()
        self.lr = _number("lr", lr)
        self.alpha = _number("alpha", alpha, high=1.0)
        self.eps = _number("eps", eps)
        self.weight_decay = _number("weight_decay", weight_decay)
        self.momentum = _number("momentum", momentum)
        self.centered = bool(centered)

    def step(self, x, g):
        self._prepare(x, g)
        s = self.state
        return _rmsprop(
            x, g, s["square_avg"], s["grad_avg"], s["momentum_buffer"], self.lr, self.alpha,
            self.eps, self.weight_decay, self.momentum, self.centered,
        )  # fmt: skip

    def _settings(self):
        return dict(
            lr=self.lr, alpha=self.alpha, eps=self.eps, weight_decay=self.weight_decay,
            momentum=self.momentum, centered=self.centered,
        )  # fmt: skip


class Adagrad(Optimizer):
    """Adagrad (PyTorch's ``torch.optim.Adagrad``): s += d^2 with d = g + weight_decay * x,
    x -= clr * d / (sqrt(s) + eps), clr = lr / (1 + (t - 1) * lr_decay) at step t.

    >>> import numpy as np
    >>> opt = Adagrad(lr=0.5)
    >>> x = np.array([1.0, 1.0])
    >>> _ = opt.step(x, np.array([3.0, -4.0])); x   # the first step is lr * sign(g)
    array([0.5, 1.5])
    >>> opt
    Adagrad(lr=0.5, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10)
    """

    name = "Adagrad"
    _state_names = ("sum",)

    def __init__(self, lr=0.01, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                 eps=1e-10):  # fmt: skip
        super().__init__()
        self.lr = _number("lr", lr)
        self.lr_decay = _number("lr_decay", lr_decay)
        self.weight_decay = _number("weight_decay", weight_decay)
        self.initial_accumulator_value = _number(
            "initial_accumulator_value", initial_accumulator_value
        )
        self.eps = _number("eps", eps)

    def step(self, x, g):
        first = self._size is None
        self._prepare(x, g)
        if first:
            self.state["sum"].fill(self.initial_accumulator_value)
        clr = self.lr / (1.0 + (self.t - 1) * self.lr_decay)
        return _adagrad(x, g, self.state["sum"], clr, self.eps, self.weight_decay)

    def _settings(self):
        return dict(
            lr=self.lr, lr_decay=self.lr_decay, weight_decay=self.weight_decay,
            initial_accumulator_value=self.initial_accumulator_value, eps=self.eps,
        )  # fmt: skip


class Adadelta(Optimizer):
    """Adadelta (PyTorch's ``torch.optim.Adadelta``): v = rho * v + (1 - rho) * d^2,
    delta = sqrt(u + eps) / sqrt(v + eps) * d, u = rho * u + (1 - rho) * delta^2,
    x -= lr * delta, with d = g + weight_decay * x.

    >>> import numpy as np
    >>> opt = Adadelta()
    >>> x = np.array([1.0])
    >>> _ = opt.step(x, np.array([1.0]))
    >>> bool(np.isclose(x[0], 1 - np.sqrt(1e-6) / np.sqrt(0.1 + 1e-6)))
    True
    >>> opt
    Adadelta(lr=1.0, rho=0.9, eps=1e-06, weight_decay=0.0)
    """

    name = "Adadelta"
    _state_names = ("square_avg", "acc_delta")

    def __init__(self, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0):
        super().__init__()
        self.lr = _number("lr", lr)
        self.rho = _number("rho", rho, high=1.0)
        self.eps = _number("eps", eps)
        self.weight_decay = _number("weight_decay", weight_decay)

    def step(self, x, g):
        self._prepare(x, g)
        s = self.state
        return _adadelta(
            x, g, s["square_avg"], s["acc_delta"], self.lr, self.rho, self.eps, self.weight_decay
        )

    def _settings(self):
        return dict(lr=self.lr, rho=self.rho, eps=self.eps, weight_decay=self.weight_decay)


class Adam(Optimizer):
    """Adam (Kingma & Ba; PyTorch's ``torch.optim.Adam``): with d = g + weight_decay * x,
    m = beta1 * m + (1 - beta1) * d, v = beta2 * v + (1 - beta2) * d^2, and at step t
    x -= lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps). ``amsgrad`` uses the
    running maximum of v.

    >>> import numpy as np
    >>> opt = Adam(lr=0.1)
    >>> x = np.array([1.0, 1.0])
    >>> _ = opt.step(x, np.array([3.0, -0.5])); x   # the first step is about lr * sign(g)
    array([0.9, 1.1])
    >>> opt
    Adam(lr=0.1, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.0, amsgrad=False)
    >>> Adam(betas=(0.9, 1.0))
    Traceback (most recent call last):
    ...
    symbackprop.errors.SymbackpropError: betas[1] must be in [0, 1); got 1.0
    """

    name = "Adam"
    _state_names = ("exp_avg", "exp_avg_sq", "max_exp_avg_sq")
    _decoupled = False

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False):
        super().__init__()
        self.lr = _number("lr", lr)
        try:
            beta1, beta2 = betas
        except (TypeError, ValueError):
            raise SymbackpropError(f"betas must be a pair (beta1, beta2); got {betas!r}") from None
        self.betas = (
            _number("betas[0]", beta1, high=1.0, high_open=True),
            _number("betas[1]", beta2, high=1.0, high_open=True),
        )
        self.eps = _number("eps", eps)
        self.weight_decay = _number("weight_decay", weight_decay)
        self.amsgrad = bool(amsgrad)

    def step(self, x, g):
        self._prepare(x, g)
        s, (beta1, beta2) = self.state, self.betas
        return _adam(
            x, g, s["exp_avg"], s["exp_avg_sq"], s["max_exp_avg_sq"], self.lr, beta1, beta2,
            self.eps, self.weight_decay, self._decoupled, self.amsgrad, 1.0 - beta1**self.t,
            1.0 - beta2**self.t,
        )  # fmt: skip

    def _settings(self):
        return dict(
            lr=self.lr, betas=self.betas, eps=self.eps, weight_decay=self.weight_decay,
            amsgrad=self.amsgrad,
        )  # fmt: skip


class AdamW(Adam):
    """AdamW (Loshchilov & Hutter; PyTorch's ``torch.optim.AdamW``): Adam whose weight decay
    is decoupled from the gradient: x *= 1 - lr * weight_decay, then the Adam step on g.

    >>> import numpy as np
    >>> opt = AdamW(lr=0.1, weight_decay=0.5)
    >>> x = np.array([2.0])
    >>> _ = opt.step(x, np.array([1.0])); x   # 2 * (1 - 0.05) - 0.1
    array([1.8])
    >>> opt
    AdamW(lr=0.1, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.5, amsgrad=False)
    """

    name = "AdamW"
    _decoupled = True

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False):
        super().__init__(lr, betas, eps, weight_decay, amsgrad)


OPTIMIZERS: dict[str, type[Optimizer]] = {
    "sgd": SGD,
    "rmsprop": RMSprop,
    "adagrad": Adagrad,
    "adadelta": Adadelta,
    "adam": Adam,
    "adamw": AdamW,
}


def make_optimizer(spec, lr=None) -> Optimizer:
    """An optimizer from a name in :data:`OPTIMIZERS` (its defaults, ``lr`` if given) or an
    :class:`Optimizer` passed through (then ``lr`` must be None).

    >>> make_optimizer("adam", lr=0.01)
    Adam(lr=0.01, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.0, amsgrad=False)
    >>> make_optimizer("lbfgs")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    symbackprop.errors.SymbackpropError: unknown optimizer 'lbfgs'; known: sgd, rmsprop, ...
    """
    if isinstance(spec, Optimizer):
        if lr is not None:
            raise SymbackpropError(
                f"lr={lr!r} given with the optimizer object {spec!r}: set lr on the object"
            )
        return spec
    key = spec.lower() if isinstance(spec, str) else spec
    if key not in OPTIMIZERS:
        raise SymbackpropError(f"unknown optimizer {spec!r}; known: {', '.join(OPTIMIZERS)}")
    return OPTIMIZERS[key]() if lr is None else OPTIMIZERS[key](lr=lr)


# ---- one flat vector for a parameter dict -------------------------------------------------------


class FlatParams:
    """A parameter dict kept as one flat float64 vector: ``vector`` holds every parameter
    (C order, in ``names`` order) and ``views[name]`` is a reshaped view into it, so an
    optimizer step on ``vector`` updates every view at once.

    >>> import numpy as np
    >>> flat = FlatParams({"W1": np.ones((2, 2)), "b1": np.zeros(2)})
    >>> flat.vector
    array([1., 1., 1., 1., 0., 0.])
    >>> flat.vector[:] = np.arange(6.0)
    >>> flat.views["b1"]
    array([4., 5.])
    >>> out = {"W1": np.zeros((2, 2)), "b1": np.zeros(2)}
    >>> flat.write(out); out["W1"]
    array([[0., 1.],
           [2., 3.]])
    """

    def __init__(self, params: dict, names=None, shapes: dict | None = None):
        if not isinstance(params, dict):
            raise SymbackpropError(f"params must be a dict of arrays; got {type(params).__name__}")
        self.names = tuple(params if names is None else names)
        missing = [k for k in self.names if k not in params]
        if missing:
            raise SymbackpropError(f"params is missing {', '.join(missing)}")
        unknown = [k for k in params if k not in self.names]
        if unknown:
            raise SymbackpropError(
                f"params has unknown key(s) {', '.join(map(str, unknown))}; expected "
                f"{', '.join(self.names)}"
            )
        arrays = {}
        for k in self.names:
            try:
                arrays[k] = np.asarray(params[k], dtype=np.float64)
            except (TypeError, ValueError):
                raise SymbackpropError(f"parameter {k} is not a float array") from None
            if shapes is not None and arrays[k].shape != tuple(shapes[k]):
                raise SymbackpropError(
                    f"parameter {k} must have shape {tuple(shapes[k])}; got {arrays[k].shape}"
                )
        self.shapes = {k: arrays[k].shape for k in self.names}
        sizes = [arrays[k].size for k in self.names]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
        self.vector = np.empty(int(self.offsets[-1]))
        self.views = {
            k: self.vector[a:b].reshape(self.shapes[k])
            for k, a, b in zip(self.names, self.offsets[:-1], self.offsets[1:])
        }
        self.read(arrays)

    @property
    def size(self) -> int:
        return self.vector.size

    def read(self, params: dict) -> None:
        """Copy the values of ``params`` into the vector."""
        for k in self.names:
            self.views[k][...] = params[k]

    def write(self, params: dict) -> None:
        """Copy the vector's values into ``params``: into its arrays in place where they are
        writeable float64 arrays of the right shape, as new arrays otherwise."""
        for k in self.names:
            target = params.get(k)
            if (
                isinstance(target, np.ndarray)
                and target.dtype == _F64
                and target.shape == self.shapes[k]
                and target.flags.writeable
            ):
                target[...] = self.views[k]
            else:
                params[k] = self.views[k].copy()

    def flatten_grads(self, grads: dict, out: np.ndarray) -> np.ndarray:
        """The gradient dict as one vector (written into ``out``) in the same layout."""
        return np.concatenate([np.ravel(grads[k]) for k in self.names], out=out)

    def as_dict(self) -> dict[str, np.ndarray]:
        """A copy of the parameters as a new dict of arrays."""
        return {k: v.copy() for k, v in self.views.items()}
