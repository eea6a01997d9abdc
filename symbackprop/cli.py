"""The ``symbackprop`` command line (Click)."""

from __future__ import annotations

import click


@click.group()
@click.version_option(package_name="symbackprop")
def main() -> None:
    """symbackprop: symbolic derivatives compiled to Numba."""


@main.command()
def demo() -> None:
    """Derive, check and compile the lecture's example, then save and time a standalone module."""
    from .demo import run

    run(click.echo)
