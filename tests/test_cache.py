"""The on-disk code cache: a second process loads the compiled function instead of compiling it;
the cache folder comes from $SYMBACKPROP_CACHE_DIR or the cache_dir argument; corrupted or
deleted entries are rebuilt; processes compiling the same function at once all succeed and
leave no temporary files behind.
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import symbackprop as sb

# The child compiles this function; the parent knows the right numbers from SymPy.
EXPR_SRC = "sp.exp(x) * sp.sin(y) + sp.log(1 + x**2 * y**2) + sb.sigmoid(x - y)"
POINT = [0.3, -0.7]

CHILD = (
    textwrap.dedent("""
    import json, os, sys, time
    t0 = time.perf_counter()
    import numpy as np, sympy as sp, symbackprop as sb
    t_import = time.perf_counter() - t0
    cache_dir, go, ready = sys.argv[1], sys.argv[2], sys.argv[3]
    hessian, twice = sys.argv[4] == "1", sys.argv[5] == "1"
    x, y = sp.symbols("x y", real=True)
    expr = EXPR_SRC
    if ready != "-":                      # a barrier, so concurrent children compile at once
        open(ready, "w").close()
        deadline = time.time() + 120
        while not os.path.exists(go) and time.time() < deadline:
            time.sleep(0.005)
    t1 = time.perf_counter()
    kwargs = {} if cache_dir == "-" else {"cache_dir": cache_dir}
    fn = sb.compile(expr, [x, y], **kwargs)
    t_compile = time.perf_counter() - t1
    p = np.array(POINT)
    out = {"value": fn(p), "grad": fn.grad(p).tolist()}
    if hessian:
        out["hessian"] = fn.hessian(p).tolist()
        out["hvp"] = fn.hvp(p, np.array([1.0, -2.0])).tolist()
    out["t_import"] = t_import
    out["t_compile"] = t_compile
    out["t_total"] = time.perf_counter() - t1
    out["seconds"] = dict(fn.cost().seconds)
    if twice:   # compile again in this process: the entry just written must verify and load
        out["seconds_again"] = dict(sb.compile(expr, [x, y], **kwargs).cost().seconds)
    print("RESULT " + json.dumps(out))
