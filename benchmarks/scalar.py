"""Scalar-compiler benchmarks: symbackprop against hand-written Numba, JAX and PyTorch.

    python -m benchmarks.scalar                 # full run, ~8 minutes from a cold cache
    python -m benchmarks.scalar --quick         # smoke run: fewer sizes and repeats
    python -m benchmarks.scalar --only cheap    # one table (repeatable, or comma-separated)

Tables (see benchmarks/README.md for how to read them):

* ``rosenbrock`` -- extended Rosenbrock, n = 10, 50, 200: per-call gradient and dense Hessian.
* ``dense``      -- log(1 + sum x_i^2) + (sum sin x_i)^2 in 50 variables (20 with --quick):
                    per-call gradient and dense Hessian.
* ``compile``    -- cold ``sb.compile`` wall time, first-call (Numba) time, source size vs n.
* ``cheap``      -- cheap-gradient check: ops(grad)/ops(value) and time(grad)/time(value), plus
                    naive per-variable ``sympy.diff`` operation counts for contrast.

Every time is a median over interleaved repeats of a timeit-style loop, and each comparison is
a ratio measured in the same run. Absolute times depend on the machine; read the ratios.
"""

from __future__ import annotations

import math
import statistics
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ._timing import fmt_ratio, fmt_time, pin_threads, run_child, wall

# Single-threaded everything, for a fair per-call comparison. Must precede the imports of
# NumPy, Numba, PyTorch and JAX (they read the settings once, at import).
pin_threads()

import numba as nb  # noqa: E402
import numpy as np  # noqa: E402
import sympy as sp  # noqa: E402

import symbackprop as sb  # noqa: E402

from . import _suite  # noqa: E402
from ._suite import (  # noqa: E402
    agrees,
    error_cells,
    error_text,
    progress,
    record_timings,
    render_table,
    time_cell,
    verdict,
)

REF_TARGET = 1.5  # symbackprop / hand-written Numba, per call
OPS_TARGET = 3.0  # ops(grad) / ops(value)
TIME_TARGET = 4.0  # time(grad) / time(value)
SIZE_REPEATS = 3  # cold sb.compile runs per size in the source-size part


# ============================================================================ configuration


@dataclass(kw_only=True)
class Config(_suite.Config):
    rosen_sizes: tuple[int, ...]
    dense_n: int
    cheap_rosen_n: int
    cheap_prod_n: int
    cheap_sin_depth: int
    sympy_prod_n: int
    compile_grad_n: int
    compile_hess_n: int
    source_sizes: tuple[int, ...]

    @classmethod
    def make(cls, quick: bool) -> Config:
        if quick:
            return super().make(
                quick,
                rosen_sizes=(10, 50),
                dense_n=20,
                cheap_rosen_n=200,
                cheap_prod_n=100,
                cheap_sin_depth=30,
                sympy_prod_n=50,
                compile_grad_n=200,
                compile_hess_n=50,
                source_sizes=(10, 50, 200),
            )
        return super().make(
            quick,
            rosen_sizes=(10, 50, 200),
            dense_n=50,
            cheap_rosen_n=1000,
            cheap_prod_n=100,
            cheap_sin_depth=30,
            sympy_prod_n=50,
            compile_grad_n=1000,
            compile_hess_n=200,
            source_sizes=(10, 100, 1000),
        )


# ============================================================================ problems


@dataclass
class Problem:
    """A scalar function as a SymPy expression, a test point, a hand-written Numba reference
    for its gradient and Hessian, and the same function written with array ops (for JAX and
    PyTorch: ``array_f(x, m)`` with ``m`` the array module)."""

    name: str
    n: int
    expr: sp.Expr
    xs: list
    x: np.ndarray
    ref: dict = field(default_factory=dict)  # "grad" / "hessian" / "value" -> callable
    array_f: object = None


