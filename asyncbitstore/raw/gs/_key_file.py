"""Reading a Google credentials file, for the client's token and for signing URLs alike."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

__all__ = ["read_key_file"]


def read_key_file(credentials: Any, unreadable: Callable[[str, str], Exception]) -> tuple[str, Any]:
    """The path of the credentials file ``credentials`` names, and the JSON in it.

    Raises:
        Exception: ``unreadable(path, reason)``, where ``reason`` names what went wrong, when
            the file cannot be read or holds no JSON (its content is never shown).
    """
    path = os.fspath(credentials)
    try:
        with open(path, encoding="utf-8") as file:
            return path, json.load(file)
    except (OSError, ValueError) as exc:
        raise unreadable(path, type(exc).__name__) from None
