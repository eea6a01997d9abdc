"""What the benchmark suites share: the command-line driver (:func:`run_suite`), the settings
and state every suite has (:class:`Config`, :class:`Session`, the optional peers JAX and PyTorch),
and the helpers that check, time and print a row.

It imports NumPy and Numba, so a suite imports it only after :func:`._timing.pin_threads`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numba as nb
import numpy as np
import sympy as sp

import symbackprop as sb

from ._timing import THREAD_ENV, Timing, compare, fmt_time

RESULTS_DIR = Path(__file__).resolve().parent / "results"

_T0 = time.perf_counter()


def progress(msg: str) -> None:
    """A progress line on stderr (the tables go to stdout), stamped with seconds since start."""
    print(f"  [{time.perf_counter() - _T0:6.1f}s] {msg}", file=sys.stderr, flush=True)


# ============================================================================ configuration


@dataclass
class Config:
    """Settings every suite has. A suite with sizes of its own subclasses it with
    ``@dataclass(kw_only=True)`` (its fields then come after these defaulted ones)."""

    quick: bool
    repeats: int
    min_time: float
    work: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="sb-bench-")))
    cache_dir: Path | None = None  # None: a fresh cache inside ``work`` (deleted at the end)

    @property
    def run_cache(self) -> Path:
        """The cache for the per-call tables (a compile table always starts cold)."""
        return self.cache_dir if self.cache_dir is not None else self.work / "cache"

    @classmethod
    def make(cls, quick: bool, **sizes) -> Config:
        """--quick shortens the timing loops and takes fewer repeats (noisier medians)."""
        if quick:
            return cls(quick, repeats=5, min_time=0.02, **sizes)
        return cls(quick, repeats=11, min_time=0.1, **sizes)

    def fresh_cache(self, label: str) -> Path:
        """An empty cache folder (cold: no generated module, no Numba object file)."""
        return Path(tempfile.mkdtemp(prefix=f"cold-{label}-", dir=self.work))


class Peers:
    """JAX and PyTorch, each optional: a peer that is not installed (or fails to import) is
    skipped with a note."""

    def __init__(self, notes: list[str]):
        self.jax = self.jnp = self.torch = None
        self.versions: dict[str, str] = {}
        try:
            import jax
            import jax.numpy as jnp

            jax.config.update("jax_enable_x64", True)
            self.jax, self.jnp = jax, jnp
            self.versions["jax"] = f"{jax.__version__} ({jax.devices()[0].platform})"
        except Exception as exc:  # ImportError, or a broken install
            notes.append(f"jax skipped: {type(exc).__name__}: {exc}")
        try:
            import torch
            import torch.func  # noqa: F401

            torch.set_num_threads(1)
            try:
                torch.set_num_interop_threads(1)
            except RuntimeError:  # already set, or parallel work already started
                pass
            self.torch = torch
            self.versions["torch"] = torch.__version__
        except Exception as exc:
            notes.append(f"torch skipped: {type(exc).__name__}: {exc}")


class Session:
    """State shared by the tables of one run: config, peers, notes. A suite subclasses it to
    keep what it compiles."""

    def __init__(self, cfg: Config):
        self.cfg = cfg
        self.notes: list[str] = []
        self.peers = Peers(self.notes)

    def note(self, msg: str) -> None:
        self.notes.append(msg)
        progress("NOTE " + msg)

    def describe(self, exc: BaseException) -> str:
        """An exception as the notes give it."""
        return error_text(exc)

    def compare(self, fns: dict) -> dict[str, Timing]:
        return compare(fns, repeats=self.cfg.repeats, min_time=self.cfg.min_time)

    def admit(
        self,
        row: dict,
        fns: dict,
        name: str,
        make: Callable,
        disagreement: Callable[[object], str | None],
        *,
        where: str,
        subject: str | None = None,
        against: str = "symbackprop",
    ) -> bool:
        """Add implementation ``name`` to the timed calls ``fns`` only if its result is right,
        so that a wrong answer never shows up as a fast one; returns whether it was added.

        ``make()`` gives (timed call, call returning its result); ``disagreement(result)`` is
        None when that result agrees with ``against``'s, else how it differs. row["status"]
        records 'error', 'MISMATCH' or 'verified' (time_cell shows it for one not timed). The
        notes say "<subject> failed for <where>" and "<subject> DISAGREES with <against> for
        <where>"; ``subject`` defaults to ``name``.
        """
        subject = subject or name
        try:
            call, result = make()
            got = result()
        except Exception as exc:
            self.note(f"{subject} failed for {where}: {self.describe(exc)}")
            row["status"][name] = "error"
            return False
        differs = disagreement(got)
        if differs is not None:
            self.note(f"{subject} DISAGREES with {against} for {where} ({differs}); not timed")
            row["status"][name] = "MISMATCH"
            return False
        row["status"][name] = "verified"
        fns[name] = call
        return True


# ============================================================================ rows and tables


def agrees(got, want) -> bool:
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        return False
    scale = max(1.0, float(np.max(np.abs(want), initial=0.0)))
    return bool(np.allclose(got, want, rtol=1e-7, atol=1e-9 * scale))


def error_text(exc: BaseException) -> str:
    """One line naming the exception and where in symbackprop it came from."""
    tb = traceback.extract_tb(exc.__traceback__)
    where = next(
        (
            f"{Path(fr.filename).name}:{fr.lineno}"
            for fr in reversed(tb)
            if "symbackprop" in fr.filename or "generated" in fr.filename
        ),
        None,
    )
    text = f"{type(exc).__name__}: {exc}"
    return f"{text} (at {where})" if where else text


def short_error(exc: BaseException, limit: int = 500) -> str:
    """error_text without ANSI colour codes, multi-line messages (Numba's) cut down to their
    first line and the last few lines that say where, at most ``limit`` characters."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", error_text(exc))
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if len(lines) > 4:
        lines = lines[:1] + ["..."] + lines[-5:]
    text = " | ".join(lines)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def verdict(value: float | None, target: float) -> str:
    if value is None:
        return "-"
    return "ok" if value <= target else "OVER"


