"""Network spec files: TOML text -> a checked ``sb.Sequential``.

Every key is checked before the network is built: unknown keys, wrong types and missing
required keys raise SymbackpropError naming the key and, best-effort, its line.

The schema (``examples/network.toml`` is a commented example)::

    inputs = 2                # required: features per sample (a positive integer)
    loss = "half_sse"         # optional, default "mse": mse, half_sse, cross_entropy,
                              #   binary_cross_entropy, hinge, absolute
    l2 = 0.0                  # optional, default 0: adds l2 * sum of squared weights

    [[layers]]                # one table per layer, in order; at least one
    units = 2                 # required: a positive integer
    activation = "sigmoid"    # optional, default "linear": a name, or a formula in z

    [[layers]]
    type = "maxout"           # optional, default "dense"
    units = 2
    pieces = 3                # maxout only: required, at least 2

A formula activation is read by the safe formula parser (never evaluated as Python) as a
function of ``z``: ``activation = "z / (1 + abs(z))"`` becomes ``sympy.Lambda(z, ...)``.

Line numbers come from scanning the text for the key (TOML readers do not report them), so
they are best-effort: a key written inside an inline table or a quoted key may be reported
without a line, or at the first line that mentions it.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import sympy as sp

from .errors import SymbackpropError
from .frontend.network import ACTIVATION_NAMES, Dense, Maxout
from .networks import Sequential

if sys.version_info >= (3, 11):
    import tomllib
else:  # the same parser, as a backport (a dependency on Python 3.10)
    import tomli as tomllib

TOP_KEYS = {"inputs": "required", "loss": "optional", "l2": "optional", "layers": "required"}
LAYER_KEYS = {"dense": ("type", "units", "activation"), "maxout": ("type", "units", "pieces")}
LAYER_TYPES = tuple(LAYER_KEYS)
_Z = sp.Symbol("z", real=True)


def load_spec(path) -> Sequential:
    """Read the network spec file at ``path`` (TOML) and build the network it describes.

    >>> import pathlib, tempfile
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "net.toml"
    >>> _ = path.write_text('inputs = 2\\n[[layers]]\\nunits = 1\\nactivation = "tanh"\\n')
    >>> load_spec(path)
    Sequential(inputs=2, layers=[Dense(1, 'tanh')], loss='mse', l2=0.0)
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SymbackpropError(f"cannot read network spec {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise SymbackpropError(f"network spec {path} is not UTF-8 text") from None
    return loads_spec(text, source=str(path))


def loads_spec(text: str, source: str = "<spec>") -> Sequential:
    """Build the network a spec's TOML ``text`` describes; ``source`` names it in errors.

    >>> net = loads_spec('''
    ... inputs = 4
    ... loss = "cross_entropy"
    ... [[layers]]
    ... type = "maxout"
    ... units = 3
    ... pieces = 2
    ... [[layers]]
    ... units = 3
    ... activation = "softmax"
    ... ''')
    >>> net.param_shapes()
    {'W1': (2, 3, 4), 'b1': (2, 3), 'W2': (3, 3), 'b2': (3,)}
    >>> loads_spec('inputs = 2\\nunit = 3\\n[[layers]]\\nunits = 1\\n')
    Traceback (most recent call last):
    ...
    symbackprop.errors.SymbackpropError: <spec>, line 2: unknown key 'unit' (known: inputs, loss, l2, layers)
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SymbackpropError(f"{source}: not valid TOML: {exc}") from None
    where = _Locator(text, source)

    unknown = [k for k in data if k not in TOP_KEYS]
    if unknown:
        raise where.error(
            unknown[0], None, f"unknown key {unknown[0]!r} (known: {_known(TOP_KEYS)})"
        )
    for key, need in TOP_KEYS.items():
        if need == "required" and key not in data:
            raise SymbackpropError(f"{source}: missing required key {key!r}")
    inputs = _integer(data["inputs"], "inputs", None, where)
    loss = _typed(data.get("loss", "mse"), str, "a string", "loss", None, where)
    l2 = data.get("l2", 0.0)
    if isinstance(l2, bool) or not isinstance(l2, (int, float)):
        raise where.error("l2", None, f"'l2' must be a number; got {_shown(l2)}")

    tables = data["layers"]
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise where.error("layers", None, "'layers' must be an array of tables ([[layers]])")
    if not tables:
        raise where.error("layers", None, "'layers' is empty: give at least one [[layers]]")
    layers = [_layer(table, k, where) for k, table in enumerate(tables, start=1)]
    try:
        return Sequential(inputs=inputs, layers=layers, loss=loss, l2=float(l2))
    except SymbackpropError as exc:
        key = "loss" if "loss" in str(exc) else "l2" if "l2" in str(exc) else "inputs"
        raise where.error(key, None, str(exc)) from None


def _layer(table: dict, k: int, where: _Locator):
    kind = _typed(table.get("type", "dense"), str, "a string", "type", k, where)
    if kind not in LAYER_KEYS:
        raise where.error(
            "type", k, f"layer {k}: unknown type {kind!r} (known: {', '.join(LAYER_TYPES)})"
        )
    allowed = LAYER_KEYS[kind]
    for key in table:
        if key not in allowed:
            raise where.error(
                key, k, f"layer {k} ({kind}): unknown key {key!r} (known: {', '.join(allowed)})"
            )
    if "units" not in table:
        raise where.error(None, k, f"layer {k}: missing required key 'units'")
    units = _integer(table["units"], "units", k, where)
    if kind == "maxout":
        if "pieces" not in table:
            raise where.error(None, k, f"layer {k} (maxout): missing required key 'pieces'")
        pieces = _integer(table["pieces"], "pieces", k, where)
        try:
            return Maxout(units, pieces)
        except SymbackpropError as exc:
            raise where.error("pieces", k, f"layer {k}: {exc}") from None
    activation = _typed(table.get("activation", "linear"), str, "a string", "activation", k, where)
    try:
        return Dense(units, _activation(activation))
    except SymbackpropError as exc:
        raise where.error("activation", k, f"layer {k}: {exc}") from None


def _activation(text: str):
    """A known name as it is; otherwise a formula in z (parsed safely) as a Lambda."""
    if text in ACTIVATION_NAMES:
        return text
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", text):
        raise SymbackpropError(
            f"unknown activation {text!r}; known: {', '.join(ACTIVATION_NAMES)}, or a formula in z"
        )
    from .analysis.parse import parse

    body = parse(text, [_Z])
    if isinstance(body, sp.MatrixBase) or _Z not in body.free_symbols:
        raise SymbackpropError(f"activation formula {text!r} must be an expression in z")
    return sp.Lambda(_Z, body)


def _integer(value, key: str, layer: int | None, where: _Locator) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        prefix = f"layer {layer}: " if layer else ""
        raise where.error(
            key, layer, f"{prefix}{key!r} must be a positive integer; got {_shown(value)}"
        )
    return value


def _typed(value, kind, what: str, key: str, layer: int | None, where: _Locator):
    if not isinstance(value, kind):
        prefix = f"layer {layer}: " if layer else ""
        raise where.error(key, layer, f"{prefix}{key!r} must be {what}; got {_shown(value)}")
    return value


def _shown(value) -> str:
    kind = {bool: "a boolean", str: "a string", float: "a number", int: "an integer"}.get(
        type(value), "a " + type(value).__name__
    )
    return f"{kind} ({value!r})" if not isinstance(value, (dict, list)) else kind


def _known(keys) -> str:
    return ", ".join(keys)


class _Locator:
    """Finds the line of a key: in the top-level table, or in the k-th [[layers]] table."""

    _HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]*?)\s*\]\]?")

    def __init__(self, text: str, source: str):
        self.source = source
        self.lines = text.splitlines()
        # section of each line: None (top level), ("layers", k) or ("other", name)
        self.sections, section, count = [], None, 0
        for line in self.lines:
            m = self._HEADER.match(line)
            if m:
                name = m.group(2).strip().strip("\"'")
                if m.group(1) == "[[" and name == "layers":
                    count += 1
                    section = ("layers", count)
                else:
                    section = ("other", name)
            self.sections.append(section)

    def line(self, key: str | None, layer: int | None) -> int | None:
        """1-based line of ``key`` in its table (``layer``: the k-th [[layers]]), or None."""
        want = ("layers", layer) if layer else None
        if key is None:  # the table itself: its header line
            for i, s in enumerate(self.sections):
                if s == want:
                    return i + 1
            return None
        pattern = re.compile(rf"^\s*[\"']?{re.escape(key)}[\"']?\s*(=|\.)")
        header = re.compile(rf"^\s*\[\[?\s*[\"']?{re.escape(key)}[\"']?\s*[\].]")
        for i, (text, s) in enumerate(zip(self.lines, self.sections)):
            if (s == want and pattern.match(text)) or (layer is None and header.match(text)):
                return i + 1
        loose = re.compile(rf"(^|[\s{{,])[\"']?{re.escape(key)}[\"']?\s*=")
        for i, text in enumerate(self.lines):  # inline tables, dotted keys: first mention
            if loose.search(text):
                return i + 1
        return None

    def error(self, key: str | None, layer: int | None, message: str) -> SymbackpropError:
        line = self.line(key, layer)
        where = f"{self.source}, line {line}" if line else self.source
        return SymbackpropError(f"{where}: {message}")
