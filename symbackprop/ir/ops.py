"""The closed set of IR primitives: name -> arity (None: leaf).

Every primitive here must have a derivative rule (derivatives/rules.py), a printer method
(printer/numba.py) and a reference implementation (ir/evaluate.py); tests/test_primitives.py
fails listing any primitive that lacks one of them.
"""

LEAVES = ("const", "input")

# fmt: off
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
# fmt: on

SCALAR_OPS = frozenset(LEAVES + UNARY + BINARY + TERNARY)

# Array-level ops (networks): a weight matrix is one node. ``array`` reads a named input array,
# ``dim`` its size along an axis (the batch size is only known at call time); ``map`` applies a
# scalar IR body element-wise to its inputs (any number, broadcast per input).
ARRAY_LEAVES = ("array", "dim")
ARRAY_UNARY = (
    "transpose",
    "sum_all",
    "colsum",
    "rowsum",
    "softmax_rows",
    "logsumexp_rows",
    "take",
    "put",
)
ARRAY_BINARY = ("matmul",)
VARIADIC = ("map",)

# The exact network Hessian runs all P unit directions at once (derivatives/directions.py).
# A value batched over directions is laid out (r*P, c) for an (r, c) array, (P, n) for a vector
# and (P,) for a scalar; these ops move between layouts. They appear only after the last
# derivative is taken, so they have batching rules and no derivative rules. ``seed`` is the
# batched unit directions of one parameter block.
DIRECTION_LEAVES = ("seed",)
DIRECTION_OPS = ("reshape", "dir_transpose", "dirs_first")
# ``spread``: a dense part plus sparse terms (one entry per sample and unit direction), alone or
# times a plain matrix, visiting only the nonzeros (ir/batched.py's Spread).
DIRECTION_VARIADIC = ("spread",)

ARITY = {
    **{op: 0 for op in LEAVES + ARRAY_LEAVES + DIRECTION_LEAVES},
    **{op: 1 for op in UNARY + ARRAY_UNARY + DIRECTION_OPS},
    **{op: 2 for op in BINARY + ARRAY_BINARY},
    **{op: 3 for op in TERNARY},
    **{op: -1 for op in VARIADIC + DIRECTION_VARIADIC},  # one or more inputs
}

# max and min are not listed: at ties the gradient goes to the first argument, so order matters.
COMMUTATIVE = frozenset({"add", "mul", "eq", "ne", "and_", "or_"})

# Ops whose result is a truth value encoded as 1.0 / 0.0 (NaN when an operand is NaN).
PREDICATES = frozenset({"lt", "le", "gt", "ge", "eq", "ne", "and_", "or_", "not_"})