def record_timings(row: dict, timings: dict[str, Timing], ratios: dict[str, tuple[str, str]]):
    """Store ``timings`` in ``row`` with ``ratios`` (name -> (numerator, denominator)) of their
    medians, None where either side was not timed, and the noise."""
    med = {k: t.median for k, t in timings.items()}
    row["timings"] = {k: t.to_dict() for k, t in timings.items()}
    row["ratios"] = {key: ratio(med.get(a), med.get(b)) for key, (a, b) in ratios.items()}
    row["noise_iqr_rel_max"] = max(t.spread for t in timings.values())


def error_cells(head: list[str], headers: list[str]) -> list[str]:
    """The cells of a row that could not be timed at all."""
    return head + ["ERROR"] + ["-"] * (len(headers) - len(head) - 1)


def time_cell(row: dict, name: str) -> str:
    """``name``'s median time in ``row``, or why it was not timed."""
    if name in row["timings"]:
        return fmt_time(row["timings"][name]["median_s"])
    return row["status"].get(name, "skipped")


def render_table(headers: list[str], rows: list[list[str]], align: str | None = None) -> str:
    """Plain-text table; ``align`` has one 'l' or 'r' per column (default: first two left)."""
    align = align or "l" * min(2, len(headers)) + "r" * max(0, len(headers) - 2)
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows)]

    def line(cells):
        return "  ".join(
            str(c).ljust(w) if a == "l" else str(c).rjust(w)
            for c, w, a in zip(cells, widths, align)
        ).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths])] + [line(r) for r in rows])


# ============================================================================ driver


