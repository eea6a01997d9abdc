"""symbackprop: symbolic differentiation compiled to Numba.

SymPy expressions (or networks of layers) become an IR graph; reverse-mode rules derive
gradients, Hessians and Jacobians; optimizer passes simplify; a printer emits Numba source
that runs in process or is saved as a standalone module.

>>> import sympy as sp, symbackprop as sb
>>> x, y = sp.symbols("x y")
>>> sb.grad(x**2 * y + y, [x, y])
Matrix([
[   2*x*y],
[x**2 + 1]])
"""

__version__ = "0.1.0"

from .analysis.check import check_derivative, check_gradient
from .analysis.critical import CriticalPoint, classify, classify_network, critical_points
from .analysis.explain import explain, plot_spectrum
from .errors import SymbackpropError
from .frontend.functions import elu, hardtanh, leaky_relu, relu, sigmoid, softplus
from .frontend.network import Dense, Maxout
from .loader.compiled import CompiledFunction
from .loader.model import CompiledNetwork
from .networks import Sequential
from .pipeline import compile
from .symbolic import grad, hessian, jacobian
from .training import (
    SGD,
    Adadelta,
    Adagrad,
    Adam,
    AdamW,
    NonFiniteError,
    RMSprop,
    evaluate,
    fit,
    load_params,
    minimize,
    predict,
    save_params,
)

__all__ = [
    "SymbackpropError",
    "CompiledFunction",
    "compile",
    "grad",
    "hessian",
    "jacobian",
    "sigmoid",
    "softplus",
    "relu",
    "leaky_relu",
    "elu",
    "hardtanh",
    "__version__",
    "Sequential",
    "Dense",
    "Maxout",
    "CompiledNetwork",
    "check_derivative",
    "check_gradient",
    "critical_points",
    "classify",
    "classify_network",
    "CriticalPoint",
    "explain",
    "plot_spectrum",
    "minimize",
    "fit",
    "predict",
    "evaluate",
    "save_params",
    "load_params",
    "NonFiniteError",
    "SGD",
    "RMSprop",
    "Adagrad",
    "Adadelta",
    "Adam",
    "AdamW",
]