def rosenbrock(n: int) -> Problem:
    xs = list(sp.symbols(f"x0:{n}"))
    expr = sp.Add(*[100 * (xs[i + 1] - xs[i] ** 2) ** 2 + (1 - xs[i]) ** 2 for i in range(n - 1)])
    x = np.random.default_rng(n).uniform(-1.5, 1.5, n)
    return Problem(
        "rosenbrock",
        n,
        expr,
        xs,
        x,
        {"grad": rosen_grad_ref, "hessian": rosen_hess_ref, "value": rosen_value_ref},
        lambda x, m: m.sum(100.0 * (x[1:] - x[:-1] ** 2) ** 2 + (1.0 - x[:-1]) ** 2),
    )


def dense(n: int) -> Problem:
    xs = list(sp.symbols(f"x0:{n}"))
    expr = sp.log(1 + sp.Add(*[v**2 for v in xs])) + sp.Add(*[sp.sin(v) for v in xs]) ** 2
    x = np.random.default_rng(1000 + n).uniform(-1.0, 1.0, n)
    return Problem(
        "dense",
        n,
        expr,
        xs,
        x,
        {"grad": dense_grad_ref, "hessian": dense_hess_ref},
        lambda x, m: m.log(1.0 + m.sum(x * x)) + m.sum(m.sin(x)) ** 2,
    )


def product(n: int) -> Problem:
    xs = list(sp.symbols(f"x0:{n}"))
    x = np.random.default_rng(2000 + n).uniform(0.9, 1.1, n)
    return Problem("product", n, sp.Mul(*xs), xs, x, {"grad": prod_grad_ref})


def nested_sin(depth: int) -> Problem:
    v = sp.Symbol("x")
    expr = v
    for _ in range(depth):
        expr = sp.sin(expr)
    ref = lambda x: np.array([nested_sin_grad_ref(x[0], depth)])  # noqa: E731
    return Problem("nested sin", 1, expr, [v], np.array([0.7]), {"grad": ref})


# ---------------------------------------------------------------- hand-written Numba references
# Written directly from the closed forms; each is checked against symbackprop before timing.


@nb.njit
def rosen_value_ref(x):
    s = 0.0
    for i in range(x.shape[0] - 1):
        t = x[i + 1] - x[i] * x[i]
        u = 1.0 - x[i]
        s += 100.0 * t * t + u * u
    return s


@nb.njit
def rosen_grad_ref(x):
    n = x.shape[0]
    g = np.zeros(n)
    for i in range(n - 1):
        t = x[i + 1] - x[i] * x[i]
        g[i] += -400.0 * x[i] * t - 2.0 * (1.0 - x[i])
        g[i + 1] += 200.0 * t
    return g


@nb.njit
def rosen_hess_ref(x):
    n = x.shape[0]
    h = np.zeros((n, n))
    for i in range(n - 1):
        h[i, i] += 1200.0 * x[i] * x[i] - 400.0 * x[i + 1] + 2.0
        h[i + 1, i + 1] += 200.0
        off = -400.0 * x[i]
        h[i, i + 1] = off
        h[i + 1, i] = off
    return h


@nb.njit
def dense_grad_ref(x):
    # f = log(1 + s2) + S^2, s2 = sum x^2, S = sum sin x
    n = x.shape[0]
    s2 = 0.0
    s = 0.0
    for i in range(n):
        s2 += x[i] * x[i]
        s += math.sin(x[i])
    a = 2.0 / (1.0 + s2)
    g = np.empty(n)
    for i in range(n):
        g[i] = a * x[i] + 2.0 * s * math.cos(x[i])
    return g


@nb.njit
def dense_hess_ref(x):
    # H_ij = 2 d_ij/(1+s2) - 4 x_i x_j/(1+s2)^2 + 2 cos x_i cos x_j - 2 S sin x_i d_ij
    n = x.shape[0]
    s2 = 0.0
    s = 0.0
    c = np.empty(n)
    for i in range(n):
        s2 += x[i] * x[i]
        s += math.sin(x[i])
        c[i] = math.cos(x[i])
    a = 2.0 / (1.0 + s2)
    b = a * a
    h = np.empty((n, n))
    for i in range(n):
        for j in range(i, n):
            v = 2.0 * c[i] * c[j] - b * x[i] * x[j]
            if i == j:
                v += a - 2.0 * s * math.sin(x[i])
            h[i, j] = v
            h[j, i] = v
    return h


