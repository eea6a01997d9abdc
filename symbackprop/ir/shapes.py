"""Shape rules of the array-level ops: (op, args, attr) -> result shape, checked at build time.

Dimensions are ints or names ("m": the batch size, known only at call time). A mismatch is a
TypeError (an internal error: front ends validate user shapes before building IR).
"""

from __future__ import annotations

from .batched import SPREAD_MODES, divide, times


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
    if op == "spread":
        return _spread_shape(args, attr)
    raise TypeError(f"no shape rule for IR op {op!r}")


def _spread_shape(args, spec) -> tuple:
    base, parts, other = spec.split(args)
    _need(spec.mode in SPREAD_MODES, f"spread mode {spec.mode!r}")
    _need(
        spec.other == (spec.mode != "place") or spec.mode == "left", f"spread {spec.mode} operands"
    )
    if base is not None:
        rows = divide(base.shape[0], spec.base_period)
        return (times(rows, spec.period), base.shape[1])
    term, a, c, rows = parts[0]
    samples = (a if a is not None else c if term.c in ("full", "col") else rows).shape[0]
    P = spec.period
    if spec.mode == "place":
        return (times(samples, P), spec.cols)
    if spec.mode == "right":
        return (times(samples, P), other.shape[1])
    if spec.mode == "contract":
        return (times(spec.cols, P), other.shape[1])
    return (times(other.shape[0] if other is not None else 1, P), spec.cols)
