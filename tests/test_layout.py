"""The package layout follows the pipeline: imports flow one way, from the errors and limits up
through IR, front end, derivatives, passes and printer to the loader, the modules that run the
stages, the analysis and training on top, and the command line outermost (never back down).
Folders and top-level modules are ranked alike."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "symbackprop"

# A module may import from its own stage or any stage with a lower rank. A stage is a folder
# or a top-level module (by its name without .py).
RANK = {
    "errors": 0,
    "debug": 0,
    "limits": 1,
    "simplification": 2,
    "ir": 2,
    "frontend": 3,
    "derivatives": 4,
    "passes": 5,
    "cost": 5,
    "printer": 6,
    "loader": 7,
    # They run the stages: scalar functions, networks, SymPy derivatives.
    "pipeline": 8,
    "datamodels": 8,
    "networks": 8,
    "symbolic": 8,
    # On top of the compiler: they use it, it never uses them.
    "analysis": 9,
    "training": 9,
    # Readers of files and the examples tour, then the command line and its entry point.
    "spec": 10,
    "demo": 10,
    "cli": 11,
    "__main__": 12,
}
# The package's __init__.py re-exports the public names of every stage: it is the facade,
# outside the order (``from . import __version__`` in a stage imports no stage).
FACADE = "__init__"

# Upward imports that are allowed, each made inside a function (when it is called), never at
# import time: CompiledNetwork.fit/predict/evaluate hand the model to the training loop.
DELEGATIONS = {("loader/model.py", "training")}


def stage_of(parts: list[str]) -> str | None:
    return parts[0] if parts and parts[0] in RANK else None


def imported_stages(path: Path, source: str | None = None):
    """(line, stage) for each stage a module imports, ``from .. import debug`` included."""
    rel = path.relative_to(PACKAGE).with_suffix("").parts
    for node in ast.walk(ast.parse(path.read_text() if source is None else source)):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(rel[: len(rel) - node.level])
                target = base + (node.module.split(".") if node.module else [])
            elif node.module and node.module.split(".")[0] == "symbackprop":
                target = node.module.split(".")[1:]
            else:
                continue
            stages = {stage_of(target)} - {None}
            if not stages:  # from . import debug: the imported names are the stages
                stages = {stage_of(target + [a.name]) for a in node.names} - {None}
            for stage in sorted(stages):
                yield node.lineno, stage
        elif isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "symbackprop" and stage_of(parts[1:]):
                    yield node.lineno, stage_of(parts[1:])


def source_stage(path: Path) -> str | None:
    return stage_of(list(path.relative_to(PACKAGE).with_suffix("").parts))


def test_every_module_has_a_stage():
    """A new folder or top-level module must be placed in RANK, or its imports go unchecked."""
    unplaced = [
        p.relative_to(PACKAGE).as_posix()
        for p in PACKAGE.rglob("*.py")
        if source_stage(p) is None and p.relative_to(PACKAGE).as_posix() != f"{FACADE}.py"
    ]
    assert not unplaced, unplaced


def test_imports_flow_one_way_down_the_pipeline():
    backwards = []
    for path in PACKAGE.rglob("*.py"):
        source = source_stage(path)
        if source is None:
            continue
        top_level = {n.lineno for n in ast.parse(path.read_text()).body}
        for line, target in imported_stages(path):
            delegated = (path.relative_to(PACKAGE).as_posix(), target) in DELEGATIONS
            delegated = delegated and line not in top_level
            if RANK[target] > RANK[source] and not delegated:
                backwards.append(f"{path.relative_to(PACKAGE)}:{line} ({source} imports {target})")
    assert not backwards, backwards


def test_the_checker_sees_every_form_of_import():
    """Each way of writing an import names its stage, top-level modules included."""
    source = (
        "from .. import debug\nfrom ..cli import main\nfrom symbackprop.loader import cache\n"
        "import symbackprop.pipeline\nfrom . import cse\nfrom .. import __version__\n"
    )
    found = list(imported_stages(PACKAGE / "passes" / "probe.py", source))
    assert found == [(1, "debug"), (2, "cli"), (3, "loader"), (4, "pipeline"), (5, "passes")]


def test_templates_are_files_not_string_literals():
    templates = Path(__file__).resolve().parent.parent / "templates"
    names = {p.name for p in templates.glob("*.tmpl")}
    assert {"module.py.tmpl", "helpers.py.tmpl", "scalar_api.py.tmpl"} <= names
