"""Concurrency (issue 7): eight processes compile the same and different functions (and one
network) against ONE fresh cache folder at the same moment. All succeed without falling back
to a private folder, their numbers are right, and no partial or temporary file remains.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import sympy as sp

# Each worker imports everything, says it is ready, waits for the common start signal, then
# compiles and evaluates its case and prints one JSON line.
WORKER = textwrap.dedent(
    """
    import json, os, sys, time, warnings
    from pathlib import Path
    warnings.simplefilter("always")
    import numpy as np, sympy as sp, symbackprop as sb

    case, folder = sys.argv[1], Path(sys.argv[2])
    (folder / f"ready-{os.getpid()}").touch()
    while not (folder / "go").exists():
        time.sleep(0.01)
    x, y, z = sp.symbols("x y z")
    point = np.array([0.3, -0.7, 1.1])
    out = {"case": case}
    with warnings.catch_warnings(record=True) as caught:
        if case == "shared":
            fn = sb.compile(x**2 * y + sp.exp(z) * sp.sin(x * y), [x, y, z])
            out.update(value=fn(point), grad=fn.grad(point).tolist(),
                       hessian=fn.hessian(point).tolist())
        elif case.startswith("own"):
            k = int(case[3:])
            fn = sb.compile(sp.tanh(k * x + y) * z + x**k, [x, y, z])
            out.update(value=fn(point), grad=fn.grad(point).tolist())
        elif case == "network":
            net = sb.Sequential(2, [sb.Dense(2, "tanh"), sb.Dense(1)], loss="mse")
            params = {"W1": np.array([[0.1, -0.2], [0.3, 0.4]]), "b1": np.array([0.05, -0.05]),
                      "W2": np.array([[0.5, -0.6]]), "b2": np.array([0.1])}
            X = np.array([[1.0, 2.0], [-1.0, 0.5], [0.2, -0.3]])
            Y = np.array([[0.5], [-0.2], [0.1]])
            loss, grads = net.compile().loss_and_grad(params, X, Y)
            out.update(value=loss, grad={k: v.tolist() for k, v in grads.items()})
    out["warnings"] = [str(w.message) for w in caught]
    print(json.dumps(out))
    """
)

CASES = ["shared"] * 4 + ["network"] * 2 + ["own3", "own4"]
POINT = [0.3, -0.7, 1.1]


def _reference(expr, variables, point):
    values = dict(zip(variables, point))
    grad = [float(sp.diff(expr, v).evalf(subs=values)) for v in variables]
    hessian = [
        [float(sp.diff(expr, a, b).evalf(subs=values)) for b in variables] for a in variables
    ]
    return float(expr.evalf(subs=values)), grad, hessian


def _network_loss(p, X, Y):
    A = np.tanh(X @ p["W1"].T + p["b1"])
    return float(np.mean((A @ p["W2"].T + p["b2"] - Y) ** 2))


def test_eight_processes_compile_into_one_cache_at_once(tmp_path):
    cache = tmp_path / "cache"  # fresh, and not yet created: the workers race to create it
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    env = {**os.environ, "SYMBACKPROP_CACHE_DIR": str(cache), "PYTHONWARNINGS": "default"}
    env.pop("NUMBA_CACHE_DIR", None)
    workers = [
        subprocess.Popen(
            [sys.executable, str(script), case, str(tmp_path)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for case in CASES
    ]
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("ready-*"))) < len(CASES):
        assert time.monotonic() < deadline, "workers did not start"
        assert all(w.poll() is None for w in workers), [w.communicate() for w in workers]
        time.sleep(0.05)
    (tmp_path / "go").touch()  # all eight start compiling together
    results = []
    for w in workers:
        stdout, stderr = w.communicate(timeout=120)
        assert w.returncode == 0, stderr[-3000:]
        results.append(json.loads(stdout.strip().splitlines()[-1]))

    for r in results:
        assert r["warnings"] == [], r  # no fallback to a private folder, nothing odd

    x, y, z = sp.symbols("x y z")
    want = _reference(x**2 * y + sp.exp(z) * sp.sin(x * y), [x, y, z], POINT)
    for r in results:
        if r["case"] == "shared":
            np.testing.assert_allclose(r["value"], want[0], rtol=1e-12)
            np.testing.assert_allclose(r["grad"], want[1], rtol=1e-12)
            np.testing.assert_allclose(r["hessian"], want[2], rtol=1e-10, atol=1e-14)
        elif r["case"].startswith("own"):
            k = int(r["case"][3:])
            v, g, _ = _reference(sp.tanh(k * x + y) * z + x**k, [x, y, z], POINT)
            np.testing.assert_allclose(r["value"], v, rtol=1e-12)
            np.testing.assert_allclose(r["grad"], g, rtol=1e-12)

    params = {
        "W1": np.array([[0.1, -0.2], [0.3, 0.4]]),
        "b1": np.array([0.05, -0.05]),
        "W2": np.array([[0.5, -0.6]]),
        "b2": np.array([0.1]),
    }
    X = np.array([[1.0, 2.0], [-1.0, 0.5], [0.2, -0.3]])
    Y = np.array([[0.5], [-0.2], [0.1]])
    nets = [r for r in results if r["case"] == "network"]
    assert nets[0] == nets[1]
    assert math.isclose(nets[0]["value"], _network_loss(params, X, Y), rel_tol=1e-12)
    for name, value in params.items():
        for idx in np.ndindex(value.shape):
            h = 1e-6
            up, down = ({**params, name: value.copy()} for _ in range(2))
            up[name][idx] += h
            down[name][idx] -= h
            fd = (_network_loss(up, X, Y) - _network_loss(down, X, Y)) / (2 * h)
            assert math.isclose(nets[0]["grad"][name][idx[0]] if value.ndim == 1 else
                                nets[0]["grad"][name][idx[0]][idx[1]], fd, rel_tol=1e-6,
                                abs_tol=1e-9), name  # fmt: skip

    _assert_no_partial_files(cache)


def _assert_no_partial_files(cache: Path) -> None:
    files = [p for p in cache.rglob("*") if p.is_file()]
    assert files, "nothing was cached"
    leftovers = [p for p in files if ".tmp" in p.name or p.name.startswith(".")]
    assert leftovers == [], leftovers
    for p in files:
        assert p.stat().st_size > 0, f"empty file {p}"
        if p.suffix == ".py":  # every module is whole: it parses
            compile(p.read_text(encoding="utf-8"), str(p), "exec")