@nb.njit
def prod_grad_ref(x):
    # prefix/suffix products: no division, exact for zeros
    n = x.shape[0]
    g = np.empty(n)
    acc = 1.0
    for i in range(n):
        g[i] = acc
        acc *= x[i]
    acc = 1.0
    for i in range(n - 1, -1, -1):
        g[i] *= acc
        acc *= x[i]
    return g


def nested_sin_grad_ref(x, depth):
    d, v = 1.0, x
    for _ in range(depth):
        d *= math.cos(v)
        v = math.sin(v)
    return d


# ============================================================================ peers and session


def jax_call(peers: _suite.Peers, problem: Problem, deriv: str):
    """(timed call, call returning a NumPy result) of jax.jit(jax.grad | jax.hessian)."""
    jax = peers.jax
    transform = jax.grad if deriv == "grad" else jax.hessian
    f = jax.jit(transform(lambda x: problem.array_f(x, peers.jnp)))
    xj = peers.jnp.asarray(problem.x)
    result = lambda: np.asarray(f(xj))  # noqa: E731
    return (lambda: f(xj).block_until_ready()), result


def torch_call(peers: _suite.Peers, problem: Problem, deriv: str):
    """(timed call, call returning a NumPy result) of torch.func.grad | torch.func.hessian."""
    torch = peers.torch
    transform = torch.func.grad if deriv == "grad" else torch.func.hessian
    f = transform(lambda x: problem.array_f(x, torch))
    xt = torch.tensor(problem.x, dtype=torch.float64)
    result = lambda: f(xt).detach().numpy()  # noqa: E731
    return (lambda: f(xt)), result


class Session(_suite.Session):
    def __init__(self, cfg: Config):
        super().__init__(cfg)
        self.compiled: dict[tuple[str, int], object] = {}

    def compile(self, problem: Problem):
        """sb.compile(problem) into the run's cache (by default fresh per run, so a module
        generated by an older symbackprop cannot be timed); one CompiledFunction per problem."""
        key = (problem.name, problem.n)
        if key not in self.compiled:
            progress(f"sb.compile {problem.name} n={problem.n}")
            self.compiled[key] = sb.compile(problem.expr, problem.xs, cache_dir=self.cfg.run_cache)
        return self.compiled[key]


# ============================================================================ table: per call

PER_CALL_HEADERS = [
    "problem",
    "n",
    "deriv",
    "symbackprop",
    "numba ref",
    "sb/ref",
    f"<={REF_TARGET:g}?",
    "jax.jit",
    "jax/sb",
    "torch.func",
    "torch/sb",
    "noise",
    "sb 1st call [incl. Numba]",
]
PER_CALL_RATIOS = {
    "sb/ref": ("symbackprop", "numba ref"),
    "jax/sb": ("jax.jit", "symbackprop"),
    "torch/sb": ("torch.func", "symbackprop"),
}


def per_call_rows(s: Session, problem: Problem) -> list[dict]:
    """Median per-call time of fn.grad / fn.hessian and its peers, timed interleaved."""
    try:
        fn = s.compile(problem)
    except Exception as exc:
        s.note(f"sb.compile failed for {problem.name} n={problem.n}: {error_text(exc)}")
        return [
            {"problem": problem.name, "n": problem.n, "deriv": d, "error": error_text(exc)}
            for d in ("grad", "hessian")
        ]
    rows = []
    for deriv in ("grad", "hessian"):
        row = {"problem": problem.name, "n": problem.n, "deriv": deriv, "status": {}}
        sb_call = getattr(fn, deriv)
        try:
            expected, first = wall(lambda: sb_call(problem.x))
        except Exception as exc:
            s.note(f"fn.{deriv}(x) failed for {problem.name} n={problem.n}: {error_text(exc)}")
            row["error"] = error_text(exc)
            rows.append(row)
            continue
        row["sb_first_call_s"] = first  # includes Numba compilation (and lazy work, if any)
        fns = {"symbackprop": lambda: sb_call(problem.x)}

        ref = problem.ref[deriv]
        candidates = {"numba ref": lambda: (lambda: ref(problem.x), lambda: ref(problem.x))}
        if s.peers.jax:
            candidates["jax.jit"] = lambda: jax_call(s.peers, problem, deriv)
        if s.peers.torch:
            candidates["torch.func"] = lambda: torch_call(s.peers, problem, deriv)

        def disagreement(got):
            if agrees(got, expected):
                return None
            return f"max abs diff {float(np.max(np.abs(np.asarray(got) - expected))):.3g}"

        for name, make in candidates.items():
            s.admit(
                row,
                fns,
                name,
                make,
                disagreement,
                where=f"{problem.name} n={problem.n}",
                subject=f"{name} {deriv}",
            )

        progress(f"timing {problem.name} n={problem.n} {deriv}: {', '.join(fns)}")
        record_timings(row, s.compare(fns), PER_CALL_RATIOS)
        rows.append(row)
    return rows


