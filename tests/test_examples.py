"""Every example runs as written (examples nobody runs rot)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.py"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(path):
    out = subprocess.run([sys.executable, str(path)], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.strip()
    for text in EXPECTED.get(path.name, ()):
        assert text in out.stdout, f"{path.name} does not print {text!r}"
    if path.name in CHECKS:
        CHECKS[path.name](out.stdout)


# What some examples must show, beyond running.
EXPECTED = {
    "lecture_check.py": (
        "claims checked:",
        "WRONG",
        "0.298371109",  # the worked example's loss (the notes say 0.275)
        "0.646 is not an eigenvalue",  # the notes' eigenvalue of the 3-variable quadratic
    ),
}


def _fewer_evaluations_with_jacobian(stdout: str) -> None:
    """van_der_pol.py: Radau with the compiled Jacobian needs fewer right-hand-side calls."""
    counts = {
        m.group(1).strip(): int(m.group(2))
        for m in re.finditer(
            r"^  (with jac=rhs.jacobian|finite-difference Jacobian)\s+(\d+) "
            r"right-hand-side evaluations",
            stdout,
            re.M,
        )
    }
    assert len(counts) == 2, stdout
    assert counts["with jac=rhs.jacobian"] < counts["finite-difference Jacobian"], counts


def _estimates_near_truth(stdout: str) -> None:
    """gaussian_mixture.py: both fits print estimates within 0.05 of the truth."""
    truth = dict(re.findall(r"(\w+) = (-?[\d.]+)", stdout.split("truth:")[1].splitlines()[0]))
    fits = re.findall(r"^  (?:trust-exact|Newton-CG) +(.*)$", stdout, re.M)
    assert len(fits) == 2, stdout
    for line in fits:
        got = dict(re.findall(r"(\w+) = (-?[\d.]+)", line.split("(")[0]))
        assert got.keys() == truth.keys(), (got, truth)
        for k in truth:
            assert abs(float(got[k]) - float(truth[k])) < 0.05, (k, got, truth)


def _decay_fit_near_truth(stdout: str) -> None:
    """fit_exponential_decay.py: each parameter within 0.05 of the truth."""
    rows = re.findall(r"^  ([abc]) = (-?[\d.]+) \+- [\d.]+ +\(truth (-?[\d.]+)\)", stdout, re.M)
    assert [r[0] for r in rows] == ["a", "b", "c"], stdout
    for _, got, want in rows:
        assert abs(float(got) - float(want)) < 0.05, rows


# Checks on what some examples print, beyond fixed text.
CHECKS = {
    "van_der_pol.py": _fewer_evaluations_with_jacobian,
    "gaussian_mixture.py": _estimates_near_truth,
    "fit_exponential_decay.py": _decay_fit_near_truth,
}
