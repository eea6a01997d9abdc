"""fn.save(path) writes a standalone module: it imports and runs in a fresh interpreter where
sympy and symbackprop cannot be imported, gives the in-process numbers, and `python module.py`
self-checks against central differences.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import sympy as sp

import symbackprop as sb

from strategies import reference

x, y, z = sp.symbols("x y z", real=True)
SCALAR_EXPR = (
    sp.exp(x) * sp.sin(y)
    + sp.log(1 + z**2) * x
    + sb.sigmoid(y * z)
    + sb.relu(x - z)
    + sp.sqrt(1 + x**2 * y**2)
)
VECTOR_EXPRS = [x * y, sp.sin(x) + y**2, sb.softplus(x - y)]
ALLOWED_IMPORTS = {"numpy", "numba", "math"}

# Run before anything else in the child: sympy and symbackprop become unimportable.
BLOCK_PRELUDE = textwrap.dedent("""
    import sys
    for _name in ("sympy", "symbackprop", "mpmath"):
        sys.modules[_name] = None   # "import sympy" now raises ImportError
""")


def _blocker_dir(root: Path) -> Path:
    """A folder that, first on PYTHONPATH, shadows sympy and symbackprop with modules that
    raise ImportError (for running `python module.py` as a plain script)."""
    d = root / "blocker"
    for name in ("sympy", "symbackprop"):
        (d / name).mkdir(parents=True, exist_ok=True)
        (d / name / "__init__.py").write_text(
            f"raise ImportError('{name} is blocked: the saved module must not need it')\n"
        )
    return d


def _child_env(blocker: Path | None = None) -> dict:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    if blocker is not None:
        env["PYTHONPATH"] = str(blocker)
    env.setdefault("NUMBA_NUM_THREADS", "2")
    return env


def _run(args, env, cwd, timeout=300):
    proc = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    return proc


CHILD = BLOCK_PRELUDE + textwrap.dedent("""
    import importlib, json, os
    import numpy as np

    module_path, points_path, out_path, vector = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    # imported the way a user deploys it: its folder on sys.path, then import by file name
    sys.path.insert(0, os.path.dirname(module_path))
    m = importlib.import_module(os.path.splitext(os.path.basename(module_path))[0])
    P = np.load(points_path)
    X, V = P["X"], P["V"]
    out = {}
    if vector == "1":
        out["value"] = np.array([m.value(r) for r in X])
        out["jacobian"] = np.array([m.jacobian(r) for r in X])
        for name in ("grad", "hessian", "value_and_grad"):
            try:
                getattr(m, name)(X[0])
                out[name + "_raised"] = np.array(0)
            except Exception:
                out[name + "_raised"] = np.array(1)
    else:
        out["value"] = np.array([m.value(r) for r in X])
        out["grad"] = np.array([m.grad(r) for r in X])
        vg = [m.value_and_grad(r) for r in X]
        out["vg_value"] = np.array([v for v, _ in vg])
        out["vg_grad"] = np.array([g for _, g in vg])
        out["hessian"] = np.array([m.hessian(r) for r in X])
        out["hvp"] = np.array([m.hvp(r, v) for r, v in zip(X, V)])
    loaded = sorted(k for k, v in sys.modules.items()
                    if v is not None and k.split(".")[0] in ("sympy", "symbackprop", "mpmath"))
    out["forbidden_loaded"] = np.array(json.dumps(loaded))
    np.savez(out_path, **out)
