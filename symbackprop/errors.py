"""The one exception type users catch: every rejected input raises SymbackpropError.

It subclasses ValueError so code written against plain NumPy conventions keeps working.
"""


class SymbackpropError(ValueError):
    """Raised for any input symbackprop rejects; the message names the offending thing.

    >>> import symbackprop as sb
    >>> issubclass(sb.SymbackpropError, ValueError)
    True
    """
