"""`PutAttrs`: the write mode and the attributes a `put` stores with a blob, checked once.

`Store.put` builds one with `put_attrs` and hands it to its hook; every backend reads the mode
and the attributes from it, so the rules on them live here:

- ``mode`` is ``"overwrite"`` (the default) or ``"create"`` (write only where nothing is
  stored yet);
- ``content_type`` and ``cache_control`` are printable ASCII without line breaks (they become
  HTTP headers on S3 and GCS);
- ``metadata`` keys are lowercase ASCII letters, digits, ``-``, ``_`` and ``.`` (S3 folds
  header names to lower case, so other keys would not come back as given); values are
  printable ASCII (S3 sends them as headers); keys and values together at most 2 KiB (S3's
  limit on user metadata).

The same rule holds on every backend, so a blob moved between tiers keeps its attributes.

`PutOptions` carries a ``put`` call's compression options together with its `PutAttrs`, as
`Store.put_or_raise` hands them to its hook.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from typing_extensions import TypedDict

__all__ = [
    "MODES",
    "PLAIN",
    "PutAttrs",
    "PutKeywords",
    "PutOptions",
    "attrs_hook",
    "attrs_keywords",
    "put_attrs",
]

#: The values of ``put(mode=...)``.
MODES = ("overwrite", "create")
#: The bytes that the metadata's keys and values may take together.
METADATA_LIMIT = 2048

_KEY = re.compile(r"[a-z0-9][a-z0-9._-]*")
_VALUE = re.compile(r"[\x20-\x7e]*")
_EMPTY: Mapping[str, str] = MappingProxyType({})


@dataclasses.dataclass(frozen=True)
class PutAttrs:
    """How to write a blob and what to store with it (see `put_attrs`).

    Attributes:
        mode: ``"overwrite"`` or ``"create"``.
        content_type: the media type to store, or None.
        cache_control: the ``Cache-Control`` value to store, or None.
        metadata: user metadata to store (read-only; empty for none).
    """

    mode: str = "overwrite"
    content_type: str | None = None
    cache_control: str | None = None
    metadata: Mapping[str, str] = dataclasses.field(default_factory=lambda: _EMPTY)

    @property
    def create(self) -> bool:
        """Whether the write must fail when something is stored at the URI."""
        return self.mode == "create"

    @property
    def described(self) -> bool:
        """Whether there is anything to store besides the bytes."""
        return bool(self.content_type or self.cache_control or self.metadata)

    def named(self, content_type: str, cache_control: str, metadata: str) -> dict[str, Any]:
        """The attributes that are set, under the names a backend's API gives them (the
        metadata as a plain ``dict``)."""
        values = (self.content_type, self.cache_control, dict(self.metadata))
        return {
            name: value
            for name, value in zip((content_type, cache_control, metadata), values, strict=True)
            if value
        }

    def overwriting(self) -> PutAttrs:
        """The same attributes with ``mode="overwrite"``."""
        return dataclasses.replace(self, mode="overwrite")


#: A plain write: overwrite, no attributes.
PLAIN = PutAttrs()


class PutKeywords(TypedDict, total=False):
    """The keywords of a write besides the URI and the data, as
    [`Store.put`][asyncbitstore.store.Store.put] documents them (with their defaults there).

    Methods that write the way ``put`` does, such as
    [`put_or_raise`][asyncbitstore.store.Store.put_or_raise], take these.
    """

    mode: str
    content_type: str | None
    cache_control: str | None
    metadata: Mapping[str, str] | None
    compress: str | None
    level: int | None
    stored: bool
    raw: bool | None


PutKeywords.__module__ = "asyncbitstore.store"


def _header_text(name: str, value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str or None, not {type(value).__name__}")
    if not value or _VALUE.fullmatch(value) is None:
        raise ValueError(
            f"{name} must be non-empty printable ASCII without line breaks, not {value!r}"
        )
    return value


def _metadata(metadata: object) -> Mapping[str, str]:
    if metadata is None:
        return _EMPTY
    if not isinstance(metadata, Mapping):
        raise TypeError(f"metadata must be a dict of str to str, not {type(metadata).__name__}")
    total = 0
    for key, value in metadata.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(
                f"metadata must map str to str, not {type(key).__name__} to {type(value).__name__}"
            )
        if _KEY.fullmatch(key) is None:
            raise ValueError(
                f"metadata key {key!r} is not allowed: use lowercase ASCII letters, digits, "
                "'-', '_' and '.' (S3 folds other keys to lower case)"
            )
        if _VALUE.fullmatch(value) is None:
            raise ValueError(
                f"metadata value of {key!r} is not allowed: use printable ASCII only "
                "(S3 sends metadata as HTTP headers); encode other text first"
            )
        total += len(key) + len(value)
    if total > METADATA_LIMIT:
        raise ValueError(f"metadata takes {total} bytes; at most {METADATA_LIMIT} fit (S3's limit)")
    return MappingProxyType(dict(metadata))


def put_attrs(
    mode: object = "overwrite",
    content_type: object = None,
    cache_control: object = None,
    metadata: object = None,
) -> PutAttrs:
    """The checked `PutAttrs` of a ``put`` call's keywords (`PLAIN` when all are defaults).

    Raises:
        ValueError: an unknown mode (the message lists them), or an attribute that a backend
            could not store (the message says the rule).
        TypeError: an attribute of the wrong type.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(map(repr, MODES))}, not {mode!r}")
    attrs = PutAttrs(
        str(mode),
        _header_text("content_type", content_type),
        _header_text("cache_control", cache_control),
        _metadata(metadata),
    )
    return PLAIN if attrs == PLAIN else attrs


def attrs_keywords(attrs: PutAttrs) -> dict[str, Any]:
    """The keywords of ``put`` that give ``attrs``: none for `PLAIN`, so that stores written
    before these keywords existed still take the call."""
    if attrs == PLAIN:
        return {}
    return {
        "mode": attrs.mode,
        "content_type": attrs.content_type,
        "cache_control": attrs.cache_control,
        "metadata": dict(attrs.metadata),
    }


def attrs_hook(attrs: PutAttrs) -> dict[str, PutAttrs]:
    """The ``attrs=`` keyword of a ``_put`` hook: none for `PLAIN`, so that hooks overridden
    before it existed still take plain writes."""
    return {} if attrs == PLAIN else {"attrs": attrs}


@dataclasses.dataclass(frozen=True)
class PutOptions:
    """What a ``put`` call asked for besides the URI and the data.

    The attributes in ``attrs`` are checked already (see `put_attrs`); the compression
    options are not: the store that applies them checks them, in the order that suits it.

    Attributes:
        compress: the codec to store the data with, or None.
        level: the codec's level, or None for its default.
        stored: whether the data is a stored form, to be written verbatim.
        attrs: the write mode and the attributes (`PLAIN`: a plain write).
    """

    compress: str | None = None
    level: int | None = None
    stored: bool = False
    attrs: PutAttrs = PLAIN

    def keywords(self) -> dict[str, Any]:
        """The keywords that pass these options on to another store's ``put``: the
        compression ones only when one is set, and those of ``attrs`` only when it is not
        `PLAIN`, so that stores written before these keywords existed still take the call."""
        keywords = attrs_keywords(self.attrs)
        if self.compress is None and self.level is None and not self.stored:
            return keywords
        return {"compress": self.compress, "level": self.level, "stored": self.stored, **keywords}
