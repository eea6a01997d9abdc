"""Data files for the command line -> arrays by name: .npz (arrays by their names) or .csv (a
header row of column names; a 2-D array X is the columns X_0, X_1, ... in order).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np

from ..errors import SymbackpropError


def read_arrays(path, names) -> dict[str, np.ndarray]:
    """The arrays ``names`` from the file at ``path``, as float64.

    >>> import tempfile, os
    >>> folder = tempfile.mkdtemp()
    >>> p = os.path.join(folder, "d.csv")
    >>> _ = open(p, "w").write("t,y,X_0,X_1\\n0,1,2,3\\n1,0.5,4,5\\n")
    >>> data = read_arrays(p, ["t", "X"])
    >>> data["t"], data["X"].shape
    (array([0., 1.]), (2, 2))
    """
    path = Path(path)
    if not path.is_file():
        raise SymbackpropError(f"data file {path} does not exist")
    suffix = path.suffix.lower()
    if suffix == ".npz":
        return _npz(path, names)
    if suffix == ".csv":
        return _csv(path, names)
    raise SymbackpropError(f"data file {path.name}: give a .npz or a .csv file")


def _npz(path: Path, names) -> dict[str, np.ndarray]:
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as error:
        raise SymbackpropError(f"cannot read {path.name} as .npz: {error}") from None
    with archive:
        missing = [n for n in names if n not in archive.files]
        if missing:
            raise SymbackpropError(
                f"{path.name} has no array {', '.join(missing)} (it has "
                f"{', '.join(archive.files) or 'none'})"
            )
        out = {}
        for n in names:
            try:
                out[n] = np.asarray(archive[n], dtype=np.float64)
            except (TypeError, ValueError):
                raise SymbackpropError(f"{path.name}: array {n} is not numbers") from None
        return out


def _csv(path: Path, names) -> dict[str, np.ndarray]:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        raise SymbackpropError(f"{path.name} is empty: expected a header row of column names")
    header = [h.strip() for h in rows[0]]
    try:
        values = np.array([[float(v) for v in r] for r in rows[1:] if r], dtype=np.float64)
    except ValueError as error:
        raise SymbackpropError(f"{path.name}: not a table of numbers ({error})") from None
    values = values.reshape(-1, len(header))
    out = {}
    for n in names:
        if n in header:
            out[n] = values[:, header.index(n)].copy()
            continue
        columns = sorted(
            (int(m.group(1)), k)
            for k, h in enumerate(header)
            if (m := re.fullmatch(rf"{re.escape(n)}_(\d+)", h))
        )
        if not columns or [c for c, _ in columns] != list(range(len(columns))):
            raise SymbackpropError(
                f"{path.name} has no column {n} (nor columns {n}_0, {n}_1, ...); its columns: "
                f"{', '.join(header)}"
            )
        out[n] = values[:, [k for _, k in columns]]
    return out
