"""A model over data with its data bound: a function of theta alone, for minimize and classify.

``bind(fn, data)`` takes a DataFunction (``sb.compile(f, params, data=[...])``) and its data (a
dict name -> array, the names as str, Symbol or IndexedBase, or a tuple in the order given to
data=), and returns an object with ``fn(x)``, ``value_and_grad``, ``grad``, ``hessian`` and
``hvp`` of theta only. The data is checked by the model itself on the first call.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from ..errors import SymbackpropError


def is_data_function(fn) -> bool:
    """True for a compiled model over data (it has data names and parameter names)."""
    return hasattr(fn, "data_names") and hasattr(fn, "param_names") and callable(fn)


def is_data_expression(f) -> bool:
    """True for a SymPy expression that sums over or reads data (a Sum or an Indexed read)."""
    return isinstance(f, sp.Basic) and f.has(sp.Sum, sp.Indexed)


def data_name(key) -> str:
    """'t' for "t", Symbol t or IndexedBase t."""
    if isinstance(key, str):
        return key
    if isinstance(key, sp.IndexedBase):
        return str(key.label)
    if isinstance(key, sp.Symbol):
        return key.name
    raise SymbackpropError(f"data keys must be names, Symbols or IndexedBase; got {key!r}")


class BoundModel:
    """``fn`` with ``data`` bound (see the module docstring).

    >>> import numpy as np, sympy as sp, symbackprop as sb
    >>> i, N = sp.Symbol("i", integer=True), sp.Symbol("N", integer=True)
    >>> t, y, a = sp.IndexedBase("t"), sp.IndexedBase("y"), sp.Symbol("a")
    >>> fn = sb.compile(sp.Sum((y[i] - a * t[i]) ** 2, (i, 0, N - 1)), [a], data=[t, y])
    >>> m = bind(fn, {"t": [1.0, 2.0], y: [2.0, 4.0]})
    >>> m([1.0]), m.grad([1.0])
    (5.0, array([-10.]))
    """

    def __init__(self, fn, args: tuple, kwargs: dict):
        self.fn, self._args, self._kwargs = fn, args, kwargs
        self.n_inputs = fn.n_params
        self.input_names = tuple(fn.param_names)
        self.is_vector = fn.is_vector
        self.data_names = fn.data_names

    def __call__(self, x):
        return self.fn(x, *self._args, **self._kwargs)

    def value_and_grad(self, x):
        return self.fn.value_and_grad(x, *self._args, **self._kwargs)

    def grad(self, x):
        return self.fn.grad(x, *self._args, **self._kwargs)

    def hessian(self, x):
        return self.fn.hessian(x, *self._args, **self._kwargs)

    def hvp(self, x, v):
        return self.fn.hvp(x, v, *self._args, **self._kwargs)

    def __repr__(self) -> str:
        return f"<{self.fn!r} with its data ({', '.join(self.data_names)}) bound>"


def _array(value):
    """Lists become float arrays once (not at every call); arrays and others pass as given."""
    if isinstance(value, (list, tuple)):
        try:
            return np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError):
            return value  # the model's own check names the array and the problem
    return value


def bind(fn, data, what: str = "data") -> BoundModel:
    """``fn`` (a DataFunction) with ``data`` bound; errors name what is missing or extra."""
    if not is_data_function(fn):
        raise SymbackpropError(
            f"{what}= is for a model over data (sb.compile(f, params, data=[...])); "
            f"got {type(fn).__name__}"
        )
    if data is None:
        if fn.data_names:
            raise SymbackpropError(
                f"{fn!r} is a model over data: give {what}= (a dict name -> array, or a tuple "
                f"in the order {', '.join(fn.data_names)})"
            )
        return BoundModel(fn, (), {})
    if isinstance(data, dict):
        kwargs = {}
        for key, value in data.items():
            name = data_name(key)
            if name in kwargs:
                raise SymbackpropError(f"{what} gives {name} twice")
            kwargs[name] = _array(value)
        unknown = sorted(set(kwargs) - set(fn.data_names))
        if unknown:
            raise SymbackpropError(
                f"{what} has {', '.join(unknown)}, which the model does not read (its data: "
                f"{', '.join(fn.data_names) or 'none'})"
            )
        missing = [n for n in fn.data_names if n not in kwargs]
        if missing:
            raise SymbackpropError(f"{what} is missing {', '.join(missing)}")
        return BoundModel(fn, (), kwargs)
    if isinstance(data, (tuple, list)):
        if len(data) != len(fn.data_names):
            raise SymbackpropError(
                f"{what} has {len(data)} entries; the model reads {len(fn.data_names)} "
                f"({', '.join(fn.data_names)}), in that order"
            )
        return BoundModel(fn, tuple(_array(v) for v in data), {})
    raise SymbackpropError(
        f"{what} must be a dict name -> array or a tuple in the order "
        f"{', '.join(fn.data_names)}; got {type(data).__name__}"
    )
