"""Where a relative key's blob sits in the raw store: `Plain` and `Flat` (bounded folders)."""

from __future__ import annotations

import hashlib
import re

__all__ = ["Flat", "Layout", "Plain"]


class Layout:
    """Turns relative keys into raw URIs and raw URIs back into keys."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def raw_uri(self, key: str) -> str | None:
        """The raw URI of ``key``, or None when this layout cannot hold it."""
        return self.prefix + key

    def key(self, raw_uri: str) -> str | None:
        """The key stored at ``raw_uri``, or None when it holds none."""
        return raw_uri[len(self.prefix) :] if raw_uri.startswith(self.prefix) else None

    def list_prefix(self, key_prefix: str) -> str:
        """A raw list prefix that covers every key starting with ``key_prefix``."""
        return self.prefix + key_prefix

    #: Whether a one-level raw listing gives one level of keys (names and sub-prefixes).
    nests = True


Plain = Layout

_KEEP = re.compile(r"[0-9A-Za-z-]")
_NAME_BYTES = 255
_ESCAPED = re.compile(r"_([0-9a-f]{2})")


class Flat(Layout):
    """Keys as single file names, for a bounded cache folder (which takes no subfolders).

    A name is four hex digits of the key's SHA-1 (which spread the names over the folder's
    subfolders), then the key with ``/`` written ``.`` and every byte other than letters,
    digits and ``-`` written ``_xx``. Keys whose name would exceed 255 characters are not held.
    """

    nests = False

    def raw_uri(self, key: str) -> str | None:
        head = hashlib.sha1(key.encode("utf-8", "surrogatepass")).hexdigest()[:4]
        body = "".join(
            char if _KEEP.fullmatch(char) else "." if char == "/" else _hex(char) for char in key
        )
        name = head + body
        return None if len(name) > _NAME_BYTES else self.prefix + name

    def key(self, raw_uri: str) -> str | None:
        name = super().key(raw_uri)
        if name is None or len(name) < 5:
            return None
        parts = _ESCAPED.split(name[4:].replace(".", "/"))
        out = bytearray()
        for index, part in enumerate(parts):
            if index % 2:
                out.append(int(part, 16))
            elif "_" in part:
                return None
            else:
                out += part.encode()
        try:
            key = out.decode("utf-8")
        except UnicodeDecodeError:
            return None
        return key if self.raw_uri(key) == raw_uri else None

    def list_prefix(self, key_prefix: str) -> str:
        return self.prefix  # names start with a digest, not with the key


def _hex(char: str) -> str:
    return "".join(f"_{byte:02x}" for byte in char.encode("utf-8", "surrogatepass"))
