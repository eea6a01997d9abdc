"""Scalar front end: SymPy expressions -> IR nodes over ``input`` leaves.

Takes expressions, the variables (read from array ``x``) and numeric constants; returns one IR
node per expression. Traversal is iterative, so deep expressions do not hit Python's recursion
limit; anything the IR cannot express raises SymbackpropError naming it before any code exists.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence

import numpy as np
import sympy as sp

from ..errors import SymbackpropError
from ..ir.node import Node, const, input_, make
from . import functions as fn

# fmt: off
_UNARY_FUNCTIONS = {
    sp.exp: "exp", sp.log: "log", sp.sin: "sin", sp.cos: "cos", sp.tan: "tan",
    sp.asin: "asin", sp.acos: "acos", sp.atan: "atan",
    sp.sinh: "sinh", sp.cosh: "cosh", sp.tanh: "tanh",
    sp.asinh: "asinh", sp.acosh: "acosh", sp.atanh: "atanh",
    sp.Abs: "abs", sp.sign: "sign", sp.erf: "erf", sp.erfc: "erfc",
    fn.sigmoid: "sigmoid", fn.softplus: "softplus",
}
# fmt: on

# Reciprocal functions: f(x) = 1 / g(x), or f(x) = g(1 / x) for the inverse ones.
_RECIPROCAL = {
    sp.cot: "tan",
    sp.sec: "cos",
    sp.csc: "sin",
    sp.coth: "tanh",
    sp.sech: "cosh",
    sp.csch: "sinh",
}
_OF_RECIPROCAL = {sp.acot: "atan", sp.asec: "acos", sp.acsc: "asin", sp.acoth: "atanh"}

_COMPOUND = (sp.Max, sp.Min, sp.And, sp.Or, sp.Not, sp.Heaviside, sp.atan2, sp.Piecewise, sp.ITE)

_RELATIONS = {
    sp.StrictLessThan: "lt",
    sp.LessThan: "le",
    sp.StrictGreaterThan: "gt",
    sp.GreaterThan: "ge",
    sp.Equality: "eq",
    sp.Unequality: "ne",
}

ONE = const(1.0)


def variable_nodes(variables: Sequence[sp.Symbol], array: str = "xs") -> list[Node]:
    """One ``input`` leaf per variable, reading ``array[i]`` and named like the symbol."""
    return [input_(array, i, str(v)) for i, v in enumerate(variables)]


def to_ir(
    exprs: Sequence[sp.Basic],
    leaves: Mapping[sp.Symbol, Node],
    constants: Mapping[sp.Symbol, float] | None = None,
) -> list[Node]:
    """Convert SymPy expressions to IR nodes; ``leaves`` maps each variable to its leaf.

    >>> import sympy as sp
    >>> from symbackprop.ir.node import input_
    >>> x = sp.Symbol("x")
    >>> to_ir([sp.exp(2 * x) / x], {x: input_("x", 0, "x")})
    [div(exp(mul(2.0, x)), x)]
    """
    symbols: dict[sp.Basic, Node] = dict(leaves)
    for sym, value in (constants or {}).items():
        symbols[sym] = const(value)
    memo: dict[sp.Basic, Node] = {}
    return [_convert(e, symbols, memo) for e in exprs]


def _convert(root: sp.Basic, symbols, memo) -> Node:
    # Post-order walk with an explicit stack: children first, then the node itself.
    stack = [(root, False)]
    while stack:
        expr, children_done = stack.pop()
        if expr in memo:
            continue
        if not children_done:
            _check_supported(expr)  # before its arguments: name the Derivative, not its Tuple
        children = _children(expr)
        if children_done or not children:
            memo[expr] = _node_for(expr, [memo[c] for c in children], symbols)
        else:
            stack.append((expr, True))
            stack.extend((c, False) for c in children if c not in memo)
    return memo[root]


# SymPy's infinities are symbolic limits, not numbers an expression can be evaluated at.
_INFINITIES = {
    sp.oo: "the infinite value oo",
    -sp.oo: "the infinite value -oo",
    sp.zoo: "the infinite value zoo (complex infinity, e.g. from a division by zero)",
}


def _check_supported(expr: sp.Basic) -> None:
    if expr.is_Atom:
        if expr in _INFINITIES:
            raise SymbackpropError(
                f"cannot compile {_INFINITIES[expr]}: the expression must be finite "
                "(SymPy's infinities are limits, not float64 values)"
            )
        if (
            expr.is_Symbol
            or expr.is_Number
            or expr.is_NumberSymbol
            or isinstance(expr, sp.logic.boolalg.BooleanAtom)
        ):
            return
        raise SymbackpropError(
            f"cannot compile {expr} ({type(expr).__name__}): arrays are "
            "float64, so complex and other non-real atoms are not supported"
        )
    if expr.is_Add or expr.is_Mul or expr.is_Pow:
        return
    kind = type(expr)
    if (
        kind in _UNARY_FUNCTIONS
        or kind in _RECIPROCAL
        or kind in _OF_RECIPROCAL
        or kind in _RELATIONS
        or isinstance(expr, _COMPOUND)
    ):
        return
    name = getattr(kind, "__name__", str(kind))
    raise SymbackpropError(
        f"cannot compile SymPy {name} (in {expr}): it has no IR primitive; rewrite it with "
        "supported functions (exp, log, powers, trig, hyperbolic, Abs, sign, Max/Min, "
        "Heaviside, Piecewise, erf, sigmoid, softplus)"
    )


def _children(expr: sp.Basic) -> tuple:
    if isinstance(expr, sp.Piecewise):
        return tuple(x for pair in expr.args for x in pair.args)
    if expr.is_Atom:
        return ()
    return expr.args


def _fold(op: str, nodes: list[Node]) -> Node:
    result = nodes[0]
    for n in nodes[1:]:
        result = make(op, result, n)
    return result


def _node_for(expr: sp.Basic, args: list[Node], symbols) -> Node:
    if expr.is_Symbol:
        if expr not in symbols:
            raise SymbackpropError(
                f"free symbol {expr} is neither a variable nor a constant; pass it in the "
                f"variables or give its value with constants={{{expr}: ...}}"
            )
        return symbols[expr]
    if isinstance(expr, sp.logic.boolalg.BooleanAtom):
        return const(1.0 if expr else 0.0)
    if expr.is_Number or expr.is_NumberSymbol:
        return _number(expr)
    if expr.is_Add:
        return _fold("add", args)
    if expr.is_Mul:
        return _mul(args)
    if expr.is_Pow:
        return _pow(expr, *args)
    kind = type(expr)
    if kind in _UNARY_FUNCTIONS:
        return make(_UNARY_FUNCTIONS[kind], args[0])
    if kind in _RECIPROCAL:
        return make("div", ONE, make(_RECIPROCAL[kind], args[0]))
    if kind in _OF_RECIPROCAL:
        return make(_OF_RECIPROCAL[kind], make("div", ONE, args[0]))
    if kind in _RELATIONS:
        return make(_RELATIONS[kind], *args)
    if isinstance(expr, (sp.Max, sp.Min)):
        return _fold("max" if isinstance(expr, sp.Max) else "min", args)
    if isinstance(expr, sp.And):
        return _fold("and_", args)
    if isinstance(expr, sp.Or):
        return _fold("or_", args)
    if isinstance(expr, sp.Not):
        return make("not_", args[0])
    if isinstance(expr, sp.Heaviside):
        return make("heaviside", args[0], args[1] if len(args) > 1 else const(0.5))
    if isinstance(expr, sp.atan2):
        return make("atan2", *args)
    if isinstance(expr, sp.Piecewise):
        return _piecewise(args)
    if isinstance(expr, sp.ITE):  # a boolean if-then-else, from relations of a Piecewise
        return make("where", *args)
    _check_supported(expr)
    raise AssertionError(f"supported SymPy type {type(expr).__name__} has no conversion")


def _number(expr: sp.Basic) -> Node:
    if expr is sp.nan:  # NaN in, NaN out
        return const(math.nan)
    return const(finite_float(expr, "the number"))


def finite_float(value, what: str) -> float:
    """``value`` as a float64, or SymbackpropError "``what`` ``value`` is not ..." if it is not
    a real number or not finite in float64 (SymPy and Python numbers beyond about 1.8e308 would
    silently become inf).

    >>> import sympy as sp
    >>> finite_float(sp.Rational(1, 4), "constant a =")
    0.25
    >>> finite_float(10**400, "constant a =")
    Traceback (most recent call last):
    ...
    symbackprop.errors.SymbackpropError: constant a = 10000000000000000000... (401 characters) \
