"""Every snippet in README.md runs as written, and prints what the README says it prints.

A ```python block runs in a fresh interpreter in an empty folder; when a ```text block follows
it directly, its stdout must match that text. A ```console block holds ``$ symbackprop ...``
lines, each followed by its output: each runs through Click's CliRunner and must print that
output and exit 0 (or the status a trailing ``# exit status N`` comment names). In expected
output, ``...`` matches any text (line counts and the like, which change with the generator).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import CliRunner

from symbackprop.cli import main

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
_EXIT = re.compile(r"\s+#\s*exit status (\d+)\s*$")


def blocks() -> list[tuple[str, str, int, int]]:
    """(language, body, start, end) of every fenced block, in order."""
    return [(m.group(1), m.group(2), m.start(), m.end()) for m in _FENCE.finditer(README)]


def python_snippets() -> list[tuple[str, str | None]]:
    """(code, expected stdout or None) for every python block."""
    found, items = [], blocks()
    for k, (lang, body, _, end) in enumerate(items):
        if lang != "python":
            continue
        expected = None
        if k + 1 < len(items):
            nxt_lang, nxt_body, nxt_start, _ = items[k + 1]
            if nxt_lang == "text" and not README[end:nxt_start].strip():
                expected = nxt_body
        found.append((body, expected))
    return found


def console_commands() -> list[tuple[list[str], int, str]]:
    """(arguments after 'symbackprop', exit status, expected output) per '$ ' line."""
    found = []
    for lang, body, _, _ in blocks():
        if lang != "console":
            continue
        for chunk in re.split(r"^\$ ", body, flags=re.MULTILINE)[1:]:
            command, _, output = chunk.partition("\n")
            status = 0
            m = _EXIT.search(command)
            if m:
                status, command = int(m.group(1)), command[: m.start()]
            words = shlex.split(command)
            assert words[0] == "symbackprop", command
            found.append((words[1:], status, output))
    return found


def matches(expected: str, actual: str) -> bool:
    """Equal up to trailing whitespace, '...' matching any text."""
    norm = lambda s: "\n".join(line.rstrip() for line in s.strip().splitlines())  # noqa: E731
    pattern = ".*?".join(re.escape(part) for part in norm(expected).split("..."))
    return re.fullmatch(pattern, norm(actual), re.DOTALL) is not None


PYTHON = python_snippets()
CONSOLE = console_commands()


def test_the_readme_has_snippets_of_every_kind():
    assert len(PYTHON) >= 4 and sum(e is not None for _, e in PYTHON) >= 3
    commands = {args[0] for args, _, _ in CONSOLE}
    assert {"compile", "check", "critical", "grad", "explain", "compile-net"} <= commands


def test_quick_start_commands():
    """The two commands, and .ci/run running the second."""
    quick = README.split("## Quick start", 1)[1].split("##", 1)[0]
    assert "pip install . && symbackprop demo\n" in quick
    assert 'pip install -e ".[test]" && python -m pytest\n' in quick
    ci = (ROOT / ".ci" / "run").read_text()
    assert 'pip install -e ".[test]" && python -m pytest' in ci
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'symbackprop = "symbackprop.cli:main"' in pyproject


@pytest.fixture(scope="module")
def python_results(tmp_path_factory):
    """Each python block run once in its own empty folder, concurrently (each pays imports)."""

    def run(k):
        cwd = tmp_path_factory.mktemp(f"readme_python_{k}")
        done = subprocess.run(
            [sys.executable, "-c", PYTHON[k][0]],
            cwd=cwd, env=dict(os.environ), capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        return done

    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        return list(pool.map(run, range(len(PYTHON))))


@pytest.mark.parametrize("k", range(len(PYTHON)), ids=lambda k: f"python{k}")
def test_python_snippet_runs(python_results, k):
    code, expected = PYTHON[k]
    done = python_results[k]
    assert done.returncode == 0, f"{code}\n--- stderr:\n{done.stderr}"
    if expected is not None:
        assert matches(expected, done.stdout), f"expected:\n{expected}\ngot:\n{done.stdout}"


@pytest.mark.parametrize("k", range(len(CONSOLE)), ids=lambda k: " ".join(CONSOLE[k][0][:1]))
def test_console_snippet(tmp_path, monkeypatch, k):
    args, status, expected = CONSOLE[k]
    (tmp_path / "examples").mkdir()
    shutil.copy(ROOT / "examples" / "network.toml", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)  # files the commands write land here
    result = CliRunner().invoke(main, args, prog_name="symbackprop")
    assert result.exit_code == status, result.output
    assert matches(expected, result.stdout), f"expected:\n{expected}\ngot:\n{result.stdout}"


def test_matches():
    assert matches("wrote m.py (... lines): ok\n", "wrote m.py (385 lines): ok")
    assert not matches("a\nb", "a\nc")
