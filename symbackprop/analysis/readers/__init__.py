"""Readers of formulas typed by a person: one module per input language, one rule for names.

``plain`` reads the plain syntax (``2x(1-x)^2``), ``latex`` translates LaTeX into it, ``names``
decides what a name means for both, and ``text`` holds their shared limits and error. The public
entry point is ``symbackprop.analysis.parse.parse``.
"""
