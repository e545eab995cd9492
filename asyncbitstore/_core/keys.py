"""Keys that are hex digests: checking, normalising and computing them for one algorithm."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

from ..errors import InvalidDataFound, describe
from .data import BytesLike
from .forward import Forwarded
from .uris import parse_uri

__all__ = ["DigestKeyed", "HashKeys"]

logger = logging.getLogger("asyncbitstore.hashing")


class HashKeys:
    """Validation, normalization and computation of keys for one hashlib algorithm."""

    __module__ = "asyncbitstore.hashing"  # the documented import path

    def __init__(self, algorithm: str) -> None:
        if not isinstance(algorithm, str):
            raise TypeError(f"algorithm must be a str, not {type(algorithm).__name__}")
        try:
            digest_size = hashlib.new(algorithm).digest_size
        except (ValueError, TypeError):
            raise ValueError(
                f"unknown hash algorithm {algorithm!r}; choose one of "
                f"{sorted(hashlib.algorithms_guaranteed)}"
            ) from None
        if digest_size == 0:
            raise ValueError(f"{algorithm!r} has no fixed digest size; choose another algorithm")
        self.algorithm = algorithm.lower()
        self.hex_length = 2 * digest_size
        self.hint = f"a {self.algorithm} hex digest ({self.hex_length} hex digits), optionally as {self.algorithm}://<digest>"
        self._pattern = re.compile(
            rf"(?:{re.escape(self.algorithm)}://)?([0-9a-fA-F]{{{self.hex_length}}})", re.IGNORECASE
        )

    def match(self, uri: str) -> str | None:
        """The lower-case digest in ``uri``, or None if it is not a key of this algorithm."""
        if not isinstance(uri, str):
            raise TypeError(f"a key must be a str, not {type(uri).__name__}")
        found = self._pattern.fullmatch(uri)
        return None if found is None else found.group(1).lower()

    def new(self) -> Any:
        """A fresh hashlib object."""
        return hashlib.new(self.algorithm)

    def digest(self, data: BytesLike) -> str:
        """The key of ``data``."""
        return hashlib.new(self.algorithm, data).hexdigest()

    def require(self, store: object, uri: object) -> str:
        """The normalized key in ``uri``, or ``TypeError``/``InvalidURI`` naming ``store``."""
        return parse_uri(store, uri, self.match, self.hint, what="a key")

    def check(self, store: object, key: str, actual: str) -> None:
        """Raise [`InvalidDataFound`][asyncbitstore.errors.InvalidDataFound] (and log) when digest
        ``actual`` is not ``key``."""
        if actual != key:
            logger.warning(
                "%s: %s data for %s has digest %s", describe(store), self.algorithm, key, actual
            )
            raise InvalidDataFound(store, key, f"its {self.algorithm} is {actual}")

    async def verified(
        self, store: object, key: str, chunks: AsyncIterable[bytes]
    ) -> AsyncIterator[bytes]:
        """Pass ``chunks`` through, raising
        [`InvalidDataFound`][asyncbitstore.errors.InvalidDataFound] at the end on a mismatch."""
        hasher = self.new()
        async for chunk in chunks:
            hasher.update(chunk)
            yield chunk
        self.check(store, key, hasher.hexdigest())


class DigestKeyed:
    """What a content-addressed store or chain tells of its keys, read from its ``keys``."""

    keys: HashKeys

    algorithm = Forwarded[str]("keys.algorithm")
    """The hashlib algorithm of the keys."""
    key_algorithm = Forwarded[str]("keys.algorithm")
    """The hashlib algorithm of the keys (a content-addressed store)."""
    uri_hint = Forwarded[str]("keys.hint")
    """The form of the keys, for messages."""
