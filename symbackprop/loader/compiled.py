"""Loads a generated module and wraps it: CompiledFunction validates input, maps errors to
SymbackpropError and exposes the contract's methods. Numba compiles each kernel on first use.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

import numba  # noqa: F401  (imported with the loader: generated modules need it at once)
import numpy as np
from numba.core import event

from ..cost import CostReport
from ..errors import SymbackpropError
from ..limits import check_dense_hessian, hessian_batch
from ..printer.module import STAGE_SECONDS_PLACEHOLDER
from . import files, kernels
from .cache import Entry


def import_module(entry: Entry):
    """Run a cache entry as module ``symbackprop_generated.<name>`` (reusing it if this process
    already has it), from the code that was checked, and give its kernels symbackprop's own
    Numba cache (kernels.py)."""
    name = f"symbackprop_generated.{entry.path.stem}"
    module = sys.modules.get(name)
    if module is not None and getattr(module, "__file__", None) == str(entry.path):
        return module
    loader = _EntryLoader(entry)
    spec = importlib.util.spec_from_file_location(name, entry.path, loader=loader)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # Numba finds a kernel's globals through its module's name
    try:
        loader.exec_module(module)
        kernels.attach(module, entry)
    except BaseException:
        del sys.modules[name]
        raise
    return module


class _EntryLoader(importlib.abc.InspectLoader):
    """Runs an entry's checked code, not whatever its file holds by now (or the file's absence,
    after a cache clear); tracebacks and :func:`module_source` read the same text."""

    def __init__(self, entry: Entry):
        self._entry = entry

    def get_code(self, fullname):
        return self._entry.code

    def get_source(self, fullname):
        return self._entry.source.decode("utf-8")

    def is_package(self, fullname):
        return False


def module_source(module) -> str:
    """The source a generated module was run from (its file may be gone: a cache clear).

    >>> import sympy as sp, symbackprop as sb
    >>> x = sp.Symbol("x")
    >>> "def _value(xs):" in module_source(sb.compile(x**2, [x])._first)
    True
    """
    return module.__loader__.get_source(module.__name__)


class _NumbaCompileTimes(event.Listener):
    """Seconds Numba spends compiling, per generated module (Numba's own event API), so the
    cost report shows compile time without any bookkeeping on the call path."""

    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)
        self._starts: list[float] = []

    def on_start(self, ev):
        self._starts.append(time.perf_counter())

    def on_end(self, ev):
        start = self._starts.pop()
        if not self._starts:  # count the outermost compile only (it includes callees)
            module = getattr(ev.data.get("dispatcher"), "py_func", None)
            self.seconds[getattr(module, "__module__", "?")] += time.perf_counter() - start


NUMBA_COMPILE_TIMES = _NumbaCompileTimes()
event.register("numba:compile", NUMBA_COMPILE_TIMES)

_NDARRAY = np.ndarray
_F64 = np.dtype(np.float64)




def saved_text(module, report: CostReport) -> bytes:
    """The source of generated ``module`` with the placeholder replaced by ``report``'s stage
    seconds."""
    stages = ", ".join(f"{k} {v:.3f}" for k, v in report.seconds.items()) or "none recorded"
    text = module_source(module).replace(STAGE_SECONDS_PLACEHOLDER, stages, 1)
    return text.encode("utf-8")


def checked_call(function, *args):
    """A generated module's validating entry point; its ValueError becomes SymbackpropError,
    and so does a TypeError (an input NumPy cannot read as numbers, such as a SymPy symbol)."""
    try:
        return function(*args)
    except ValueError as exc:
        raise SymbackpropError(str(exc)) from None
    except TypeError as exc:
        raise SymbackpropError(f"inputs must be arrays of numbers: {exc}") from None


def cost_report(first, full, seconds: dict[str, float]) -> CostReport:
    """The cost report of a compiled object: the module's operation counts, this process's
    stage seconds and the Numba compile time of its modules."""
    report = CostReport.from_dict((full or first).COST)
    report.seconds = {k: v for k, v in seconds.items() if v}
    numba_seconds = sum(
        NUMBA_COMPILE_TIMES.seconds.get(m.__name__, 0.0) for m in {first, full or first}
    )
    if numba_seconds:
        report.seconds["numba compile"] = numba_seconds
    return report


class CompiledFunction:
    """A function compiled by :func:`symbackprop.compile`.

    >>> import sympy as sp, symbackprop as sb
    >>> x, y = sp.symbols("x y")
    >>> fn = sb.compile(x**2 * y + y, [x, y])
    >>> fn([3.0, 2.0])
    20.0
    >>> fn.grad([3.0, 2.0])
    array([12., 10.])

    Calls with a float64 array of shape (n,) go straight to the Numba kernel; anything else
    goes through the module's validating entry point (lists, other dtypes, batches).
    """

    def __init__(self, module, path: Path, seconds: dict[str, float] | None = None, upgrade=None):
        self._first = module  # value and first derivatives (kept: it is already compiled)
        self._full = module if (module.SECOND_ORDER or upgrade is None) else None
        self._path = Path(path)
        self.n_inputs: int = module.N_INPUTS
        self.n_outputs: int | None = module.N_OUTPUTS
        self.input_names: tuple[str, ...] = module.INPUT_NAMES
        shape = (self.n_inputs,)
        # Shapes taking the fast path: scalar-only methods (grad, hessian, hvp) never match for a
        # vector function, whose module entry points then say why.
        self._shape, self._scalar_shape = shape, (None if self.n_outputs is not None else shape)
        self._seconds = dict(seconds or {})
        # Builds the module with second derivatives: () -> (module, path, seconds).
        self._upgrade = upgrade
        self._value = module._value
        self._hessian = self._hvp = None  # the second-order kernels, once they exist
        if module.SECOND_ORDER:
            self._hessian, self._hvp = module._hessian, module._hvp
        self._grad = getattr(module, "_grad", None)
        self._value_and_grad = getattr(module, "_value_and_grad", None)
        self._jacobian = getattr(module, "_jacobian", None)

    @property
    def is_vector(self) -> bool:
        return self.n_outputs is not None

    @property
    def path(self) -> Path:
        """The generated module's file (the complete one once second derivatives exist)."""
        return self._path

    def _second_order(self):
        """The complete module, generating it on first use (a vector function's is the first)."""
        if self._full is None:
            module, path, seconds = self._upgrade()
            self._full, self._path = module, Path(path)
            self._hessian, self._hvp = module._hessian, module._hvp
            self._seconds.update({f"{k} (second order)": v for k, v in seconds.items()})
        return self._full

    def __call__(self, x):
        """f(x): a float (scalar f) or shape (m,) (vector f); a 2-D x gives one row per sample."""
        if type(x) is _NDARRAY and x.dtype is _F64 and x.shape == self._shape:
            return self._value(x)
        return checked_call(self._first.value, x)

    def grad(self, x):
        """Gradient, shape (n,) or (batch, n)."""
        if type(x) is _NDARRAY and x.dtype is _F64 and x.shape == self._scalar_shape:
            return self._grad(x)
        return checked_call(self._first.grad, x)

    def value_and_grad(self, x):
        """(f(x), grad f(x)) from one forward and one reverse sweep."""
        if type(x) is _NDARRAY and x.dtype is _F64 and x.shape == self._scalar_shape:
            return self._value_and_grad(x)
        return checked_call(self._first.value_and_grad, x)

    def hessian(self, x):
        """Hessian, shape (n, n) or (batch, n, n); only its upper triangle's nonzeros are computed.

        Its code is generated on the first call (and cached like the rest).
        """
        if type(x) is _NDARRAY and x.dtype is _F64 and x.shape == self._scalar_shape:
            if self._hessian is None:  # refuse an impossible size before generating code
                check_dense_hessian(x.size, "hessian")
            self._second_order()
            return self._hessian(x)
        check_dense_hessian(self.n_inputs, "hessian", hessian_batch(x))
        return checked_call(self._second_order().hessian, x)

    def hvp(self, x, v):
        """Hessian-vector product H(x) v, shape (n,) or (batch, n), without forming H."""
        self._second_order()
        if (
            type(x) is _NDARRAY
            and x.dtype is _F64
            and x.shape == self._scalar_shape
            and type(v) is _NDARRAY
            and v.dtype is _F64
            and v.shape == x.shape
        ):
            return self._hvp(x, v)
        return checked_call(self._second_order().hvp, x, v)

    def jacobian(self, x):
        """Jacobian of a vector function, shape (m, n) or (batch, m, n)."""
        if not self.is_vector:
            raise SymbackpropError(
                "jacobian is for vector functions (compile a list of "
                "expressions); use grad for a scalar function"
            )
        if type(x) is _NDARRAY and x.dtype is _F64 and x.shape == self._shape:
            return self._jacobian(x)
        return checked_call(self._first.jacobian, x)

    @property
    def source(self) -> str:
        """The generated Python source: the complete module, second derivatives included
        (generating them on first access)."""
        return module_source(self._second_order())

    def save(self, path) -> Path:
        """Write the standalone module (needs only numpy and numba) to ``path``; returns it."""
        target = files.target(path, ".py")
        self._second_order()
        with files.replacing(target) as fh:
            fh.write(saved_text(self._full, self.cost()))
        return target

    def cost(self) -> CostReport:
        """Operation counts before/after the passes, the gradient/value ratio, and the seconds
        each stage took in this process (generation or "cache load", and Numba compiling)."""
        return cost_report(self._first, self._full, self._seconds)

    def __repr__(self) -> str:
        kind = f"{self.n_outputs} outputs" if self.is_vector else "scalar"
        return (
            f"<CompiledFunction {kind} of ({', '.join(self.input_names)}) "
            f"from {os.path.basename(self._path)}>"
        )
