"""``python -m symbackprop``: the same command line as the ``symbackprop`` script."""

from .cli import main

if __name__ == "__main__":
    main(prog_name="symbackprop")
