"""DataFunction: a compiled model over data, called as ``fn(theta, t=..., y=...)``.

Data is passed by keyword or positionally after theta (after ``v`` for hvp), in the order it
was given to sb.compile. The generated module checks it (dimensions, the lengths an index ties
together, reads out of range) before any kernel runs; its errors become SymbackpropError.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..cost import CostReport
from ..errors import SymbackpropError
from ..limits import check_dense_hessian
from . import files
from .compiled import cost_report, module_source, saved_text


class DataFunction:
    """A model compiled with ``sb.compile(f, params, data=[...])``.

    >>> import numpy as np, sympy as sp, symbackprop as sb
    >>> i, N = sp.Symbol("i", integer=True), sp.Symbol("N", integer=True)
    >>> t, y = sp.IndexedBase("t"), sp.IndexedBase("y")
    >>> a, b = sp.symbols("a b")
    >>> fn = sb.compile(sp.Sum((y[i] - a * t[i] - b) ** 2, (i, 0, N - 1)), [a, b], data=[t, y])
    >>> fn([2.0, 1.0], t=[0.0, 1.0, 2.0], y=[1.0, 3.0, 6.0])
    1.0
    >>> fn.grad([2.0, 1.0], [0.0, 1.0, 2.0], [1.0, 3.0, 6.0])
    array([-4., -2.])
    """

    def __init__(self, module, path, seconds):
        self._m = module
        self._path = Path(path)
        self._seconds = dict(seconds or {})
        self.param_names: tuple[str, ...] = module.PARAM_NAMES
        self.data_names: tuple[str, ...] = module.DATA_NAMES
        self.n_params: int = module.N_PARAMS
        self.n_outputs: int | None = module.N_OUTPUTS
        self.rows: str | None = module.ROWS
        self._vector = self.is_vector

    @property
    def is_vector(self) -> bool:
        """True for a vector model or per-row residuals (they have a Jacobian, no gradient)."""
        return self.n_outputs is not None or self.rows is not None

    def _data(self, method: str, args: tuple, kwargs: dict) -> tuple:
        """The data in the module's order, from positional and keyword arguments."""
        names = self.data_names
        if len(args) > len(names):
            raise SymbackpropError(
                f"{method} takes {len(names)} data argument(s) ({', '.join(names) or 'none'}) "
                f"after theta; got {len(args)}"
            )
        given = dict(zip(names, args))
        for name, value in kwargs.items():
            if name not in names:
                raise SymbackpropError(
                    f"{method}: unexpected data {name!r}; the data are {', '.join(names) or 'none'}"
                )
            if name in given:
                raise SymbackpropError(f"{method}: data {name} is given twice")
            given[name] = value
        missing = [n for n in names if n not in given]
        if missing:
            raise SymbackpropError(
                f"{method}: missing data {', '.join(missing)} (the data are {', '.join(names)})"
            )
        return tuple(given[n] for n in names)

    def _scalar_only(self, method: str) -> None:
        if self._vector:
            raise SymbackpropError(
                f"{method} is for a scalar model; this one has a Jacobian (fn.jacobian)"
            )

    def __call__(self, theta, *data, threads=None, **named):
        """The value: a float, or (M,) for a vector model, or (N,) residuals with rows=.
        ``threads`` bounds the threads a large loop runs on (default: $SYMBACKPROP_THREADS, else
        Numba's thread count); every method takes it."""
        return self._run("fn", self._m.value, (theta,), data, named, threads)

    def _run(self, method, function, head, data, named, threads):
        if named or len(data) != len(self.data_names):  # positional data is the fast case
            data = self._data(method, data, named)
        try:
            return function(*head, *data, threads=threads)
        except ValueError as exc:
            raise SymbackpropError(str(exc)) from None
        except TypeError as exc:
            raise SymbackpropError(f"inputs must be arrays of numbers: {exc}") from None

    def grad(self, theta, *data, threads=None, **named):
        """The gradient with respect to the parameters, shape (P,)."""
        self._scalar_only("grad")
        return self._run("grad", self._m.grad, (theta,), data, named, threads)

    def value_and_grad(self, theta, *data, threads=None, **named):
        """(value, gradient) from one loop per sum."""
        self._scalar_only("value_and_grad")
        return self._run("value_and_grad", self._m.value_and_grad, (theta,), data, named, threads)

    def hessian(self, theta, *data, threads=None, **named):
        """The (P, P) Hessian with respect to the parameters."""
        self._scalar_only("hessian")
        check_dense_hessian(self.n_params, "hessian")
        return self._run("hessian", self._m.hessian, (theta,), data, named, threads)

    def hvp(self, theta, v, *data, threads=None, **named):
        """The Hessian-vector product H v, shape (P,), without forming H."""
        self._scalar_only("hvp")
        return self._run("hvp", self._m.hvp, (theta, v), data, named, threads)

    def jacobian(self, theta, *data, threads=None, **named):
        """(M, P) for a vector model, (N, P) for per-row residuals."""
        if not self.is_vector:
            raise SymbackpropError(
                "jacobian is for vector models and per-row residuals (rows=); use grad"
            )
        return self._run("jacobian", self._m.jacobian, (theta,), data, named, threads)

    @property
    def path(self) -> Path:
        return self._path

    @property
    def source(self) -> str:
        """The generated Python source."""
        return module_source(self._m)

    def save(self, path) -> Path:
        """Write the standalone module (value(theta, data...), ...) to ``path``; returns it."""
        target = files.target(path, ".py")
        with files.replacing(target) as fh:
            fh.write(saved_text(self._m, self.cost()))
        return target

    def cost(self) -> CostReport:
        """Operation counts per generated loop and outer function, and stage seconds."""
        return cost_report(self._m, None, self._seconds)

    def __repr__(self) -> str:
        data = ", ".join(self.data_names)
        return (
            f"<DataFunction of ({', '.join(self.param_names)}) over data ({data}) "
            f"from {os.path.basename(self._path)}>"
        )
