"""``symbackprop demo``: the lecture's examples end to end (the work is done by
``symbackprop/demo.py``)."""

from __future__ import annotations

import click

from .group import Command


@click.command(cls=Command)
def demo() -> None:
    """The lecture's examples end to end: network gradients, two claims checked, a critical
    point classified, a standalone gradient module written, imported and timed."""
    from ..demo import run

    run(click.echo, click.style)
