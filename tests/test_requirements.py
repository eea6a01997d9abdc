"""What a generated module needs installed is what its header's ``Requires:`` line says, and a
missing package is an ImportError naming it, never an aborted interpreter.

Numba compiles ``np.dot`` to a call into SciPy's BLAS wrappers; code loaded from Numba's cache
skips Numba's import check, and without SciPy its first matrix product used to abort the process
("Fatal Python error: BLAS wrapper returned with an error", exit 134). ``.ci/fresh-install`` runs
the same modules in real venvs holding only the header's packages; here SciPy is hidden in a
child process (``sys.modules["scipy"] = None``), which is what Numba's C helper then meets.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import sympy as sp

import symbackprop as sb

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

STDLIB = set(sys.stdlib_module_names)
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def modules(tmp_path_factory):
    """A saved network module (matrix products) and a saved scalar module (none)."""
    root = tmp_path_factory.mktemp("requirements")
    net = sb.Sequential(inputs=2, layers=[sb.Dense(3, "tanh"), sb.Dense(1, "sigmoid")],
                        loss="binary_cross_entropy")
    x, y = sp.symbols("x y")
    net.compile().save(root / "net_module.py")
    sb.compile(sp.exp(x) * sp.sin(y) + sb.softplus(y), [x, y]).save(root / "fn_module.py")
    return root


def _requires(path: Path) -> set[str]:
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.startswith("Requires:")]
    assert len(lines) == 1, f"{path.name} should have one 'Requires:' header line"
    return set(re.sub(r"\(.*", "", lines[0][len("Requires:"):]).replace(",", " ").split())


def _third_party_imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names.add(node.module.split(".")[0])
    return names - STDLIB


def _run(code: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def test_headers_name_what_the_code_imports_and_what_numba_calls(modules):
    net, fn = modules / "net_module.py", modules / "fn_module.py"
    assert _requires(net) == {"numpy", "numba", "scipy"}  # np.dot: BLAS through SciPy
    assert _requires(fn) == {"numpy", "numba"}  # straight-line scalar code: no BLAS
    for path in (net, fn):
        assert _third_party_imports(path) <= _requires(path)
        assert ("np.dot(" in path.read_text(encoding="utf-8")) == ("scipy" in _requires(path))


def test_the_package_depends_on_what_its_generated_code_needs():
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime = {re.split(r"[<>=;\[ ]", d)[0].lower() for d in project["dependencies"]}
    assert {"numpy", "numba", "scipy"} <= runtime


def test_a_network_module_without_scipy_says_so_instead_of_aborting(modules):
    # A first process (SciPy present) fills Numba's cache; the second loads those kernels.
    warm = _run("""
        import numpy as np, net_module as m
        W1, b1, W2, b2 = np.ones((3, 2)), np.zeros(3), np.ones((1, 3)), np.zeros(1)
        print(m.forward(W1, b1, W2, b2, np.ones((4, 2))).shape)
    """, modules)
    assert warm.returncode == 0, warm.stderr
    cold = _run("""
        import sys
        sys.modules["scipy"] = None  # as in a venv without SciPy
        import numpy as np, net_module as m
        W1, b1, W2, b2 = np.ones((3, 2)), np.zeros(3), np.ones((1, 3)), np.zeros(1)
        m.forward(W1, b1, W2, b2, np.ones((4, 2)))
    """, modules)
    assert cold.returncode == 1, (cold.returncode, cold.stderr[-2000:])  # -6 was the abort
    assert "ImportError: this module needs scipy installed (pip install scipy)" in cold.stderr
    assert "Fatal Python error" not in cold.stderr


def test_a_scalar_module_runs_without_scipy(modules):
    proc = _run("""
        import sys
        sys.modules["scipy"] = None
        import runpy
        sys.argv = ["fn_module.py"]
        runpy.run_path("fn_module.py", run_name="__main__")
    """, modules)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "grad     ok" in proc.stdout
