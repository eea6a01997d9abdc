"""Derivatives: the reverse-mode rule table, the adjoint sweep, derivative programs."""
