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


# ---- compiling while another process clears the cache (issue 12) --------------------------------

# Compiles a few functions (and a network), each twice, and calls them; prints one JSON line.
RACER = textwrap.dedent(
    """
    import json, sys, warnings
    warnings.simplefilter("always")
    import numpy as np, sympy as sp, symbackprop as sb

    seed = int(sys.argv[1])
    x, y = sp.symbols("x y")
    p = np.array([0.3, -0.7])
    out = {"values": [], "grads": [], "warnings": []}
    with warnings.catch_warnings(record=True) as caught:
        for k in range(1, 4):
            for _ in range(2):  # the second compile finds the entry, or finds it gone
                fn = sb.compile(sp.sin(k * x) * y + x ** (k + seed), [x, y])
                out["values"].append(fn(p))
                out["grads"].append(fn.grad(p).tolist())
        net = sb.Sequential(2, [sb.Dense(2, "tanh"), sb.Dense(1)], loss="mse")
        X = np.array([[1.0, 2.0], [-1.0, 0.5]])
        out["loss"] = net.compile().loss(net.init_params(seed=0), X, X[:, :1])
    out["warnings"] = [str(w.message) for w in caught]
    print(json.dumps(out))
    """
)

# Clears the cache in a loop until told to stop (or for at most 300 s); prints how often.
CLEARER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from symbackprop.loader.cache import Cache

    stop, clears, deadline = Path(sys.argv[1]), 0, time.monotonic() + 300
    while not stop.exists() and time.monotonic() < deadline:
        Cache().clear()
        clears += 1
        time.sleep(0.01)
    print(clears)
    """
)


def test_compiles_racing_a_cache_clear_all_succeed(tmp_path):
    """Three processes compile (and call) while a fourth clears the cache in a loop: an entry
    that vanishes at any moment (its module, bytecode, index or compiled kernels) is rebuilt;
    no compile fails and no process falls back to a private folder."""
    cache = tmp_path / "cache"
    (tmp_path / "racer.py").write_text(RACER)
    (tmp_path / "clearer.py").write_text(CLEARER)
    env = {**os.environ, "SYMBACKPROP_CACHE_DIR": str(cache), "PYTHONWARNINGS": "default"}
    env.pop("NUMBA_CACHE_DIR", None)
    stop = tmp_path / "stop"

    def start(*args):
        return subprocess.Popen(
            [sys.executable, *map(str, args)], env=env, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    clearer = start(tmp_path / "clearer.py", stop)
    racers = [start(tmp_path / "racer.py", seed) for seed in (2, 2, 3)]
    try:
        results = []
        for r in racers:
            stdout, stderr = r.communicate(timeout=400)
            assert r.returncode == 0, stderr[-3000:]
            results.append(json.loads(stdout.strip().splitlines()[-1]))
    finally:
        stop.touch()
        for r in racers:
            if r.poll() is None:
                r.kill()
                r.communicate()
        clears, stderr = clearer.communicate(timeout=60)
    assert clearer.returncode == 0, stderr[-3000:]
    assert int(clears) > 10, "the clearer hardly ran: no race was tested"

    x, y = sp.symbols("x y")
    for seed, res in zip((2, 2, 3), results):
        assert res["warnings"] == [], res["warnings"]
        for k in range(1, 4):
            value, grad, _ = _reference(sp.sin(k * x) * y + x ** (k + seed), [x, y], POINT[:2])
            for i in (2 * k - 2, 2 * k - 1):
                np.testing.assert_allclose(res["values"][i], value, rtol=1e-12)
                np.testing.assert_allclose(res["grads"][i], grad, rtol=1e-12, atol=1e-15)
        assert res["loss"] == results[0]["loss"]
