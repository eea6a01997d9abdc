"""SymPy functions symbackprop adds, and the named activations as SymPy Lambdas.

``sigmoid`` and ``softplus`` are real SymPy functions (SymPy differentiates them, ``evalf``
works) that compile to the stable primitives of the same name.
"""

from __future__ import annotations

import sympy as sp


class sigmoid(sp.Function):
    """The logistic function 1 / (1 + exp(-x)).

    >>> import sympy as sp
    >>> x = sp.Symbol("x")
    >>> sp.diff(sigmoid(x), x)
    (1 - sigmoid(x))*sigmoid(x)
    >>> sigmoid(0)
    1/2
    """

    @classmethod
    def eval(cls, x):
        if x.is_zero:
            return sp.Rational(1, 2)
        if x.is_Number and x.is_finite is False:
            return sp.Integer(1) if x.is_positive else sp.Integer(0)
        return None

    def fdiff(self, argindex=1):
        s = sigmoid(self.args[0])
        return s * (1 - s)

    def _eval_rewrite_as_exp(self, x, **kwargs):
        return 1 / (1 + sp.exp(-x))

    def _eval_evalf(self, prec):
        return self.rewrite(sp.exp)._eval_evalf(prec)

    def _eval_is_real(self):
        return self.args[0].is_real


class softplus(sp.Function):
    """log(1 + exp(x)), compiled with the overflow-free formula max(x, 0) + log1p(exp(-|x|)).

    >>> import sympy as sp
    >>> x = sp.Symbol("x")
    >>> sp.diff(softplus(x), x)
    sigmoid(x)
    """

    @classmethod
    def eval(cls, x):
        if x.is_zero:
            return sp.log(2)
        return None

    def fdiff(self, argindex=1):
        return sigmoid(self.args[0])

    def _eval_rewrite_as_exp(self, x, **kwargs):
        return sp.log(1 + sp.exp(x))

    def _eval_rewrite_as_log(self, x, **kwargs):
        return sp.log(1 + sp.exp(x))

    def _eval_evalf(self, prec):
        return self.rewrite(sp.exp)._eval_evalf(prec)

    def _eval_is_real(self):
        return self.args[0].is_real


_z = sp.Symbol("z", real=True)

# Element-wise activations (softmax is row-wise and lives with the network layers).
ACTIVATIONS: dict[str, sp.Lambda] = {
    "linear": sp.Lambda(_z, _z),
    "sigmoid": sp.Lambda(_z, sigmoid(_z)),
    "tanh": sp.Lambda(_z, sp.tanh(_z)),
    "relu": sp.Lambda(_z, sp.Max(0, _z)),
    "leaky_relu": sp.Lambda(_z, sp.Piecewise((_z, _z > 0), (sp.Rational(1, 100) * _z, True))),
    "elu": sp.Lambda(_z, sp.Piecewise((_z, _z > 0), (sp.exp(_z) - 1, True))),
    "softplus": sp.Lambda(_z, softplus(_z)),
    "hardtanh": sp.Lambda(_z, sp.Min(1, sp.Max(-1, _z))),
    "abs": sp.Lambda(_z, sp.Abs(_z)),
}


def relu(x):
    """max(0, x) as a SymPy expression; its derivative at 0 is 0 (ties go to the 0).

    >>> import sympy as sp
    >>> relu(sp.Symbol("x"))
    Max(0, x)
    """
    return ACTIVATIONS["relu"](x)


def leaky_relu(x, alpha=sp.Rational(1, 100)):
    """x if x > 0 else alpha*x (the notes' max(alpha x, x)).

    >>> import sympy as sp
    >>> leaky_relu(sp.Integer(-2))
    -1/50
    """
    return sp.Piecewise((x, x > 0), (alpha * x, True))


def elu(x, alpha=1):
    """x if x > 0 else alpha*(exp(x) - 1).

    >>> import sympy as sp
    >>> elu(sp.Integer(2))
    2
    """
    return sp.Piecewise((x, x > 0), (alpha * (sp.exp(x) - 1), True))


def hardtanh(x):
    """min(1, max(-1, x)).

    >>> import sympy as sp
    >>> hardtanh(sp.Integer(5))
    1
    """
    return sp.Min(1, sp.Max(-1, x))
