"""The Click group every command hangs from: its options, its exit statuses, and the two error
classes that turn a SymbackpropError (exit 2) or a failed piece of work (exit 1) into one
``error: ...`` line on stderr.
"""

from __future__ import annotations

import os
import sys

import click

from ..errors import SymbackpropError

EXIT_OK, EXIT_WRONG, EXIT_UNUSABLE = 0, 1, 2


class Unusable(click.ClickException):
    """Input the library refused: one ``error: ...`` line, exit status 2.

    >>> Unusable("x is not a symbol").exit_code
    2
    """

    exit_code = EXIT_UNUSABLE

    def show(self, file=None) -> None:
        click.echo(f"error: {self.format_message()}", file=file or sys.stderr, err=file is None)


class Failed(click.ClickException):
    """Work that could not be done (a file not written, graphviz missing): exit status 1.

    >>> Failed("cannot write m.py").exit_code
    1
    """

    exit_code = EXIT_WRONG

    def show(self, file=None) -> None:
        click.echo(f"error: {self.format_message()}", file=file or sys.stderr, err=file is None)


class Command(click.Command):
    """A command whose formula arguments may start with '-' ("-x^2 + y") without ``--``.

    Click would read such an argument as an unknown short option. Before parsing, every token
    that starts with a single '-' and is not an option this command knows (or the value of
    one) is moved after a ``--`` with the other positional arguments, in order.

    >>> @click.command(cls=Command)
    ... @click.argument("expr")
    ... def show(expr):
    ...     click.echo(expr)
    >>> from click.testing import CliRunner
    >>> CliRunner().invoke(show, ["-x^2"]).output
    '-x^2\\n'
    """

    def parse_args(self, ctx, args):
        return super().parse_args(ctx, _formulas_last(self, ctx, list(args)))


class Group(click.Group):
    """The top-level group: turns SymbackpropError and OSError into one-line errors.

    >>> from click.testing import CliRunner
    >>> CliRunner().invoke(main, ["--version"]).exit_code
    0
    """

    command_class = Command

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except SymbackpropError as exc:
            raise Unusable(str(exc)) from None
        except OSError as exc:
            raise Failed(str(exc)) from None


Group.group_class = Group


def _formulas_last(command: click.Command, ctx, args: list[str]) -> list[str]:
    valued, flags = set(), set()
    for param in command.get_params(ctx):
        if isinstance(param, click.Option):
            names = param.opts + param.secondary_opts
            (flags if param.is_flag or param.count else valued).update(names)
    options, positional, i = [], [], 0
    while i < len(args):
        token = args[i]
        if token == "--":
            positional += args[i + 1 :]
            break
        name = token.split("=", 1)[0]
        if token.startswith("--") or name in valued or name in flags:
            options.append(token)
            if name in valued and "=" not in token and i + 1 < len(args):
                options.append(args[i + 1])
                i += 1
        else:  # a formula such as -x^2 is not an option of ours
            positional.append(token)
        i += 1
    return options + (["--"] + positional if positional else [])


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="symbackprop")
@click.option(
    "--color/--no-color",
    default=None,
    help="Colour the output (default: only on a terminal, and not when $NO_COLOR is set).",
)
@click.pass_context
def main(ctx: click.Context, color: bool | None) -> None:
    """symbackprop: symbolic derivatives compiled to Numba.

    Formulas are plain text (x^2 + 2x y, exp, log, sin, sigmoid, ...) or LaTeX (\\frac{1}{x});
    quote them for the shell. Exit status: 0 done (check: right), 1 wrong or failed,
    2 unusable input.

    \b
    Examples:
      symbackprop demo
      symbackprop grad "x^2 y + y" --wrt x,y
      symbackprop check "log(x)" --wrt x --claimed "1/x^2"
      symbackprop critical "x1^2 + x1(1-x2) + x2^2 - x2 x3 + x3^2 + x3"
    """
    if color is None and os.environ.get("NO_COLOR"):
        color = False
    ctx.color = color
