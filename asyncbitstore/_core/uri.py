"""Small helpers shared by URI-parsing code."""

from __future__ import annotations

import re

__all__ = ["redact"]

_USERINFO = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@]*@")


def redact(uri: str) -> str:
    """``uri`` with any ``user:password@`` part replaced, safe for messages and logs."""
    return _USERINFO.sub(r"\1***@", uri)
