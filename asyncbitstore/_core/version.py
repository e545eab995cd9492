"""The installed package's version, read from its metadata on first use."""

from __future__ import annotations

import functools

__all__ = ["package_version"]


@functools.cache
def package_version() -> str:
    """The version pip installed, or ``"0+unknown"`` for a source tree never installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("asyncbitstore")
    except PackageNotFoundError:
        return "0+unknown"
