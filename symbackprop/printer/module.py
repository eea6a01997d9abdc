"""Assembles a generated module: templates/ hold the file structure, this fills it in.

Templates are rendered strictly: a placeholder without a value, or a value without a
placeholder, is an error (string.Template would otherwise leave ``$name`` in the output).
"""

from __future__ import annotations

import hashlib
import string
from functools import cache
from pathlib import Path

from ..errors import SymbackpropError
from ..limits import measure

_PACKAGE = Path(__file__).resolve().parent.parent


@cache
def template_dir() -> Path:
    """The templates folder: inside the installed package, or at the root of a source checkout."""
    for candidate in (_PACKAGE / "templates", _PACKAGE.parent / "templates"):
        if (candidate / "module.py.tmpl").is_file():
            return candidate
    raise SymbackpropError("symbackprop's templates folder is missing from the installation")


@cache
def template_text(name: str) -> str:
    return (template_dir() / name).read_text(encoding="utf-8")


@cache
def generator_digest() -> str:
    """Hash of every template and every source file of the package: any change to how code is
    generated changes the cache key, so a stale entry is never loaded for new code."""
    h = hashlib.sha256()
    files = sorted(template_dir().glob("*.tmpl")) + sorted(_PACKAGE.rglob("*.py"))
    for path in files:
        h.update(str(path.relative_to(path.parent.parent)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()


# Cached modules must be byte-identical for equal requests (concurrent builds write the same
# file), so they carry this placeholder; save() writes this process's stage timings instead.
STAGE_SECONDS_PLACEHOLDER = "written by save() (cached copies leave them out)"


def brief(expr, limit: int) -> str:
    """str(expr) cut to ``limit`` characters; large trees are not printed at all (SymPy's
    printer sorts terms and takes seconds on expressions with thousands of nodes)."""
    text = None
    if measure([expr]).tree_size <= limit:
        try:
            text = str(expr)
        except RecursionError:  # SymPy's printer recurses: a deep chain of few nodes
            pass
    if text is None:
        return (
            f"<expression with more than {limit} nodes or too deep to print: "
            f"{type(expr).__name__} of {len(expr.args)} terms>"
        )
    return text if len(text) <= limit else text[: limit - 5] + " ..."


def docstring_safe(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')


# Packages a generated module may need beyond numpy and numba, and why (its header says so).
OPTIONAL_PACKAGES = {
    "scipy": "Numba calls BLAS through SciPy for np.dot",
}


def requirement_fields(packages) -> dict[str, str]:
    """The ``requirements`` header line and the import-time ``requirement_checks`` of a module
    whose printed code needs ``packages`` (NumbaPrinter.packages).

    >>> fields = requirement_fields({"numpy", "numba", "scipy"})
    >>> print(fields["requirements"])
    Requires: numpy, numba, scipy (Numba calls BLAS through SciPy for np.dot).
    >>> requirement_fields({"numpy", "numba"})
    {'requirements': 'Requires: numpy, numba (nothing else).', 'requirement_checks': ''}
    """
    unknown = set(packages) - {"numpy", "numba"} - OPTIONAL_PACKAGES.keys()
    if unknown:
        raise SymbackpropError(f"generated code needs unknown package(s) {sorted(unknown)}")
    extra = [p for p in OPTIONAL_PACKAGES if p in packages]
    names = ", ".join(["numpy", "numba"] + extra)
    why = "; ".join(OPTIONAL_PACKAGES[p] for p in extra) or "nothing else"
    checks = "\n".join(
        render("requirement_check.py.tmpl", package=p, why=OPTIONAL_PACKAGES[p]) for p in extra
    )
    return {
        "requirements": f"Requires: {names} ({why}).",
        "requirement_checks": "import importlib.util\n\n" + checks if checks else "",
    }


def render(name: str, **fields: str) -> str:
    """Fill template ``name`` with exactly the placeholders it declares.

    >>> render("module.py.tmpl", title="t")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    symbackprop.errors.SymbackpropError: template module.py.tmpl: no value for placeholder(s) ...
    """
    template = string.Template(template_text(name))
    wanted = set(template.get_identifiers())
    missing, extra = wanted - fields.keys(), fields.keys() - wanted
    if missing:
        raise SymbackpropError(f"template {name}: no value for placeholder(s) {sorted(missing)}")
    if extra:
        raise SymbackpropError(f"template {name}: no placeholder for field(s) {sorted(extra)}")
    return template.substitute(fields)
