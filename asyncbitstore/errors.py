"""The exceptions asyncbitstore raises.

Every error is a [`BitstoreError`][asyncbitstore.errors.BitstoreError]:

    BitstoreError
    ├── NotFoundInStore (also KeyError)      the blob is not there
    │   └── InvalidDataFound                 it is there, but its bytes fail verification
    ├── StoreNotAvailable                    the store could not answer (outage, auth, timeout)
    │   ├── StoreTimeout                     ... because it took longer than allowed
    │   ├── BucketNotFound                   ... because its bucket (or root folder) is missing
    │   ├── ObjectChanged                    ... because the object changed while read in parts
    │   └── CircuitOpen                      ... because a chain skips a tier that keeps failing
    ├── InvalidURI (also ValueError)         the URI or key has the wrong form
    │   └── PathEscapesRoot                  ... its path passes through a symlink under a root
    ├── InvalidRange (also ValueError)       a byte range that cannot be served
    │   └── CompressedRange                  ... because the blob is stored compressed
    ├── NotWritable                          the store does not implement put/delete
    ├── StoreFull                            the store declines the write for lack of room
    ├── AlreadyExists                        put(mode="create") found a blob already there
    └── ConfigError (also ValueError)        a configuration that cannot be read or built

The distinction between the first two matters: a chain reports
[`NotFoundInStore`][asyncbitstore.errors.NotFoundInStore] only when
every tier answered "not there", and [`StoreNotAvailable`][asyncbitstore.errors.StoreNotAvailable]
whenever a tier failed, so an
outage is never mistaken for a missing blob.

Each message names the store and the URI. All errors pickle (they cross process boundaries in
bulk work), and their constructors match epic-bitstore's so user-written stores raise them too.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AlreadyExists",
    "BitstoreError",
    "BucketNotFound",
    "CircuitOpen",
    "CompressedRange",
    "ConfigError",
    "InvalidDataFound",
    "InvalidRange",
    "InvalidURI",
    "NotFoundInStore",
    "NotWritable",
    "ObjectChanged",
    "PathEscapesRoot",
    "StoreFull",
    "StoreNotAvailable",
    "StoreTimeout",
]


def describe(store: object) -> str:
    """A short, secret-free name for a store (or the string itself)."""
    if store is None:
        return "store"
    if isinstance(store, str):
        return store
    name = getattr(store, "name", None)
    if isinstance(name, str):
        return name
    return type(store).__name__


class BitstoreError(Exception):
    """Root of every exception raised by asyncbitstore."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def _about(self, store: object, uri: object, message: str) -> None:
        """Start an error about ``uri`` in ``store``: keep both (the store by its name)."""
        self.store = describe(store)
        self.uri = uri
        BitstoreError.__init__(self, message)

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuild from the rendered message and copy attributes back: constructors differ per
        # subclass, and the message already carries everything needed to read the error.
        # Attributes that are not plain values (a library's response object, say) travel as
        # their repr, so that an error always pickles.
        state = {name: _plain(value) for name, value in self.__dict__.items()}
        return (_rebuild, (type(self), self.message, state))


_PLAIN = (str, int, float, bool, bytes, type(None))


def _plain(value: Any) -> Any:
    if isinstance(value, _PLAIN):
        return value
    if isinstance(value, (tuple, list)) and all(isinstance(item, _PLAIN) for item in value):
        return value
    return repr(value)


def _joined(message: str, separator: str, detail: str | None) -> str:
    """``message``, followed by ``separator`` and ``detail`` when there is a detail."""
    return f"{message}{separator}{detail}" if detail else message


def _rebuild(cls: type[BitstoreError], message: str, state: dict[str, Any]) -> BitstoreError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class NotFoundInStore(BitstoreError, KeyError):
    """The store answered, and it does not hold the blob."""

    def __init__(self, store: object, uri: str, reason: str | None = None) -> None:
        self.reason = reason
        self._about(store, uri, _joined(f"{uri!r} not found in {describe(store)}", ": ", reason))

    def __str__(self) -> str:  # KeyError would quote the message
        return self.message


class InvalidDataFound(NotFoundInStore):
    """The store holds bytes for this key, but they fail verification (digest mismatch)."""

    def __init__(self, store: object, uri: str, reason: str | None = None) -> None:
        super().__init__(store, uri, reason or "data failed verification")
        self.message = f"invalid data for {uri!r} in {self.store}: {self.reason}"
        self.args = (self.message,)


class StoreNotAvailable(BitstoreError):
    """The store could not be asked: unreachable, unauthenticated, failing, or too slow."""

    def __init__(self, store: object, reason: str | None = None, *, uri: str | None = None):
        self.store = describe(store)
        self.reason = reason
        self.uri = uri
        message = f"{self.store} is not available"
        if uri is not None:
            message += f" for {uri!r}"
        super().__init__(_joined(message, ": ", reason))


class StoreTimeout(StoreNotAvailable):
    """The store did not answer within its time limit."""


