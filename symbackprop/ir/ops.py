"""The closed set of IR primitives: name -> arity (None: leaf).

Every primitive here must have a derivative rule (derivatives/rules.py), a printer method
(printer/numba.py) and a reference implementation (ir/evaluate.py); tests/test_primitives.py
fails listing any primitive that lacks one of them.
"""

LEAVES = ("const", "input")

UNARY = (
    "neg", "exp", "log", "sqrt", "log1p", "expm1",
    "sin", "cos", "tan", "asin", "acos", "atan",
    "sinh", "cosh", "tanh", "asinh", "acosh", "atanh",
    "abs", "sign", "erf", "erfc", "sigmoid", "softplus", "not_",
)

BINARY = (
    "add", "sub", "mul", "div", "pow", "atan2", "max", "min", "heaviside",
    "lt", "le", "gt", "ge", "eq", "ne", "and_", "or_",
)

TERNARY = ("where",)

ARITY = {
    **{op: 0 for op in LEAVES},
    **{op: 1 for op in UNARY},
    **{op: 2 for op in BINARY},
    **{op: 3 for op in TERNARY},
}

# max and min are not listed: at ties the gradient goes to the first argument, so order matters.
COMMUTATIVE = frozenset({"add", "mul", "eq", "ne", "and_", "or_"})

# Ops whose result is a truth value encoded as 1.0 / 0.0 (NaN when an operand is NaN).
PREDICATES = frozenset({"lt", "le", "gt", "ge", "eq", "ne", "and_", "or_", "not_"})
