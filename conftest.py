"""Shared test set-up (tests and doctests): one private code cache per session, hypothesis profiles.

Numba compiles are the slow part of the suite, so compiled functions are shared through
session-scoped fixtures and the session's disk cache.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

import pytest
from hypothesis import HealthCheck, settings

# A fresh cache per session: tests see cold compiles, and never the user's own cache.
_SESSION_CACHE = tempfile.mkdtemp(prefix="symbackprop-test-cache-")
os.environ["SYMBACKPROP_CACHE_DIR"] = _SESSION_CACHE
atexit.register(shutil.rmtree, _SESSION_CACHE, ignore_errors=True)

settings.register_profile(
    "ci", max_examples=25, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "long", max_examples=1000, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def cache_dir() -> str:
    """The session's code cache folder (also $SYMBACKPROP_CACHE_DIR)."""
    return _SESSION_CACHE
