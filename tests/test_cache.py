"""The on-disk code cache: a second process loads the compiled function instead of compiling it;
the cache folder comes from $SYMBACKPROP_CACHE_DIR or the cache_dir argument; corrupted or
deleted entries are rebuilt; processes compiling the same function at once all succeed and
leave no temporary files behind.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
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
def test_cache_folders_are_private_and_a_foreign_one_is_not_used(tmp_path, monkeypatch):
    from symbackprop.loader import cache as cache_module

    root = tmp_path / "cache"
    root.mkdir(mode=0o755)
    c = cache_module.Cache(root)
    for d in (c.base, c.base / "modules", c.base / "index"):
        assert d.stat().st_mode & 0o777 == 0o700, d
    real = os.getuid()
    monkeypatch.setattr(cache_module, "_uid", lambda: real + 1)
    with pytest.warns(RuntimeWarning, match="belongs to another user"):
        other = cache_module.Cache(root)
    assert other.root != root


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