def header(s: Session, title: str, method_lines: list[str]) -> list[str]:
    """The run's header: what ran where, with which versions and settings. ``method_lines``
    say how the suite calls each implementation."""
    vers = {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": nb.__version__,
        "sympy": sp.__version__,
        "symbackprop": getattr(sb, "__version__", "?"),
        **s.peers.versions,
    }
    # The values that took effect, read back from the libraries where they say.
    threads = [f"numba.config.NUMBA_NUM_THREADS={nb.config.NUMBA_NUM_THREADS}"]
    threads += [f"{k}={os.environ.get(k)}" for k in THREAD_ENV if k != "NUMBA_NUM_THREADS"]
    if s.peers.torch:
        threads.append(f"torch.get_num_threads()={s.peers.torch.get_num_threads()}")
    if s.peers.jax:
        threads.append(f"XLA_FLAGS='{os.environ['XLA_FLAGS']}'")
    cfg = s.cfg
    return [
        title + (" (--quick)" if cfg.quick else ""),
        (
            f"machine: {platform.machine()} {platform.processor() or ''} {os.cpu_count()} CPUs, "
            f"{platform.system()} {platform.release()}"
        ),
        "versions: " + ", ".join(f"{k} {v}" for k, v in vers.items()),
        "threads: single-threaded for fairness: " + "; ".join(threads),
        (
            f"timing: per-call median of {cfg.repeats} interleaved repeats, each a loop of >= "
            f"{cfg.min_time * 1000:g} ms (timeit-style autorange) after a warm-up call; "
            "ratios are of medians from the same run"
        ),
        *method_lines,
        "noise = largest interquartile range among a row's timings, relative to its median",
        "cache: "
        + (
            f"--cache-dir {cfg.cache_dir} (re-used: first calls may be cache loads)"
            if cfg.cache_dir
            else "fresh temporary folder for this run (cold)"
        ),
    ]


def run_suite(
    argv: list[str] | None,
    *,
    name: str,
    doc: str,
    title: str,
    method_lines: list[str],
    runners: dict[str, Callable[[Session], dict]],
    make_config: Callable[[bool], Config],
    make_session: Callable[[Config], Session],
    quick_help: str,
    cache_help: str,
) -> int:
    """``python -m benchmarks.<name>``: parse the flags, run the selected tables (in the order
    of ``runners``), print them, the notes and the total time, and write the JSON results.

    A runner returns {"title", "text" or "headers" and "cells", "rows", ...}; everything but
    "cells" goes into the JSON.
    """
    tables = tuple(runners)
    ap = argparse.ArgumentParser(
        prog=f"python -m benchmarks.{name}",
        description=doc,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument("--quick", action="store_true", help=quick_help)
    ap.add_argument(
        "--only",
        action="append",
        metavar="NAME",
        help=f"run only these tables ({', '.join(tables)}); repeat or comma-separate",
    )
    ap.add_argument("--cache-dir", type=Path, default=None, help=cache_help)
    ap.add_argument(
        "--json",
        type=Path,
        default=None,
        help=f"where to write the JSON results (default: benchmarks/results/{name}-<time>.json)",
    )
    args = ap.parse_args(argv)
    only = [t for item in (args.only or []) for t in item.split(",") if t]
    unknown = sorted(set(only) - set(tables))
    if unknown:
        ap.error(f"unknown table(s) {', '.join(unknown)}; choose from {', '.join(tables)}")
    selected = [t for t in tables if not only or t in only]

    cfg = make_config(args.quick)
    cfg.cache_dir = args.cache_dir
    s = make_session(cfg)
    started = time.perf_counter()
    head = header(s, title, method_lines)
    print("\n".join(head), flush=True)
    done = {}
    try:
        for table_name in selected:
            progress(f"table {table_name}")
            try:
                table = runners[table_name](s)
            except Exception as exc:  # a table that cannot run at all is reported, not fatal
                s.note(f"table {table_name} failed: {s.describe(exc)}")
                traceback.print_exc(file=sys.stderr)
                continue
            done[table_name] = table
            body = table.get("text") or render_table(table["headers"], table["cells"])
            print(f"\n== {table_name}: {table['title']} ==\n{body}", flush=True)
    finally:
        shutil.rmtree(cfg.work, ignore_errors=True)

    elapsed = time.perf_counter() - started
    print("\nnotes:" if s.notes else "\nnotes: none", flush=True)
    for n in s.notes:
        print(f"  - {n}")
    print(f"total wall time {elapsed:.0f} s")

    out = args.json or RESULTS_DIR / (
        f"{name}-{time.strftime('%Y%m%d-%H%M%S')}{'-quick' if cfg.quick else ''}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "header": head,
        "argv": sys.argv[1:],
        "quick": cfg.quick,
        "tables": {k: {kk: vv for kk, vv in v.items() if kk != "cells"} for k, v in done.items()},
        "notes": s.notes,
        "wall_s": elapsed,
    }
    out.write_text(json.dumps(payload, indent=1, default=_json_default) + "\n", encoding="utf-8")
    print(f"results written to {out}")
    return 0


def _json_default(o):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    return repr(o)