def per_call_cells(row: dict) -> list[str]:
    head = [row["problem"], str(row["n"]), row["deriv"]]
    if "timings" not in row:
        return error_cells(head, PER_CALL_HEADERS)
    r = row["ratios"]
    return head + [
        time_cell(row, "symbackprop"),
        time_cell(row, "numba ref"),
        fmt_ratio(r["sb/ref"]),
        verdict(r["sb/ref"], REF_TARGET),
        time_cell(row, "jax.jit"),
        fmt_ratio(r["jax/sb"]),
        time_cell(row, "torch.func"),
        fmt_ratio(r["torch/sb"]),
        f"{100 * row['noise_iqr_rel_max']:.0f}%",
        fmt_time(row["sb_first_call_s"]),
    ]


def table_rosenbrock(s: Session) -> dict:
    rows = []
    for n in s.cfg.rosen_sizes:
        rows += per_call_rows(s, rosenbrock(n))
    return {
        "title": "Extended Rosenbrock: per-call gradient and dense Hessian",
        "headers": PER_CALL_HEADERS,
        "cells": [per_call_cells(r) for r in rows],
        "rows": rows,
    }


def table_dense(s: Session) -> dict:
    rows = per_call_rows(s, dense(s.cfg.dense_n))
    return {
        "title": f"Dense Hessian: log(1 + sum x_i^2) + (sum sin x_i)^2, n = {s.cfg.dense_n}",
        "headers": PER_CALL_HEADERS,
        "cells": [per_call_cells(r) for r in rows],
        "rows": rows,
    }


# ============================================================================ table: compile scale


def _cold_compile(s: Session, problem: Problem, label: str):
    """sb.compile into an empty cache folder with SymPy's cache cleared: (fn, wall seconds)."""
    sp.core.cache.clear_cache()
    cache = s.cfg.fresh_cache(label)
    progress(f"cold sb.compile {problem.name} n={problem.n} ({label})")
    return wall(lambda: sb.compile(problem.expr, problem.xs, cache_dir=cache))


def _first_call(fn, method: str, x):
    """Wall time of the first fn.<method>(x) and the cost-report stages it added or grew:
    ({stage: seconds}, wall)."""
    before = dict(fn.cost().seconds)
    _, seconds = wall(lambda: getattr(fn, method)(x))
    after = fn.cost().seconds
    added = {k: v - before.get(k, 0.0) for k, v in after.items() if v != before.get(k)}
    return added, seconds


def _is_numba_stage(name: str) -> bool:
    # The loader labels a method's first call "first grad() (Numba compile or cache load)".
    return name.startswith("first ") or "numba" in name.lower()


def _stage_text(stages: dict) -> str:
    return ", ".join(f"{k} {v:.2f}s" for k, v in stages.items()) or "-"