""")
    .replace("EXPR_SRC", EXPR_SRC)
    .replace("POINT", repr(POINT))
)


def _expr():
    x, y = sp.symbols("x y", real=True)
    return eval(EXPR_SRC, {"sp": sp, "sb": sb, "x": x, "y": y}), [x, y]


def _compile_in_process(cache) -> sb.CompiledFunction:
    """The child's function compiled here against ``cache`` (cheap when it is a cache hit: no
    Numba work happens until a method is called)."""
    expr, variables = _expr()
    return sb.compile(expr, variables, cache_dir=cache)


def _expected():
    expr, (x, y) = _expr()
    subs = dict(zip((x, y), POINT))
    ev = lambda e: float(e.subs(subs).evalf(30))  # noqa: E731
    grad = [ev(sp.diff(expr, v)) for v in (x, y)]
    H = np.array([[ev(sp.diff(expr, u, v)) for v in (x, y)] for u in (x, y)])
    return ev(expr), np.array(grad), H


EXPECTED = _expected()


def _env(cache_env: str | Path | None) -> dict:
    env = dict(os.environ)
    env.pop("SYMBACKPROP_CACHE_DIR", None)
    if cache_env is not None:
        env["SYMBACKPROP_CACHE_DIR"] = str(cache_env)
    env.setdefault("NUMBA_NUM_THREADS", "2")
    return env


def _script(tmp: Path) -> Path:
    path = tmp / "cache_child.py"
    if not path.exists():
        path.write_text(CHILD)
    return path


def _start(tmp, cache_dir, *, env_cache=None, hessian=False, twice=False, go="-", ready="-"):
    args = [
        sys.executable,
        str(_script(tmp)),
        str(cache_dir) if cache_dir else "-",
        str(go),
        str(ready),
        "1" if hessian else "0",
        "1" if twice else "0",
    ]
    return subprocess.Popen(
        args,
        env=_env(env_cache),
        cwd=tmp,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _result(proc, timeout=300) -> dict:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, f"child failed ({proc.returncode}):\n{out}\n{err}"
    lines = [ln for ln in out.splitlines() if ln.startswith("RESULT ")]
    assert lines, f"no result from the child:\n{out}\n{err}"
    return json.loads(lines[-1][len("RESULT ") :])


def _child(tmp, cache_dir, **kw) -> dict:
    return _result(_start(tmp, cache_dir, **kw))


def _check_numbers(res: dict):
    value, grad, H = EXPECTED
    assert res["value"] == pytest.approx(value, rel=1e-12)
    np.testing.assert_allclose(res["grad"], grad, rtol=1e-11, atol=1e-14)
    if "hessian" in res:
        np.testing.assert_allclose(res["hessian"], H, rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(res["hvp"], H @ [1.0, -2.0], rtol=1e-10, atol=1e-13)


def _generated(root: Path) -> list[Path]:
    return sorted(p for p in Path(root).rglob("m_*.py") if "__pycache__" not in p.parts)


def _leftover_temp_files(root: Path) -> list[Path]:
    return [
        p
        for p in Path(root).rglob("*")
        if p.is_file() and (p.name.endswith(".tmp") or ".tmp." in p.name)
    ]


def _compiled_fresh(res) -> bool:
    return any(k.startswith("front end") for k in res["seconds"])


def _loaded_from_cache(res, key="seconds") -> bool:
    keys = res[key]
    return "cache load" in keys and not any(k.startswith("front end") for k in keys)


# ---- a second process reuses the cache ----------------------------------------------------------


def test_second_process_loads_the_cached_function(tmp_path):
    cache = tmp_path / "cache"
    first = _child(tmp_path, cache, hessian=True)
    second = _child(tmp_path, cache, hessian=True)
    print(
        f"\nfirst process:  compile {first['t_compile']:.3f} s, compile + first calls "
        f"{first['t_total']:.3f} s; stages {first['seconds']}"
    )
    print(
        f"second process: compile {second['t_compile']:.3f} s, compile + first calls "
        f"{second['t_total']:.3f} s; stages {second['seconds']}"
    )
    _check_numbers(first)
    _check_numbers(second)
    assert _compiled_fresh(first) and "cache load" not in first["seconds"], first["seconds"]
    assert _loaded_from_cache(second), second["seconds"]
    assert second["value"] == first["value"] and second["grad"] == first["grad"]
    assert second["hessian"] == first["hessian"]
    assert _generated(cache), "nothing was written under the cache_dir"


def test_cache_dir_from_environment_variable(tmp_path):
    env_cache = tmp_path / "from_env"
    res = _child(tmp_path, None, env_cache=env_cache, twice=True)
    _check_numbers(res)
    assert _generated(env_cache), f"no module under $SYMBACKPROP_CACHE_DIR={env_cache}"
    assert _loaded_from_cache(res, "seconds_again"), res["seconds_again"]


def test_cache_dir_argument_overrides_environment(tmp_path):
    env_cache, arg_cache = tmp_path / "from_env", tmp_path / "from_arg"
    res = _child(tmp_path, arg_cache, env_cache=env_cache)
    _check_numbers(res)
    assert _generated(arg_cache)
    assert not _generated(env_cache), "cache_dir= should override $SYMBACKPROP_CACHE_DIR"


def test_in_process_compile_uses_the_session_cache(cache_dir):
    t = sp.Symbol("t_cache_probe", real=True)
    before = set(_generated(cache_dir))
    fn = sb.compile(sp.cos(t) * t**3 + 17 * t, [t])
    assert set(_generated(cache_dir)) - before, "nothing written to $SYMBACKPROP_CACHE_DIR"
    assert fn([1.0]) == pytest.approx(np.cos(1.0) + 17)
    again = sb.compile(sp.cos(t) * t**3 + 17 * t, [t])
    assert "cache load" in again.cost().seconds
    assert not any(k.startswith("front end") for k in again.cost().seconds)
    assert again([1.0]) == fn([1.0])


def test_explicit_cache_dir_in_process(tmp_path):
    t = sp.Symbol("t_explicit_dir", real=True)
    fn = sb.compile(sp.exp(-(t**2)), [t], cache_dir=tmp_path / "mine")
    assert _generated(tmp_path / "mine")
    assert fn.grad([1.0])[0] == pytest.approx(-2 * np.exp(-1.0))


# ---- damaged entries are rebuilt -----------------------------------------------------------------


@pytest.fixture(scope="module")
def pristine_cache(tmp_path_factory):
    """A cache holding the child's function (value and gradient), built by one process."""
    tmp = tmp_path_factory.mktemp("pristine")
    cache = tmp / "cache"
    res = _child(tmp, cache)
    _check_numbers(res)
    modules = _generated(cache)
    assert modules
    return cache, {p.relative_to(cache): p.read_bytes() for p in modules}


