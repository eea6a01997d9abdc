"""Median-of-repeats timing shared by the benchmark scripts.

Noisy machines make a single time meaningless, so every number here is a median over several
repeats of a timeit-style loop, and implementations that are compared are timed *interleaved*
(repeat 1 of A, B, C, then repeat 2 of A, B, C, ...) so that drift in the machine's speed hits
all of them alike and their ratio stays meaningful.

Pure Python (``time`` and ``statistics`` only): importing it does not import NumPy, Numba or any
framework, so a benchmark can import it and call :func:`pin_threads` before those are imported.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

# Single-threaded everything, for a fair per-call comparison.
THREAD_ENV = {
    "NUMBA_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
}
XLA_SINGLE_THREAD = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def pin_threads() -> None:
    """Set THREAD_ENV and JAX's single-thread XLA flags in os.environ. Call it before NumPy,
    Numba, PyTorch or JAX is imported: they read these once, at import (JAX: when its backend
    starts). Child processes from :func:`run_child` inherit them."""
    os.environ.update(THREAD_ENV)
    flags = os.environ.get("XLA_FLAGS", "")
    if XLA_SINGLE_THREAD not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} {XLA_SINGLE_THREAD}".strip()


@dataclass
class Timing:
    """Per-call seconds of one callable: one entry per repeat (each the mean over ``number``
    calls of one loop)."""

    per_call: list[float] = field(default_factory=list)
    number: int = 1

    @property
    def median(self) -> float:
        return statistics.median(self.per_call)

    @property
    def spread(self) -> float:
        """Interquartile range relative to the median (0.05 = the middle half of the repeats
        lies within 5 % of the median's size); a rough noise indicator."""
        if len(self.per_call) < 4:
            return (max(self.per_call) - min(self.per_call)) / self.median
        q = statistics.quantiles(self.per_call, n=4)
        return (q[2] - q[0]) / self.median

    def to_dict(self) -> dict:
        return {
            "median_s": self.median,
            "iqr_rel": self.spread,
            "number": self.number,
            "repeats_s": self.per_call,
        }


def _loop(fn, number: int) -> float:
    clock = time.perf_counter
    start = clock()
    for _ in range(number):
        fn()
    return clock() - start


def autorange(fn, min_time: float) -> int:
    """Loop count (1, 2, 5, 10, 20, 50, ...) whose loop takes at least ``min_time`` seconds."""
    i = 1
    while True:
        for j in (1, 2, 5):
            number = i * j
            if _loop(fn, number) >= min_time:
                return number
        i *= 10


def time_one(fn, *, repeats: int = 7, min_time: float = 0.1, warmup: int = 1) -> Timing:
    """Median-of-repeats per-call time of ``fn()`` (a zero-argument callable)."""
    return compare({"fn": fn}, repeats=repeats, min_time=min_time, warmup=warmup)["fn"]


def compare(
    fns: dict, *, repeats: int = 7, min_time: float = 0.1, warmup: int = 1
) -> dict[str, Timing]:
    """Time several zero-argument callables interleaved; returns name -> Timing.

    Each callable is warmed up (``warmup`` calls: JIT compilation, caches), gets its own loop
    count from :func:`autorange`, and then the repeats run round-robin over the callables.
    """
    numbers = {}
    for name, fn in fns.items():
        for _ in range(warmup):
            fn()
        numbers[name] = autorange(fn, min_time)
    out = {name: Timing(number=numbers[name]) for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            out[name].per_call.append(_loop(fn, numbers[name]) / numbers[name])
    return out


def wall(fn):
    """(result, seconds) of one call of ``fn()``: for one-off costs such as compilation."""
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def fmt_time(seconds: float | None) -> str:
    """Seconds in a human unit, 3 significant digits: '812 ns', '3.41 us', '12.0 ms', '1.52 s'."""
    if seconds is None:
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if seconds >= scale or unit == "ns":
            v = seconds / scale
            return f"{v:#.3g} {unit}" if v < 100 else f"{v:.0f} {unit}"
    return f"{seconds:.3g} s"


def fmt_ratio(r: float | None) -> str:
    if r is None:
        return "-"
    return f"{r:.2f}x" if r < 100 else f"{r:.0f}x"


def run_child(script: str, cfg: dict, timeout: float = 600) -> dict:
    """Run ``script`` in a fresh Python process (same environment and thread settings) with
    ``cfg`` as JSON in argv[1]; returns the dict it prints on a line "CHILD-RESULT {...}",
    plus "process_wall_s"."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(REPO_ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    )
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", script, json.dumps(cfg)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    elapsed = time.perf_counter() - start
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("CHILD-RESULT ")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        raise RuntimeError(f"child process exited {proc.returncode}: " + " | ".join(tail))
    out = json.loads(lines[-1][len("CHILD-RESULT ") :])
    out["process_wall_s"] = elapsed
    return out