def table_compile(s: Session) -> dict:
    cfg = s.cfg
    rows, cells, stage_lines = [], [], []

    for method, n in (("grad", cfg.compile_grad_n), ("hessian", cfg.compile_hess_n)):
        problem = rosenbrock(n)
        try:
            fn, t_compile = _cold_compile(s, problem, f"{method}{n}")
            compile_stages = dict(fn.cost().seconds)
            progress(f"first fn.{method}(x), rosenbrock n={n} (Numba compiles here)")
            added, t_first = _first_call(fn, method, problem.x)
        except Exception as exc:
            s.note(f"compile table, rosenbrock n={n} {method}: {error_text(exc)}")
            rows.append({"method": method, "n": n, "error": error_text(exc)})
            cells.append([f"rosenbrock {method}", str(n), "ERROR"] + ["-"] * 3)
            continue
        if method == "grad":
            # Reused by the cheap table (its grad kernel is compiled). fn.source is not read
            # here: it would build the second-order module, whose kernels compile anew.
            s.compiled.setdefault((problem.name, n), fn)
        numba = sum(v for k, v in added.items() if _is_numba_stage(k))
        lazy = {k: v for k, v in added.items() if not _is_numba_stage(k)}
        rows.append(
            {
                "method": method,
                "n": n,
                "compile_wall_s": t_compile,
                "compile_stages_s": compile_stages,
                "first_call_wall_s": t_first,
                "first_call_stages_s": added,
                "first_call_numba_s": numba,
                "first_call_excl_numba_s": sum(lazy.values()),
            }
        )
        cells.append(
            [
                f"rosenbrock {method}",
                str(n),
                fmt_time(t_compile),
                fmt_time(t_first),
                fmt_time(sum(lazy.values())) if lazy else "0 (eager)",
                fmt_time(numba),
            ]
        )
        stage_lines.append(f"  sb.compile stages, {method} n={n}: {_stage_text(compile_stages)}")
        stage_lines.append(f"  first {method}() stages, n={n}: {_stage_text(added)}")

    size_rows, size_cells = [], []
    for n in cfg.source_sizes:
        t_compile, t_source = [], []
        try:
            for k in range(SIZE_REPEATS):  # cold runs are cheap here: no Numba compilation
                fn, t = _cold_compile(s, rosenbrock(n), f"size{n}-{k}")
                source, t2 = wall(lambda: fn.source)
                t_compile.append(t)
                t_source.append(t2)
        except Exception as exc:
            s.note(f"compile table, source size n={n}: {error_text(exc)}")
            size_cells.append([str(n), "ERROR"] + ["-"] * 5)
            continue
        size_rows.append(
            {
                "n": n,
                "source_lines": len(source.splitlines()),
                "source_chars": len(source),
                "compile_wall_s": statistics.median(t_compile),
                "source_wall_s": statistics.median(t_source),
                "compile_runs_s": t_compile,
                "source_runs_s": t_source,
            }
        )
    for r in size_rows:
        base = size_rows[0]
        growth = (
            (r["source_lines"] - base["source_lines"]) / (r["n"] - base["n"])
            if r is not base
            else None
        )
        r["lines_per_extra_variable"] = growth
        size_cells.append(
            [
                str(r["n"]),
                fmt_time(r["compile_wall_s"]),
                fmt_time(r["source_wall_s"]),
                str(r["source_lines"]),
                f"{r['source_lines'] / r['n']:.1f}",
                f"{growth:.1f}" if growth is not None else "-",
            ]
        )

    text = render_table(
        [
            "task",
            "n",
            "sb.compile [excl. Numba]",
            "first call [incl. Numba]",
            "of which symbolic [excl. Numba]",
            "of which Numba",
        ],
        cells,
        align="lrrrrr",
    )
    text += "\n" + "\n".join(stage_lines)
    text += (
        "\n\nGenerated source size, Rosenbrock. Times: median of "
        f"{SIZE_REPEATS} cold runs (above: one cold run each). fn.source is the\n"
        "complete module: reading it generates the lazily built Hessian/HVP code, timed "
        "in its own column.\nNo Numba compilation in this part:\n"
    )
    text += render_table(
        [
            "n",
            "sb.compile [excl. Numba]",
            "fn.source [excl. Numba]",
            "source lines",
            "lines / n",
            "lines per extra variable",
        ],
        size_cells,
        align="rrrrrr",
    )
    text += "\n\nSecond process loading the cached function:\n" + second_process_rows(s)
    return {
        "title": "Compile scale (cold: empty cache folder, SymPy cache cleared; Numba "
        "compiles lazily, on a method's first call)",
        "text": text,
        "rows": rows,
        "source_size_rows": size_rows,
    }