class BucketNotFound(StoreNotAvailable):
    """The bucket (container, root folder) a URI names does not exist.

    A missing bucket is a configuration fault, not a missing blob: every key in it would look
    absent. So it is a [StoreNotAvailable][asyncbitstore.errors.StoreNotAvailable], which a
    chain reports as a failed tier rather than as a miss.

    Attributes:
        bucket: the bucket's (or folder's) name.
        kind: what it is called by its store: ``"bucket"``, ``"container"`` or ``"folder"``.
    """

    def __init__(
        self, store: object, bucket: str, *, uri: str | None = None, kind: str = "bucket"
    ) -> None:
        self.bucket = bucket
        self.kind = kind
        super().__init__(
            store,
            f"{kind} {bucket!r} does not exist; check its name, and the endpoint and "
            "credentials the store uses",
            uri=uri,
        )


class ObjectChanged(StoreNotAvailable):
    """The object was replaced while it was being read in several requests.

    A large object read as parallel ranges pins every range to the version the first answer
    named (its ETag or generation); when the store holds another version by the time a later
    range is asked, the read stops with this error instead of joining bytes of two versions.
    Reading it again returns the new version whole.

    Attributes:
        version: the version the read was pinned to.
    """

    def __init__(self, store: object, uri: str, version: str) -> None:
        self.version = version
        super().__init__(
            store,
            f"the object changed while it was read in parts (it was version {version!r}); "
            "read it again",
            uri=uri,
        )


class CircuitOpen(StoreNotAvailable):
    """A chain skipped the tier without asking it: its circuit breaker is open.

    The tier failed too often in a row and is left alone for a cool-down, then probed again
    (see the chain's ``circuit_threshold`` and ``circuit_cooldown`` options).
    """


class InvalidURI(BitstoreError, ValueError):
    """The URI (or key) does not have a form this store accepts."""

    def __init__(self, store: object, uri: object, hint: str | None = None) -> None:
        self.hint = hint
        message = f"invalid URI {uri!r} for {describe(store)}"
        self._about(store, uri, _joined(message, "; expected ", hint))


class PathEscapesRoot(InvalidURI):
    """A path under a confined folder passes through a symlink, which could lead outside it.

    A store confined to a folder (``FileRaw(root=...)``, a bounded cache folder) follows no
    symlink below that folder. Replace the link by the folder or file it points at, or widen
    the root so that the real location is under it.
    """

    def __init__(self, store: object, uri: str, root: str) -> None:
        super().__init__(store, uri)
        self.root = root
        self.message = (
            f"{uri!r} in {self.store} passes through a symlink, which could lead outside the "
            f"root {root!r}; symlinks below the root are not followed (replace the link by "
            "what it points at, or choose a root that holds the real location)"
        )
        self.args = (self.message,)


class InvalidRange(BitstoreError, ValueError):
    """A byte range that is malformed or starts past the end of the blob."""

    def __init__(self, store: object, uri: str, start: int, end: int, reason: str) -> None:
        self.start = start
        self.end = end
        where = f"{uri!r} in {describe(store)}"
        self._about(store, uri, f"invalid range [{start}, {end}) for {where}: {reason}")


class CompressedRange(InvalidRange):
    """A byte range of a blob stored compressed: offsets into it would not be the data's.

    ``get`` or ``stream`` the blob instead (both decode it), or store it uncompressed.
    """

    def __init__(self, store: object, uri: str, start: int, end: int, codec: str) -> None:
        super().__init__(
            store,
            uri,
            start,
            end,
            f"the blob is stored {codec}-compressed, so a byte range of it cannot be served; "
            "use get() or stream(), which decode it",
        )
        self.codec = codec


class NotWritable(BitstoreError):
    """The store is read-only: it does not implement put (or delete)."""

    def __init__(self, store: object, operation: str = "put") -> None:
        self.store = describe(store)
        self.operation = operation
        super().__init__(f"{self.store} does not implement {operation}")


class StoreFull(BitstoreError):
    """The store declines a write because it has no room for it."""

    def __init__(self, store: object, uri: str, reason: str) -> None:
        self.store = describe(store)
        self.uri = uri
        super().__init__(f"{self.store} cannot take {uri!r}: {reason}")


class AlreadyExists(BitstoreError):
    """``put(uri, data, mode="create")`` found a blob already stored at ``uri``; nothing was
    written."""

    def __init__(self, store: object, uri: str) -> None:
        self.store = describe(store)
        self.uri = uri
        super().__init__(
            f"{self.store}: a blob is already stored at {uri!r} "
            '(mode="create" writes only where nothing is; use mode="overwrite" to replace it)'
        )


class ConfigError(BitstoreError, ValueError):
    """A configuration that cannot be read or built; the message says where and what to do.

    Attributes:
        origin: the file (or ``"configuration"`` for a mapping).
        tier: the tier's number, from 1, or ``None`` for the file or ``[chain]``.
        option: the option at fault, or ``None``.
    """

    def __init__(
        self, message: str, *, origin: str, tier: int | None = None, option: str | None = None
    ) -> None:
        self.origin = origin
        self.tier = tier
        self.option = option
        super().__init__(message)
