"""The ``symbackprop`` command line (Click): formulas typed by a person -> derivatives, checks,
critical points, explanations and standalone modules; one module per command (or group of
related commands), the group and its errors in ``group.py``.

Every formula is read by the safe parser (``analysis/parse.py``), never evaluated as Python.
Exit statuses: 0 done (``check``: the claim is right), 1 ``check`` found the claim wrong (or
could not decide) or the work failed, 2 unusable input (Click's usage errors, and every
SymbackpropError, printed as one ``error: ...`` line on stderr). ``--json`` prints one JSON
object on stdout; colour is used only on a terminal (``--no-color`` or $NO_COLOR turn it off).

>>> from click.testing import CliRunner
>>> print(CliRunner().invoke(main, ["grad", "x^2 y + y", "--wrt", "x,y"]).output, end="")
f = x**2*y + y
df/dx = 2*x*y
df/dy = x**2 + 1
>>> r = CliRunner().invoke(main, ["check", "log(x)", "--claimed", "1/x^2"])
>>> r.exit_code, r.output.splitlines()[1]
(1, 'wrong: at x=0.3, expected 3.33333, claimed 11.1111')
"""

from __future__ import annotations

from .cache import cache_group
from .check import check_command
from .compile import compile_command, compile_net_command
from .critical import critical_command
from .demo import demo
from .derivatives import grad_command, hessian_command, jacobian_command
from .explain import explain_command
from .group import main

COMMANDS = (
    demo,
    grad_command,
    jacobian_command,
    hessian_command,
    critical_command,
    check_command,
    explain_command,
    compile_command,
    compile_net_command,
    cache_group,
)
for _command in COMMANDS:
    main.add_command(_command)

__all__ = ["main"]
