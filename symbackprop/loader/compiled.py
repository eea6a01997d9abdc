"""Loads a generated module and wraps it: CompiledFunction validates input, maps errors to
SymbackpropError and exposes the contract's methods. Numba compiles each kernel on first use.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import time
from pathlib import Path

import numba  # noqa: F401  (imported with the loader: generated modules need it at once)

from ..cost import CostReport
from ..errors import SymbackpropError
from .cache import check_writable_target, write_atomic


def import_module(path: Path):
    """Import a generated module from its file (reusing it if this process already has it)."""
    name = f"symbackprop_generated.{path.stem}"
    module = sys.modules.get(name)
    if module is not None and getattr(module, "__file__", None) == str(path):
        return module
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


class CompiledFunction:
    """A function compiled by :func:`symbackprop.compile`.

    >>> import sympy as sp, symbackprop as sb
    >>> x, y = sp.symbols("x y")
    >>> fn = sb.compile(x**2 * y + y, [x, y])
    >>> fn([3.0, 2.0])
    20.0
    >>> fn.grad([3.0, 2.0])
    array([12., 10.])
    """

    def __init__(self, module, path: Path, seconds: dict[str, float] | None = None,
                 upgrade=None):
        self._m = module
        self.path = Path(path)
        self.n_inputs: int = module.N_INPUTS
        self.n_outputs: int | None = module.N_OUTPUTS
        self.input_names: tuple[str, ...] = module.INPUT_NAMES
        self._seconds = dict(seconds or {})
        # Builds the module with second derivatives: () -> (module, path, seconds).
        self._upgrade = upgrade

    def _second_order(self) -> None:
        if self._upgrade is None or self._m.SECOND_ORDER:
            return
        module, path, seconds = self._upgrade()
        self._m, self.path = module, Path(path)
        self._seconds.update({f"{k} (second order)": v for k, v in seconds.items()})
        self._upgrade = None

    @property
    def is_vector(self) -> bool:
        return self.n_outputs is not None

    def _run(self, name: str, *args):
        first = name not in self._seconds
        start = time.perf_counter() if first else 0.0
        try:
            result = getattr(self._m, name)(*args)
        except ValueError as exc:
            raise SymbackpropError(str(exc)) from None
        if first:
            self._seconds[name] = 0.0
            self._seconds[f"first {name}() (Numba compile or cache load)"] = (
                time.perf_counter() - start)
        return result

    def __call__(self, x):
        """f(x): a float (scalar f) or shape (m,) (vector f); a 2-D x gives one row per sample."""
        return self._run("value", x)

    def grad(self, x):
        """Gradient, shape (n,) or (batch, n)."""
        return self._run("grad", x)

    def value_and_grad(self, x):
        """(f(x), grad f(x)) from one forward and one reverse sweep."""
        return self._run("value_and_grad", x)

    def hessian(self, x):
        """Hessian, shape (n, n) or (batch, n, n); only its upper triangle's nonzeros are computed.

        Its code is generated on the first call (and cached like the rest).
        """
        self._second_order()
        return self._run("hessian", x)

    def hvp(self, x, v):
        """Hessian-vector product H(x) v, shape (n,) or (batch, n), without forming H."""
        self._second_order()
        return self._run("hvp", x, v)

    def jacobian(self, x):
        """Jacobian of a vector function, shape (m, n) or (batch, m, n)."""
        if not self.is_vector:
            raise SymbackpropError("jacobian is for vector functions (compile a list of "
                                   "expressions); use grad for a scalar function")
        return self._run("jacobian", x)

    @property
    def source(self) -> str:
        """The generated Python source (the complete module, second derivatives included)."""
        self._second_order()
        return self.path.read_text(encoding="utf-8")

    def save(self, path) -> Path:
        """Write the standalone module (needs only numpy and numba) to ``path``; returns it."""
        target = Path(path)
        if target.suffix != ".py":
            raise SymbackpropError(f"save path {target} must end in .py (it is a Python module)")
        check_writable_target(target)
        self._second_order()
        write_atomic(target, self.path.read_bytes())
        return target

    def cost(self) -> CostReport:
        """Operation counts before/after the passes, the gradient/value ratio, and the seconds
        each stage took in this process (generation stages, or "cache load"; first calls)."""
        report = CostReport.from_dict(self._m.COST)
        report.seconds = {k: v for k, v in self._seconds.items() if v}
        return report

    def __repr__(self) -> str:
        kind = f"{self.n_outputs} outputs" if self.is_vector else "scalar"
        return (f"<CompiledFunction {kind} of ({', '.join(self.input_names)}) "
                f"from {os.path.basename(self.path)}>")
