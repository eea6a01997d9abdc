"""The package layout follows the pipeline: imports flow one way, from the IR up through
front end, derivatives, passes and printer to the loader (never back down)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "symbackprop"

# A module may import from its own stage or any stage with a lower rank.
RANK = {
    "errors": 0,
    "ir": 1,
    "frontend": 2,
    "derivatives": 3,
    "passes": 4,
    "cost": 4,
    "printer": 5,
    "loader": 6,
    # On top of the compiler: they use it, it never uses them.
    "analysis": 7,
    "training": 7,
}


# Upward imports that are allowed, each made inside a function (when it is called), never at
# import time: CompiledNetwork.fit/predict/evaluate hand the model to the training loop.
DELEGATIONS = {("loader/model.py", "training")}


def stage_of(parts: list[str]) -> str | None:
    return parts[0] if parts and parts[0] in RANK else None


def imported_stages(path: Path):
    rel = path.relative_to(PACKAGE).with_suffix("").parts
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = list(rel[: len(rel) - node.level])
                target = base + (node.module.split(".") if node.module else [])
            elif node.module and node.module.startswith("symbackprop."):
                target = node.module.split(".")[1:]
            else:
                continue
            if stage_of(target):
                yield node.lineno, stage_of(target)


def test_imports_flow_one_way_down_the_pipeline():
    backwards = []
    for path in PACKAGE.rglob("*.py"):
        source = stage_of(list(path.relative_to(PACKAGE).with_suffix("").parts))
        if source is None:
            continue
        for line, target in imported_stages(path):
            top_level = {n.lineno for n in ast.parse(path.read_text()).body}
            delegated = (path.relative_to(PACKAGE).as_posix(), target) in DELEGATIONS
            delegated = delegated and line not in top_level
            if RANK[target] > RANK[source] and not delegated:
                backwards.append(f"{path.relative_to(PACKAGE)}:{line} ({source} imports {target})")
    assert not backwards, backwards


def test_templates_are_files_not_string_literals():
    templates = Path(__file__).resolve().parent.parent / "templates"
    names = {p.name for p in templates.glob("*.tmpl")}
    assert {"module.py.tmpl", "helpers.py.tmpl", "scalar_api.py.tmpl"} <= names