def _damage(cache: Path, how: str):
    modules = _generated(cache)
    indexes = [p for p in cache.rglob("*.json")]
    assert modules and indexes, (modules, indexes)
    if how == "truncate":
        for p in modules:
            data = p.read_bytes()
            p.write_bytes(data[: len(data) // 2])
    elif how == "garbage":
        for p in modules:
            p.write_text("raise RuntimeError('corrupted cache entry was imported')\n")
    elif how == "same-size-garbage":
        for p in modules:
            n = p.stat().st_size
            p.write_bytes(b"#" * (n - 1) + b"\n")
    elif how == "delete-module":
        for p in modules:
            p.unlink()
    elif how == "delete-index":
        for p in indexes:
            p.unlink()
    elif how == "corrupt-index":
        for p in indexes:
            p.write_text("{not json")
    elif how == "index-points-elsewhere":
        for p in indexes:
            entry = json.loads(p.read_text())
            entry["module"] = "0" * 32
            p.write_text(json.dumps(entry))
    else:
        raise AssertionError(how)


@pytest.mark.parametrize(
    "how",
    [
        "truncate",
        "garbage",
        "same-size-garbage",
        "delete-module",
        "delete-index",
        "corrupt-index",
        "index-points-elsewhere",
    ],
)
def test_damaged_entry_is_detected_and_rebuilt(pristine_cache, tmp_path, how):
    source, originals = pristine_cache
    cache = tmp_path / "cache"
    shutil.copytree(source, cache)
    _damage(cache, how)
    res = _child(tmp_path, cache, twice=True)
    _check_numbers(res)
    assert _compiled_fresh(res), f"{how}: expected a rebuild, got stages {res['seconds']}"
    # the rebuilt entry verifies: compiling again (same process) loads it
    assert _loaded_from_cache(res, "seconds_again"), res["seconds_again"]
    # the entry is whole again: the module file is back and is valid Python
    for rel in originals:
        assert (cache / rel).is_file(), f"{how}: {rel} not rebuilt"
        compile((cache / rel).read_text(encoding="utf-8"), str(rel), "exec")
    assert not _leftover_temp_files(cache)


def test_damaged_entry_in_process_is_rebuilt(tmp_path):
    t = sp.Symbol("t_damaged_in_process", real=True)
    cache = tmp_path / "cache"
    expr = sp.atan(t) * t**2
    sb.compile(expr, [t], cache_dir=cache)
    for p in _generated(cache):
        p.write_text("raise RuntimeError('corrupted')\n")
    fn = sb.compile(expr, [t], cache_dir=cache)
    assert fn([2.0]) == pytest.approx(np.arctan(2.0) * 4.0)
    assert fn.grad([2.0])[0] == pytest.approx(2 * 2.0 * np.arctan(2.0) + 4.0 / 5.0)
    for p in _generated(cache):
        compile(p.read_text(), str(p), "exec")  # the file on disk is valid Python again


# ---- concurrent processes against one empty cache --------------------------------------------


@pytest.mark.parametrize("n_procs", [2, 4])
def test_concurrent_compiles_of_the_same_function(tmp_path, n_procs):
    cache = tmp_path / "cache"
    go = tmp_path / "go"
    readies = [tmp_path / f"ready{i}" for i in range(n_procs)]
    procs = [_start(tmp_path, cache, hessian=True, go=go, ready=r) for r in readies]
    try:
        deadline = time.time() + 120
        while not all(r.exists() for r in readies):
            assert time.time() < deadline, "children did not start"
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
            time.sleep(0.01)
        go.touch()
        results = [_result(p) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.communicate()
    for res in results:
        _check_numbers(res)
    print(
        "\n"
        + "\n".join(
            f"process {i}: compile + first calls {r['t_total']:.2f} s, "
            f"stages {sorted(r['seconds'])}"
            for i, r in enumerate(results)
        )
    )
    assert not _leftover_temp_files(cache), _leftover_temp_files(cache)
    # the cache they built together still serves a later process (whether it is loaded or, see
    # test_two_builds_of_one_request_write_identical_modules, rebuilt)
    after = _compile_in_process(cache)
    loaded = "cache load" in after.cost().seconds
    print(f"later compile: {'loaded from' if loaded else 'REBUILT'} the cache")
    value, grad, _H = EXPECTED
    assert after(POINT) == pytest.approx(value, rel=1e-12)
    np.testing.assert_allclose(after.grad(POINT), grad, rtol=1e-11)
    assert not _leftover_temp_files(cache)


def test_two_builds_of_one_request_write_identical_modules(tmp_path):
    t, u = sp.symbols("t_det u_det", real=True)
    expr = sp.exp(t) * sp.sin(u) + sp.log(1 + t**2 * u**2)
    texts = []
    for name in ("a", "b"):
        sb.compile(expr, [t, u], cache_dir=tmp_path / name)
        (module,) = _generated(tmp_path / name)
        texts.append((module.name, module.read_text(encoding="utf-8")))
    assert texts[0][0] == texts[1][0]  # same content-derived file name ...
    assert texts[0][1] == texts[1][1]  # ... so the same content


# ---- hostile entries: never executed, always rebuilt --------------------------------------------


def _sentinel_code(sentinel: Path) -> str:
    return f"open({str(sentinel)!r}, 'w').write('executed')\n"


def test_tampered_module_is_never_executed(pristine_cache, tmp_path):
    """A module changed on disk (valid Python that writes a sentinel file) is not imported: its
    hash no longer matches the index, so it is rebuilt."""
    source, _ = pristine_cache
    cache = tmp_path / "cache"
    shutil.copytree(source, cache)
    sentinel = tmp_path / "owned"
    for p in _generated(cache):
        p.write_text(_sentinel_code(sentinel) + p.read_text())
    res = _child(tmp_path, cache)
    _check_numbers(res)
    assert _compiled_fresh(res)
    assert not sentinel.exists(), "tampered cache code was executed"


def test_tampered_bytecode_is_never_executed(pristine_cache, tmp_path):
    """Bytecode swapped for compiled hostile code, its header kept (so Python itself would
    accept it): the recorded sha256 of the .pyc no longer matches, and the entry is rebuilt."""
    import importlib.util

    source, _ = pristine_cache
    cache = tmp_path / "cache"
    shutil.copytree(source, cache)
    sentinel = tmp_path / "owned"
    for p in _generated(cache):
        pyc = Path(importlib.util.cache_from_source(str(p)))
        assert pyc.is_file(), "the cache writes bytecode beside each module"
        hostile = compile(_sentinel_code(sentinel), str(p), "exec")
        import marshal

        pyc.write_bytes(pyc.read_bytes()[:16] + marshal.dumps(hostile))
    res = _child(tmp_path, cache)
    _check_numbers(res)
    assert not sentinel.exists(), "tampered bytecode was executed"


def _entry_files(cache: Path) -> list[Path]:
    return _generated(cache) + sorted(cache.rglob("*.json"))


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX owners and modes")
def test_entries_another_account_could_write_are_ignored(tmp_path, monkeypatch):
    from symbackprop.loader import cache as cache_module

    t = sp.Symbol("t_foreign", real=True)
    cache = tmp_path / "cache"
    sb.compile(sp.sin(t) * t, [t], cache_dir=cache)
    c = cache_module.Cache(cache)
    (key,) = c.entries()
    assert c.lookup(key) is not None
    for p in _entry_files(cache):  # group-writable: someone else may have changed them
        p.chmod(0o664)
    assert c.lookup(key) is None
    for p in _entry_files(cache):
        p.chmod(0o600)
    assert c.lookup(key) is not None
    real = os.getuid()
    monkeypatch.setattr(cache_module, "_uid", lambda: real + 1)  # the files now look foreign
    assert c.lookup(key) is None


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX owners and modes")
def test_kernel_files_another_account_could_write_are_ignored(tmp_path, monkeypatch):
    from symbackprop.loader import cache as cache_module

    c = cache_module.Cache(tmp_path / "cache")
    c.store_kernel("k.nbk", b"payload")
    path, key = c.base / "kernels" / "k.nbk", c.base / cache_module.KERNEL_KEY
    assert c.read_kernel("k.nbk") == b"payload"
    path.chmod(0o664)
    assert c.read_kernel("k.nbk") is None
    path.chmod(0o600)
    key.chmod(0o644)  # a key others can read could sign their files
    assert c.read_kernel("k.nbk") is None
    key.chmod(0o600)
    assert c.read_kernel("k.nbk") == b"payload"
    real = os.getuid()
    monkeypatch.setattr(cache_module, "_uid", lambda: real + 1)
    assert c.read_kernel("k.nbk") is None


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX owners and modes")
def test_cache_folders_are_private_and_a_foreign_one_is_not_used(tmp_path, monkeypatch):
    from symbackprop.loader import cache as cache_module

    root = tmp_path / "cache"
    root.mkdir(mode=0o755)
    c = cache_module.Cache(root)
    assert not c.base.exists()  # made by the first store, so a refused compile writes nothing
    c.store("key", "module", "x = 1\n")
    for d in (c.base, c.base / "modules", c.base / "index"):
        assert d.stat().st_mode & 0o777 == 0o700, d
    real = os.getuid()
    monkeypatch.setattr(cache_module, "_uid", lambda: real + 1)
    with pytest.warns(RuntimeWarning, match="belongs to another user"):
        other = cache_module.Cache(root)
    assert other.root != root


def test_a_layout_replaced_while_it_is_checked_is_used(tmp_path, monkeypatch):
    """Another process clears the layout and makes a new one just as this one looks at its
    tag: the new one is used, with no warning (it was taken for a folder of the user's)."""
    from symbackprop.loader import cache as cache_module

    root = tmp_path / "cache"
    cache_module.Cache(root).store("key", "module", "x = 1\n")
    real, calls = cache_module._is_layout, []

    def replaced_meanwhile(folder):
        if calls:
            return real(folder)
        calls.append(folder)
        cache_module.Cache(root).clear()
        cache_module._create_layout(folder)
        return False  # the look saw neither tag

    monkeypatch.setattr(cache_module, "_is_layout", replaced_meanwhile)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cache = cache_module.Cache(root)
    assert calls and cache.base == root / cache_module.LAYOUT


def test_a_folder_named_like_the_layout_but_untagged_is_left_alone(tmp_path):
    from symbackprop.loader import cache as cache_module

    mine = tmp_path / "cache" / cache_module.LAYOUT / "data.csv"
    mine.parent.mkdir(parents=True)
    mine.write_text("1,2\n")
    with pytest.warns(RuntimeWarning, match="not made by symbackprop"):
        cache = cache_module.Cache(tmp_path / "cache")
    assert cache.root != tmp_path / "cache"
    assert sorted(mine.parent.iterdir()) == [mine] and mine.read_text() == "1,2\n"


def test_unwritable_cache_falls_back_to_a_private_folder(tmp_path, monkeypatch):
    """A full (or read-only) cache location: the module goes to a temporary folder, with a
    warning, and the function still compiles and runs."""
    from symbackprop.loader import cache as cache_module

    real_write = cache_module.write_atomic
    calls = []

    def full_disk(path, data):
        if not calls and str(path).startswith(str(tmp_path)):
            calls.append(path)
            raise OSError(28, "No space left on device")
        return real_write(path, data)

    monkeypatch.setattr(cache_module, "write_atomic", full_disk)
    t = sp.Symbol("t_full_disk", real=True)
    with pytest.warns(RuntimeWarning, match="No space left"):
        fn = sb.compile(sp.cos(t) * t, [t], cache_dir=tmp_path / "cache")
    assert calls
    assert not str(fn.path).startswith(str(tmp_path))
    assert fn.grad([0.5])[0] == pytest.approx(np.cos(0.5) - 0.5 * np.sin(0.5))


# ---- Numba's compiled kernels: reused by a second process, never loaded unverified -----------

# Compiles the child's function and a small network, calls them, and reports what Numba
# compiled (compile events fire only for a kernel not loaded from a cache).
KERNEL_CHILD = (
    textwrap.dedent("""
    import json
    import numpy as np, sympy as sp, symbackprop as sb
    from numba.core import event

    compiled = []

    class Count(event.Listener):
        def on_start(self, ev):
            compiled.append(ev.data["dispatcher"].py_func.__name__)

        def on_end(self, ev):
            pass

    event.register("numba:compile", Count())
    x, y = sp.symbols("x y", real=True)
    fn = sb.compile(EXPR_SRC, [x, y])
    p = np.array(POINT)
    out = {"value": fn(p), "grad": fn.grad(p).tolist()}
    net = sb.Sequential(2, [sb.Dense(3, "tanh"), sb.Dense(1)], loss="mse")
    X = np.linspace(-1.0, 1.0, 10).reshape(5, 2)
    loss, grads = net.compile().loss_and_grad(net.init_params(seed=0), X, X[:, :1] ** 2)
    out.update(loss=loss, dW1=grads["W1"].tolist(), compiled=compiled)
    print("RESULT " + json.dumps(out))
""")
    .replace("EXPR_SRC", EXPR_SRC)
    .replace("POINT", repr(POINT))
)


def _kernel_child(tmp: Path, cache: Path, numba_dir: Path | None = None) -> dict:
    script = tmp / "kernel_child.py"
    script.write_text(KERNEL_CHILD)
    env = _env(cache)
    env.pop("NUMBA_CACHE_DIR", None)
    if numba_dir is not None:
        env["NUMBA_CACHE_DIR"] = str(numba_dir)
    proc = subprocess.Popen(
        [sys.executable, str(script)], env=env, cwd=tmp, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    res = _result(proc)
    _check_numbers(res)
    return res


@pytest.fixture(scope="module")
def kernel_cache(tmp_path_factory):
    """A cache with the kernel child's function and network, built and compiled by one
    process, and what that process computed."""
    tmp = tmp_path_factory.mktemp("kernels")
    first = _kernel_child(tmp, tmp / "cache")
    assert first["compiled"], "the first process compiled nothing"
    return tmp / "cache", first


def _copy_kernel_cache(kernel_cache, tmp_path: Path) -> Path:
    source, _ = kernel_cache
    cache = tmp_path / "cache"
    shutil.copytree(source, cache, symlinks=True)
    return cache


def test_second_process_runs_cached_kernels_without_compiling(kernel_cache, tmp_path):
    """The README's figure: a second process loads the cached function and network and makes
    its first calls without Numba compiling anything."""
    cache = _copy_kernel_cache(kernel_cache, tmp_path)
    _, first = kernel_cache
    second = _kernel_child(tmp_path, cache)
    assert second["compiled"] == [], second["compiled"]
    assert (second["loss"], second["dW1"]) == (first["loss"], first["dW1"])


def _kernel_files(cache: Path) -> list[Path]:
    """Every file of compiled kernels under ``cache`` (Numba's .nbi/.nbc or symbackprop's own)."""
    return sorted(p for p in cache.rglob("*.nb?") if p.is_file())


@pytest.mark.parametrize("how", ["truncate", "garbage"])
def test_damaged_kernel_files_are_rebuilt(kernel_cache, tmp_path, how):
    """Numba's unpickler used to fail the next compile (UnpicklingError: invalid load key) on
    a damaged index; a damaged kernel file is now a miss: compiled again, and stored whole."""
    cache = _copy_kernel_cache(kernel_cache, tmp_path)
    files = _kernel_files(cache)
    assert files, "no compiled kernels were cached"
    for p in files:
        data = p.read_bytes()
        p.write_bytes(data[: len(data) // 2] if how == "truncate" else b"\x00garbage" * 8)
    res = _kernel_child(tmp_path, cache)
    assert res["compiled"], "damaged kernels cannot have been loaded"
    assert _kernel_child(tmp_path, cache)["compiled"] == []  # the rebuilt files verify


class _Planted:
    """Unpickling this runs ``code``: what a planted cache file would do."""

    def __init__(self, code: str):
        self.code = code

    def __reduce__(self):
        return (exec, (self.code,))


def _numba_index_names(module: Path) -> list[str]:
    """The index file names Numba's own cache gives the module's kernels
    (``<module>.<function>-<first line>.py<version>.nbi``)."""
    lines = module.read_text(encoding="utf-8").splitlines()
    tag = f"py{sys.version_info[0]}{sys.version_info[1]}{getattr(sys, 'abiflags', '')}"
    names = []
    for k, line in enumerate(lines):
        if line.startswith("@nb.njit"):
            function = lines[k + 1].split("def ", 1)[1].split("(", 1)[0]
            names.append(f"{module.stem}.{function}-{k + 1}.{tag}.nbi")
    return names


@pytest.mark.parametrize("shared_numba_dir", [False, True], ids=["default", "NUMBA_CACHE_DIR"])
def test_planted_kernel_files_never_run(kernel_cache, tmp_path, shared_numba_dir):
    """Pickles that would write a sentinel file, planted (writable by everyone) where Numba's
    own cache looks for the generated modules' kernels (beside them, or in a shared
    $NUMBA_CACHE_DIR), and in place of every kernel file symbackprop stored: none is ever
    unpickled, and the numbers are right."""
    from numba.core.caching import UserProvidedCacheLocator

    cache = _copy_kernel_cache(kernel_cache, tmp_path)
    sentinel = tmp_path / "owned"
    payload = pickle.dumps(_Planted(_sentinel_code(sentinel)))
    numba_dir = tmp_path / "shared-numba" if shared_numba_dir else None
    planted = []
    for module in _generated(cache):
        folders = [module.parent / "__pycache__"]
        if numba_dir is not None:
            folders.append(numba_dir / UserProvidedCacheLocator.get_suitable_cache_subpath(module))
        for folder in folders:
            folder.mkdir(parents=True, exist_ok=True)
            for name in _numba_index_names(module):
                planted.append(folder / name)
    own = _kernel_files(cache)
    assert own, "no compiled kernels were cached"
    for p in planted + own:
        p.write_bytes(payload)
        p.chmod(0o666 if p in planted else 0o600)  # ours look ours: only their checksum differs
    res = _kernel_child(tmp_path, cache, numba_dir)
    assert not sentinel.exists(), "a planted Numba cache file was unpickled"
    assert res["compiled"]


def test_a_cleared_entry_still_serves_the_process_that_loaded_it(tmp_path):
    """Another process's cache clear removes the files under a compiled function: its source,
    save and first calls work on, from the code that was checked and loaded."""
    from symbackprop.loader.cache import Cache
    from symbackprop.loader.compiled import STAGE_SECONDS_PLACEHOLDER

    t = sp.Symbol("t_cleared", real=True)
    fn = sb.compile(sp.exp(t) * t, [t], cache_dir=tmp_path / "cache")
    assert fn.hessian([0.0])[0, 0] == pytest.approx(2.0)  # the complete module is loaded
    Cache(tmp_path / "cache").clear()
    assert not _generated(tmp_path / "cache")
    assert "def _hessian(" in fn.source
    saved = fn.save(tmp_path / "saved.py").read_text(encoding="utf-8")
    assert "def _hessian(" in saved and STAGE_SECONDS_PLACEHOLDER not in saved
    assert fn.grad([1.0])[0] == pytest.approx(2 * np.e)


# ---- clearing and counting touch only symbackprop's own folders -----------------------------


def _user_data(root: Path) -> dict[Path, bytes]:
    """Folders a user may keep in the folder $SYMBACKPROP_CACHE_DIR names (releases, data
    sets), named like cache layouts."""
    files = {}
    for name in ("v0", "v1", "v2", "v2024"):
        path = root / name / "data" / "table.csv"
        path.parent.mkdir(parents=True)
        path.write_text(f"release,{name}\n1,2\n")
        files[path] = path.read_bytes()
    (root / "notes.txt").write_text("mine")
    files[root / "notes.txt"] = b"mine"
    return files


def test_clear_and_size_touch_only_symbackprops_folders(tmp_path):
    from symbackprop.loader.cache import KERNEL_KEY, TAG, Cache

    root = tmp_path / "shared"
    user = _user_data(root)
    t = sp.Symbol("t_user_data", real=True)
    fn = sb.compile(sp.sin(t) * t**2, [t], cache_dir=root)
    fn.grad([0.5])
    cache = Cache(root)
    assert (cache.base / TAG).read_text().startswith("Signature: 8a477f597d28d172789f06886806bc55")
    ours = [p for p in cache.base.rglob("*") if p.is_file() and p.name not in (TAG, KERNEL_KEY)]
    assert cache.size() == sum(p.stat().st_size for p in ours) > 0  # the user's files not counted
    assert len(cache.entries()) == 1
    assert cache.clear() > 0
    assert (cache.entries(), cache.size()) == ([], 0)
    assert {p: p.read_bytes() for p in user} == user, "clear deleted the user's files"
    again = sb.compile(sp.sin(t) * t**2, [t], cache_dir=root)  # and the cache still works
    assert again.grad([0.5])[0] == pytest.approx(np.cos(0.5) * 0.25 + np.sin(0.5))
