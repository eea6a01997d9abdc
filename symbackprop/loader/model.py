"""CompiledNetwork: a generated network module behind the contract's dict-of-arrays interface.

Parameters are validated against the network's names and shapes before anything enters
Numba; errors become SymbackpropError naming the key, shape or array at fault.
"""

from __future__ import annotations

import operator
from pathlib import Path

import numpy as np

from ..cost import CostReport
from ..errors import SymbackpropError
from ..limits import check_dense_hessian
from . import files
from .compiled import _F64, checked_call, cost_report, module_source, saved_text

_NO_Y = object()  # forward() passes no Y; None is a Y, and a wrong one
_REFUSED = object()  # the fast path declined: validate (and convert) instead


class CompiledNetwork:
    """A network compiled by ``Sequential.compile()``.

    >>> import numpy as np, symbackprop as sb
    >>> net = sb.Sequential(inputs=2, layers=[sb.Dense(2, "tanh"), sb.Dense(1)], loss="mse")
    >>> model = net.compile()
    >>> params = net.init_params(seed=0)
    >>> model.forward(params, np.zeros((3, 2))).shape
    (3, 1)
    """

    def __init__(self, module, path: Path, seconds: dict[str, float], upgrade=None):
        self._first = module  # forward and gradient (kept: it is already compiled)
        self._full = module if module.SECOND_ORDER else None
        self.path = Path(path)
        self.param_names: tuple[str, ...] = module.PARAM_NAMES
        self.param_shapes: dict[str, tuple[int, ...]] = dict(
            zip(module.PARAM_NAMES, module.PARAM_SHAPES)
        )
        self._seconds = dict(seconds)
        self._upgrade = upgrade  # () -> (module, path, seconds) with the Hessian code
        self._forward, self._loss_and_grad = module._forward, module._loss_and_grad
        self._n_params = len(self.param_names)
        take = operator.itemgetter(*self.param_names)
        self._take = take if len(self.param_names) > 1 else (lambda p: (take(p),))
        self.task: str = module.TASK  # what predict() returns: "classes", "binary" or "raw"
        # prelu's alpha is one number in the kernels: its gradient comes back as a float.
        self._scalar_grads = list(module.SCALAR_PARAMS)
        # Dimensions the kernels were compiled for: params, then X and Y (Numba would try to
        # compile another version for any other, and fail with a typing error).
        self._ndims = tuple(len(s) for s in module.PARAM_SHAPES) + (2, 2)
        self._sealed: set = set()  # kernels that compile no new signature (see _fast)
        self._parallel_rows = module.PARALLEL_ROWS  # from here a batch is split (see _large)

    def _second_order(self):
        if self._full is None:
            module, path, seconds = self._upgrade()
            self._full, self.path = module, Path(path)
            self._seconds.update({f"{k} (second order)": v for k, v in seconds.items()})
        return self._full

    def _large(self, X) -> bool:
        """True for a batch the module splits across threads (from PARALLEL_ROWS rows): a
        call long enough that the validating path's cost does not show."""
        rows = self._parallel_rows
        return type(X) is np.ndarray and X.ndim == 2 and 0 < rows <= X.shape[0]

    def _fast(self, kernel, params, X, Y=_NO_Y):
        """kernel(*params, X[, Y]) on the arrays as they are, or _REFUSED when they need the
        validating path (a conversion, a split across threads, or an error naming what is
        wrong).

        Once a kernel has run on the contract's arrays it compiles no other signature
        (Numba's disable_compile): arrays of another dtype, dimension, layout or writability
        then raise TypeError instead of starting a compilation, so later calls check nothing
        in Python. Sizes are checked inside the kernels, which raise ValueError."""
        if type(params) is not dict or len(params) != self._n_params:
            return _REFUSED
        try:
            args = self._take(params) + ((X,) if Y is _NO_Y else (X, Y))
        except (KeyError, TypeError):
            return _REFUSED
        sealed = kernel in self._sealed
        if not sealed and not all(
            type(a) is np.ndarray
            and a.dtype is _F64
            and a.ndim == ndim
            and a.flags.c_contiguous
            and a.flags.writeable
            for a, ndim in zip(args, self._ndims)
        ):
            return _REFUSED
        try:
            out = kernel(*args)
        except (TypeError, ValueError):
            return _REFUSED
        if not sealed:
            kernel.disable_compile()
            self._sealed.add(kernel)
        return out

    def _arrays(self, params) -> list[np.ndarray]:
        if not isinstance(params, dict):
            raise SymbackpropError(
                f"params must be a dict of arrays keyed "
                f"{', '.join(self.param_names)}; got {type(params).__name__}"
            )
        missing = [k for k in self.param_names if k not in params]
        if missing:
            raise SymbackpropError(
                f"params is missing {', '.join(missing)} (expected keys "
                f"{', '.join(self.param_names)})"
            )
        unknown = [k for k in params if k not in self.param_shapes]
        if unknown:
            raise SymbackpropError(
                f"params has unknown key(s) {', '.join(map(str, unknown))}; "
                f"expected {', '.join(self.param_names)}"
            )
        arrays = []
        for name in self.param_names:
            try:
                value = np.ascontiguousarray(params[name], dtype=np.float64)
            except (TypeError, ValueError):
                raise SymbackpropError(f"parameter {name} is not a float array") from None
            if value.shape != self.param_shapes[name]:
                raise SymbackpropError(
                    f"parameter {name} must have shape {self.param_shapes[name]}; got {value.shape}"
                )
            arrays.append(value)
        return arrays

    def forward(self, params, X) -> np.ndarray:
        """Y_hat, shape (m, outputs), for X of shape (m, inputs)."""
        out = _REFUSED if self._large(X) else self._fast(self._forward, params, X)
        if out is not _REFUSED:
            return out
        return checked_call(self._first.forward, *self._arrays(params), X)

    def loss(self, params, X, Y) -> float:
        """The loss: the batch mean of the per-sample loss (plus the L2 term)."""
        return checked_call(self._first.loss, *self._arrays(params), X, Y)

    def loss_and_grad(self, params, X, Y) -> tuple[float, dict[str, np.ndarray]]:
        """(loss, gradient dict with params' keys and shapes) from one forward and one
        reverse sweep."""
        out = _REFUSED if self._large(X) else self._fast(self._loss_and_grad, params, X, Y)
        if out is _REFUSED:
            out = checked_call(self._first.loss_and_grad, *self._arrays(params), X, Y)
            return out[0], dict(zip(self.param_names, out[1:]))
        grads = dict(zip(self.param_names, out[1:]))
        if self._scalar_grads:
            for name in self._scalar_grads:
                grads[name] = np.array([grads[name]])
        return out[0], grads

    def hessian(self, params, X, Y) -> np.ndarray:
        """The exact (P, P) Hessian over all parameters, flattened C-order in the order of
        ``init_params``; its code is generated on the first call."""
        if self._full is None:  # refuse an impossible size before generating code
            size = sum(int(np.prod(shape)) for shape in self.param_shapes.values())
            check_dense_hessian(size, "model.hessian")
        module = self._second_order()
        out = self._fast(module._hessian, params, X, Y)
        if out is not _REFUSED:
            return out
        return checked_call(module.hessian, *self._arrays(params), X, Y)

    # Training (symbackprop/training/fit.py sits above the loader: imported when used).
    def fit(self, params, X, Y, **options):
        """Train ``params`` in place with minibatches; see :func:`symbackprop.training.fit`."""
        from ..training.fit import fit

        return fit(self, params, X, Y, **options)

    def predict(self, params, X, **options) -> np.ndarray:
        """Class indices (or 0/1, or raw outputs, by ``self.task``) for the rows of X."""
        from ..training.fit import predict

        return predict(self, params, X, **options)

    def evaluate(self, params, X, Y, **options) -> dict:
        """{"loss": ..., "accuracy": ...} over X, Y."""
        from ..training.fit import evaluate

        return evaluate(self, params, X, Y, **options)

    @property
    def source(self) -> str:
        """The generated module's source (Hessian code included)."""
        return module_source(self._second_order())

    def save(self, path) -> Path:
        """Write the standalone module (needs only numpy and numba) to ``path``."""
        target = files.target(path, ".py")
        self._second_order()
        with files.replacing(target) as fh:
            fh.write(saved_text(self._full, self.cost()))
        return target

    def cost(self) -> CostReport:
        """Operation counts of the generated functions and seconds per stage in this process."""
        return cost_report(self._first, self._full, self._seconds)