SECOND_PROCESS_SCRIPT = r"""
import json, sys, time
import numpy as np, sympy as sp
import symbackprop as sb
cfg = json.loads(sys.argv[1])
n = cfg["n"]
x = sp.symbols(f"x0:{n}")
f = sp.Add(*[100 * (x[i + 1] - x[i] ** 2) ** 2 + (1 - x[i]) ** 2 for i in range(n - 1)])
t = time.perf_counter()
fn = sb.compile(f, x, cache_dir=cfg["cache"])
t_compile = time.perf_counter() - t
t = time.perf_counter()
getattr(fn, cfg["method"])(np.full(n, 0.5))
t_first = time.perf_counter() - t
print("CHILD-RESULT " + json.dumps({"compile_s": t_compile, "first_call_s": t_first,
                                     "stages": dict(fn.cost().seconds)}))
"""


def second_process_rows(s: Session) -> str:
    """A fresh process compiles Rosenbrock into an empty cache; a second one loads it."""
    lines = []
    for method, n in (("grad", s.cfg.compile_grad_n), ("hessian", s.cfg.compile_hess_n)):
        cache = Path(tempfile.mkdtemp(prefix="sb-second-", dir=s.cfg.work))
        cfg = {"n": n, "method": method, "cache": str(cache)}
        progress(f"second-process load, rosenbrock n={n} {method} (two subprocesses)")
        try:
            cold, warm = (
                run_child(SECOND_PROCESS_SCRIPT, cfg),
                run_child(SECOND_PROCESS_SCRIPT, cfg),
            )
        except Exception as exc:
            s.note(f"second-process load, n={n}: {error_text(exc)}")
            continue
        lines.append(
            [
                f"rosenbrock {method}",
                str(n),
                fmt_time(cold["compile_s"] + cold["first_call_s"]),
                fmt_time(warm["compile_s"]),
                fmt_time(warm["first_call_s"]),
                fmt_time(warm["compile_s"] + warm["first_call_s"]),
                "ok" if warm["compile_s"] + warm["first_call_s"] < 0.5 else "OVER",
            ]
        )
    return render_table(
        [
            "task",
            "n",
            "process 1: compile + 1st call",
            "process 2: sb.compile",
            "process 2: 1st call",
            "process 2: total",
            "<0.5 s?",
        ],
        lines,
        align="lrrrrrl",
    ) + (
        "\n  Each process is a fresh interpreter (imports not counted); process 2's first call"
        " includes Numba's\n  once-per-process start-up and loading the compiled kernel from "
        "Numba's cache."
    )


# ============================================================================ table: cheap gradient


def table_cheap(s: Session) -> dict:
    cfg = s.cfg
    problems = [
        rosenbrock(cfg.cheap_rosen_n),
        product(cfg.cheap_prod_n),
        nested_sin(cfg.cheap_sin_depth),
    ]
    labels = [
        f"rosenbrock n={cfg.cheap_rosen_n}",
        f"product of {cfg.cheap_prod_n} variables",
        f"sin nested {cfg.cheap_sin_depth} deep",
    ]
    rows, cells = [], []
    for label, problem in zip(labels, problems):
        try:
            fn = s.compile(problem)
            cost = fn.cost()
            ops_v, ops_g = cost.ops_after["value"], cost.ops_after["grad"]
            ops_ratio = cost.gradient_ratio
            progress(f"first fn(x) and fn.grad(x), {label} (Numba compiles here)")
            g = fn.grad(problem.x)
            fn(problem.x)
        except Exception as exc:
            s.note(f"cheap table, {label}: {error_text(exc)}")
            rows.append({"function": label, "error": error_text(exc)})
            cells.append([label, "ERROR"] + ["-"] * 7)
            continue
        ref = problem.ref["grad"]
        if not agrees(ref(problem.x), g):
            s.note(f"cheap table, {label}: fn.grad disagrees with the closed form")
        progress(f"timing {label}: fn(x) vs fn.grad(x)")
        t = s.compare({"value": lambda: fn(problem.x), "grad": lambda: fn.grad(problem.x)})
        t_ratio = t["grad"].median / t["value"].median
        rows.append(
            {
                "function": label,
                "ops_value": ops_v,
                "ops_grad": ops_g,
                "ops_ratio": ops_ratio,
                "ops_before": cost.ops_before,
                "timings": {k: v.to_dict() for k, v in t.items()},
                "time_ratio": t_ratio,
            }
        )
        cells.append(
            [
                label,
                str(ops_v),
                str(ops_g),
                fmt_ratio(ops_ratio),
                verdict(ops_ratio, OPS_TARGET),
                fmt_time(t["value"].median),
                fmt_time(t["grad"].median),
                fmt_ratio(t_ratio),
                verdict(t_ratio, TIME_TARGET),
            ]
        )
    text = render_table(
        [
            "function",
            "ops value",
            "ops grad",
            "ops ratio",
            f"<={OPS_TARGET:g}?",
            "t value",
            "t grad",
            "time ratio",
            f"<={TIME_TARGET:g}?",
        ],
        cells,
        align="l" + "r" * 8,
    )
    sym = sympy_contrast(s, cfg.sympy_prod_n)
    return {
        "title": "Cheap gradient: ops(grad)/ops(value) from fn.cost(), and median "
        "time(fn.grad(x)) / time(fn(x))",
        "text": text + "\n\n" + sym["text"],
        "rows": rows,
        "sympy_contrast": sym["rows"],
    }