""")


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Compile, save (BEFORE any in-process Hessian call: save must include the lazily generated
    second derivatives), and evaluate the saved modules in a fresh interpreter."""
    root = tmp_path_factory.mktemp("saved")
    scalar = sb.compile(SCALAR_EXPR, [x, y, z])
    vector = sb.compile(VECTOR_EXPRS, [x, y])
    scalar_path = scalar.save(root / "scalar_grad.py")
    vector_path = vector.save(root / "vector_jac.py")
    assert Path(scalar_path) == root / "scalar_grad.py"
    rng = np.random.default_rng(3)
    X3 = rng.uniform(-1.5, 1.5, (4, 3))
    X2 = X3[:, :2].copy()
    np.savez(root / "points3.npz", X=X3, V=rng.standard_normal((4, 3)))
    np.savez(root / "points2.npz", X=X2, V=np.zeros((4, 2)))
    (root / "child.py").write_text(CHILD)
    outs = {}
    for label, path, pts, vec in [
        ("scalar", scalar_path, "points3.npz", "0"),
        ("vector", vector_path, "points2.npz", "1"),
    ]:
        proc = _run(
            [
                sys.executable,
                str(root / "child.py"),
                str(path),
                str(root / pts),
                str(root / f"{label}_out.npz"),
                vec,
            ],
            _child_env(),
            cwd=root,
        )
        assert proc.returncode == 0, f"{label} child failed:\n{proc.stdout}\n{proc.stderr}"
        outs[label] = dict(np.load(root / f"{label}_out.npz"))
    return dict(
        root=root,
        scalar=scalar,
        vector=vector,
        scalar_path=Path(scalar_path),
        vector_path=Path(vector_path),
        X3=X3,
        X2=X2,
        V3=np.load(root / "points3.npz")["V"],
        outs=outs,
    )


