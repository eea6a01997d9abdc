"""Shape rules of the array-level ops: (op, args, attr) -> result shape, checked at build time.

Dimensions are ints or names ("m": the batch size, known only at call time). A mismatch is a
TypeError (an internal error: front ends validate user shapes before building IR).
"""

from __future__ import annotations

from .batched import divide, times


def _need(cond: bool, message: str) -> None:
    if not cond:
        raise TypeError(message)


def infer_shape(op: str, args: tuple, attr) -> tuple:
    if op == "array":
        return tuple(attr[1])
    if op == "dim":
        return ()
    if op == "matmul":
        a, b = args
        _need(
            len(a.shape) == 2 and len(b.shape) == 2 and a.shape[1] == b.shape[0],
            f"matmul of shapes {a.shape} and {b.shape}",
        )
        return (a.shape[0], b.shape[1])
    if op == "transpose":
        (a,) = args
        _need(len(a.shape) == 2, f"transpose of shape {a.shape}")
        return (a.shape[1], a.shape[0])
    if op == "sum_all":
        return ()
    if op in ("colsum", "rowsum", "logsumexp_rows"):
        (a,) = args
        _need(len(a.shape) == 2, f"{op} of shape {a.shape}")
        return (a.shape[1],) if op == "colsum" else (a.shape[0],)
    if op == "softmax_rows":
        (a,) = args
        _need(len(a.shape) == 2, f"softmax_rows of shape {a.shape}")
        return a.shape
    if op == "take":
        (a,) = args
        _need(len(a.shape) >= 2 and 0 <= attr < a.shape[0], f"take {attr} of shape {a.shape}")
        return a.shape[1:]
    if op == "put":
        (a,) = args
        index, count = attr
        _need(0 <= index < count, f"put at {index} of {count}")
        return (count,) + a.shape
    if op == "map":
        return attr.check(args)
    if op == "seed":
        return attr.layout()
    if op == "place":
        (a,) = args
        rows, cols = attr.matrix
        _need(len(a.shape) == 2 and a.shape[1] == rows, f"place {attr} after shape {a.shape}")
        return (times(a.shape[0], attr.period), cols)
    if op == "reshape":
        return tuple(attr)
    if op == "dir_transpose":
        (a,) = args
        _need(len(a.shape) == 2, f"dir_transpose of shape {a.shape}")
        return (times(a.shape[1], attr), divide(a.shape[0], attr))
    if op == "dirs_first":
        (a,) = args
        _need(len(a.shape) == 1, f"dirs_first of shape {a.shape}")
        return (attr, divide(a.shape[0], attr))
    raise TypeError(f"no shape rule for IR op {op!r}")