def sympy_contrast(s: Session, n: int) -> dict:
    """Operation counts of the gradient of x0*x1*...*x_{n-1}: naive per-variable sympy.diff,
    the same after sympy.cse, and symbackprop's reverse sweep (operations counted alike: a
    binary operation or function call is one)."""
    xs = list(sp.symbols(f"x0:{n}"))
    p = sp.Mul(*xs)
    progress(f"sympy.diff / sympy.cse of the {n}-variable product")
    value_ops = int(sp.count_ops(p))
    diffs = [sp.diff(p, v) for v in xs]
    naive = sum(int(sp.count_ops(d)) for d in diffs)
    (repl, reduced), t_cse = wall(lambda: sp.cse(diffs))
    cse_ops = sum(int(sp.count_ops(e)) for _, e in repl) + sum(
        int(sp.count_ops(e)) for e in reduced
    )
    rows = [
        {"method": "value (sympy.count_ops)", "ops": value_ops},
        {"method": "naive per-variable sympy.diff", "ops": naive},
        {"method": f"  same after sympy.cse ({t_cse:.2f}s)", "ops": cse_ops},
    ]
    try:
        fn = s.compile(product(n))
        cost = fn.cost()
        rows.append(
            {
                "method": "symbackprop grad (fn.cost)",
                "ops": cost.ops_after["grad"],
                "value_ops_symbackprop": cost.ops_after["value"],
            }
        )
    except Exception as exc:
        s.note(f"sympy contrast, symbackprop product n={n}: {error_text(exc)}")
    cells = [[r["method"], str(r["ops"]), fmt_ratio(r["ops"] / value_ops)] for r in rows]
    text = (
        f"Gradient of the {n}-variable product, operation counts (value = {value_ops} "
        "multiplications):\n"
        + render_table(["method", "ops", "ops / value ops"], cells, align="lrr")
    )
    return {"text": text, "rows": rows}


# ============================================================================ main


def main(argv=None) -> int:
    return _suite.run_suite(
        argv,
        name="scalar",
        doc=__doc__,
        title="symbackprop scalar benchmarks",
        method_lines=[
            (
                "symbackprop calls are fn.grad(x) / fn.hessian(x) / fn(x) on a float64 ndarray, "
                "input validation included; jax.jit(...)(x).block_until_ready() on a jnp array; "
                "torch.func eager on a float64 tensor"
            ),
        ],
        runners={
            "rosenbrock": table_rosenbrock,
            "dense": table_dense,
            "compile": table_compile,
            "cheap": table_cheap,
        },
        make_config=Config.make,
        make_session=Session,
        quick_help="smoke run: fewer sizes, fewer repeats, shorter loops",
        cache_help="keep compiled modules (and Numba's object code) here for the per-call "
        "and cheap tables, so a re-run skips Numba compilation; default: a "
        "fresh temporary cache per run. Clear it after changing symbackprop "
        "(its cache key does not cover the package's code)",
    )


if __name__ == "__main__":
    raise SystemExit(main())
