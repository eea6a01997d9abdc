"""Training and minimisation with generated gradients: optimizers over one flat parameter
vector, ``minimize`` for compiled scalar functions, and ``fit``/``predict``/``evaluate`` for
compiled networks.

>>> from symbackprop.training import Adam
>>> Adam()
Adam(lr=0.001, betas=(0.9, 0.999), eps=1e-08, weight_decay=0.0, amsgrad=False)
"""

from .fit import History, evaluate, fit, load_params, predict, save_params
from .minimize import STOP_REASONS, MinimizeResult, NonFiniteError, minimize
from .optimizers import (
    OPTIMIZERS,
    SGD,
    Adadelta,
    Adagrad,
    Adam,
    AdamW,
    FlatParams,
    Optimizer,
    RMSprop,
    make_optimizer,
)

__all__ = [
    "fit",
    "predict",
    "evaluate",
    "History",
    "save_params",
    "load_params",
    "minimize",
    "MinimizeResult",
    "NonFiniteError",
    "STOP_REASONS",
    "Optimizer",
    "SGD",
    "RMSprop",
    "Adagrad",
    "Adadelta",
    "Adam",
    "AdamW",
    "OPTIMIZERS",
    "make_optimizer",
    "FlatParams",
]
