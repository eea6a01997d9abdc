"""``symbackprop cache info`` and ``cache clear``: the on-disk code cache, seen and emptied."""

from __future__ import annotations

import click

from .group import Group
from .inputs import JSON
from .output import echo_json


@click.group(name="cache", cls=Group)
def cache_group() -> None:
    """The on-disk code cache ($SYMBACKPROP_CACHE_DIR, else the user's cache folder)."""


@cache_group.command(name="info")
@JSON
def cache_info(as_json) -> None:
    """Where the cache is, how many entries it holds and their total size."""
    from ..loader.cache import Cache

    cache = Cache()
    entries, modules, size = len(cache.entries()), len(cache.modules()), cache.size()
    if as_json:
        echo_json(
            {"location": str(cache.root), "entries": entries, "modules": modules, "bytes": size}
        )
        return
    click.echo(f"location: {cache.root}")
    click.echo(f"entries:  {entries} compile requests, {modules} generated modules")
    click.echo(f"size:     {_bytes(size)}")


@cache_group.command(name="clear")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
def cache_clear(yes) -> None:
    """Delete every cached module (they are rebuilt when next needed)."""
    from ..loader.cache import Cache

    cache = Cache()
    entries = len(cache.entries())
    if not yes:
        click.confirm(
            f"Delete {entries} entries ({_bytes(cache.size())}) from {cache.root}?", abort=True
        )
    freed = cache.clear()
    click.echo(f"cleared {cache.root}: {entries} entries, {_bytes(freed)} freed")


def _bytes(n: int) -> str:
    for unit in ("bytes", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} bytes"