is not a finite float64 number (whose size is at most 1.8e+308)
    """
    try:
        text = repr(value)
    except ValueError:  # an int past Python's 4300-digit conversion limit
        text = f"<{type(value).__name__} too long to print>"
    shown = text if len(text) <= 40 else f"{text[:20]}... ({len(text)} characters)"
    if isinstance(value, complex) or (isinstance(value, np.generic) and np.iscomplexobj(value)):
        raise SymbackpropError(f"{what} {shown} is not a real number")
    try:
        number = float(value)
    except OverflowError:  # a Python int or Fraction too large for float64
        number = math.inf
    except (TypeError, ValueError):
        raise SymbackpropError(f"{what} {shown} is not a real number") from None
    if math.isnan(number):
        raise SymbackpropError(f"{what} {shown} is NaN, not a number")
    if math.isinf(number):
        raise SymbackpropError(
            f"{what} {shown} is not a finite float64 number (whose size is at most "
            f"{sys.float_info.max:.2g})"
        )
    return number


def _mul(args: list[Node]) -> Node:
    # Factors 1/d (from x**-k) go to one denominator: a*b/(c*d) reads and rounds better.
    numerator, denominator = [], []
    for a in args:
        if a.op == "div" and a.args[0] is ONE:
            denominator.append(a.args[1])
        else:
            numerator.append(a)
    num = _fold("mul", numerator) if numerator else ONE
    return make("div", num, _fold("mul", denominator)) if denominator else num


def _pow(expr: sp.Pow, base: Node, exponent: Node) -> Node:
    e = expr.exp
    if e.is_Number and e.is_negative:
        positive = _pow(sp.Pow(expr.base, -e, evaluate=False), base, const(-float(e)))
        return make("div", ONE, positive)
    if e.is_Number and float(e) == 0.5:
        return make("sqrt", base)
    if e.is_Number and float(e) == 1.0:
        return base
    return make("pow", base, exponent)


def _piecewise(args: list[Node]) -> Node:
    pairs = list(zip(args[0::2], args[1::2]))
    # Without an unconditional last piece, points no condition covers are undefined: NaN.
    result = const(math.nan)
    for value, cond in reversed(pairs):
        if cond.op == "const" and cond.attr == 1.0:
            result = value
        elif not (cond.op == "const" and cond.attr == 0.0):
            result = make("where", cond, value, result)
    return result
