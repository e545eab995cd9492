"""User metadata names on Azure: C# identifiers there, any of the package's names here.

The package lets a metadata name hold lower-case letters, digits, ``-``, ``_`` and ``.``; Azure
takes only letters, digits and ``_``, not starting with a digit. Each character but a lower-case
letter or a digit is written ``_`` and its two hex digits (``source-id`` is ``source_2did``), and
so is a leading digit, so every name has one spelling there and reads back unchanged. Names
written by other tools are read through the same rule: one holding ``_`` and two hex digits
reads back with that character.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

__all__ = ["from_azure", "to_azure"]

_ESCAPE = re.compile(r"[^a-z0-9]|^[0-9]")
_ESCAPED = re.compile(r"_([0-9a-f]{2})")


def to_azure(metadata: Mapping[str, str]) -> dict[str, str] | None:
    """``metadata`` with names Azure accepts (None for none)."""
    names = {_ESCAPE.sub(lambda m: f"_{ord(m[0]):02x}", k): v for k, v in metadata.items()}
    return names or None


def from_azure(metadata: Mapping[str, str] | None) -> dict[str, str]:
    """The metadata as written through `to_azure`, names decoded."""
    return {_ESCAPED.sub(lambda m: chr(int(m[1], 16)), k): v for k, v in (metadata or {}).items()}