def test_saved_scalar_module_matches_in_process(saved):
    fn, out, X, V = saved["scalar"], saved["outs"]["scalar"], saved["X3"], saved["V3"]
    assert json.loads(str(out["forbidden_loaded"])) == []
    for r in range(len(X)):
        np.testing.assert_allclose(out["value"][r], fn(X[r]), rtol=1e-13)
        np.testing.assert_allclose(out["grad"][r], fn.grad(X[r]), rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(out["vg_value"][r], fn(X[r]), rtol=1e-13)
        np.testing.assert_allclose(out["vg_grad"][r], fn.grad(X[r]), rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(out["hessian"][r], fn.hessian(X[r]), rtol=1e-13, atol=1e-14)
        np.testing.assert_allclose(out["hvp"][r], fn.hvp(X[r], V[r]), rtol=1e-13, atol=1e-14)
    # and the in-process numbers are right (sympy as the oracle)
    ref = reference(SCALAR_EXPR, [x, y, z])
    np.testing.assert_allclose(out["hessian"][0], ref.hessian(X[0]), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(out["grad"][1], ref.grad(X[1]), rtol=1e-9, atol=1e-12)


def test_saved_vector_module_matches_in_process(saved):
    fn, out, X = saved["vector"], saved["outs"]["vector"], saved["X2"]
    assert json.loads(str(out["forbidden_loaded"])) == []
    assert out["value"].shape == (len(X), 3) and out["jacobian"].shape == (len(X), 3, 2)
    for r in range(len(X)):
        np.testing.assert_allclose(out["value"][r], fn(X[r]), rtol=1e-13)
        np.testing.assert_allclose(out["jacobian"][r], fn.jacobian(X[r]), rtol=1e-13, atol=1e-15)
    # grad/hessian/value_and_grad of a vector function are errors, not wrong numbers
    assert out["grad_raised"] == 1 and out["hessian_raised"] == 1
    assert out["value_and_grad_raised"] == 1


@pytest.mark.parametrize("which", ["scalar_path", "vector_path"])
def test_running_the_saved_module_self_checks_and_exits_0(saved, which):
    path = saved[which]
    blocker = _blocker_dir(saved["root"])
    env = _child_env(blocker)
    # the blocker really blocks
    probe = _run([sys.executable, "-c", "import symbackprop"], env, cwd=saved["root"])
    assert probe.returncode != 0 and "blocked" in probe.stderr
    probe = _run([sys.executable, "-c", "import sympy"], env, cwd=saved["root"])
    assert probe.returncode != 0 and "blocked" in probe.stderr

    proc = _run([sys.executable, str(path)], env, cwd=saved["root"])
    print(proc.stdout)
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}"
    assert proc.stdout.strip(), "the self-check should report what it checked"


def test_self_check_catches_a_wrong_gradient(saved):
    """The self-check is a real check: a module whose grad is off by 1% exits non-zero."""
    text = saved["scalar_path"].read_text(encoding="utf-8")
    guard = re.search(r"^if __name__ == ['\"]__main__['\"]:", text, flags=re.M)
    if guard is None:
        pytest.skip("no __main__ guard found to insert the tampering before")
    tamper = "_true_grad = grad\n\n\ndef grad(x):\n    return _true_grad(x) * 1.01\n\n\n"
    bad = saved["root"] / "tampered.py"
    bad.write_text(text[: guard.start()] + tamper + text[guard.start() :], encoding="utf-8")
    proc = _run(
        [sys.executable, str(bad)], _child_env(_blocker_dir(saved["root"])), cwd=saved["root"]
    )
    assert proc.returncode != 0, f"tampered gradient passed the self-check:\n{proc.stdout}"


def test_running_the_saved_module_after_importing_it_under_another_name(saved):
    path = saved["root"] / "renamed_import.py"
    saved["vector"].save(path)
    env = _child_env(_blocker_dir(saved["root"]))
    code = BLOCK_PRELUDE + textwrap.dedent(f"""
        import importlib.util
        spec = importlib.util.spec_from_file_location("my_jacobian", {str(path)!r})
        m = importlib.util.module_from_spec(spec)
        sys.modules["my_jacobian"] = m
        spec.loader.exec_module(m)
        print(m.jacobian([1.0, 2.0]))
    """)
    first = _run([sys.executable, "-c", code], env, cwd=saved["root"])
    assert first.returncode == 0, first.stderr
    proc = _run([sys.executable, str(path)], env, cwd=saved["root"])
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr[-1500:]}"


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            names.add((node.module or "").split(".")[0] if node.level == 0 else ".")
    return names


@pytest.mark.parametrize("which", ["scalar_path", "vector_path"])
def test_saved_module_imports_only_numpy_numba_math(saved, which):
    assert _imported_modules(saved[which]) <= ALLOWED_IMPORTS


def test_saved_modules_define_the_contract_functions(saved):
    def defined(path):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = set()
        for node in tree.body:
            if isinstance(node, ast.FunctionDef):
                names.add(node.name)
            elif isinstance(node, ast.Assign):
                for t in node.targets:
                    names.update(n.id for n in ast.walk(t) if isinstance(n, ast.Name))
        return names

    scalar = defined(saved["scalar_path"])
    assert {"value", "grad", "value_and_grad", "hessian", "hvp"} <= scalar
    vector = defined(saved["vector_path"])
    assert {"value", "jacobian"} <= vector


def test_header_names_expression_and_variables(saved):
    for which, exprs in [("scalar_path", [SCALAR_EXPR]), ("vector_path", VECTOR_EXPRS)]:
        text = saved[which].read_text(encoding="utf-8")
        doc = ast.get_docstring(ast.parse(text))
        assert doc, f"{which}: the saved module has no docstring header"
        for e in exprs:
            assert str(e) in doc, f"{which}: header does not show {e}"
        names = ["x", "y", "z"] if which == "scalar_path" else ["x", "y"]
        assert re.search(r"\b" + r",\s*".join(names) + r"\b", doc), doc


def test_header_mentions_constants(tmp_path):
    a, b = sp.symbols("a b")
    fn = sb.compile(a * x**2 + b * y, [x, y], constants={a: 2.5, b: -1})
    doc = ast.get_docstring(ast.parse(fn.save(tmp_path / "with_constants.py").read_text()))
    assert "2.5" in doc and re.search(r"\ba\b", doc) and re.search(r"\bb\b", doc), doc


def test_save_rejects_bad_paths(saved, tmp_path):
    fn = saved["scalar"]
    with pytest.raises(sb.SymbackpropError, match="missing_folder"):
        fn.save(tmp_path / "missing_folder" / "m.py")
    assert not (tmp_path / "missing_folder").exists()
    with pytest.raises(sb.SymbackpropError):
        fn.save(tmp_path / "module.txt")
    assert not (tmp_path / "module.txt").exists()


def test_save_overwrites_and_accepts_str_paths(saved, tmp_path):
    fn = saved["scalar"]
    target = tmp_path / "again.py"
    target.write_text("stale = True\n")
    fn.save(str(target))

    def code(path):  # the stage-timings line records when each copy was saved
        return [ln for ln in path.read_text().splitlines() if not ln.startswith("Compile stages")]

    assert code(target) == code(saved["scalar_path"])
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))
