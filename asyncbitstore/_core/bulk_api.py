"""How the bulk methods of a store look to a type checker, written once for all of them.

Each bulk method takes ``return_exceptions`` and its result type depends on it: the narrow
result without the flag, the result with exceptions in it when the flag is ``True``, and a
third type when the flag is a ``bool`` known only at run time. Rather than an ``@overload``
stack on every method, a method is decorated with `typed_as` and one of the call shapes here
(`OverUris`, `OverItems`, `StreamOverUris`), which carry the overloads once. At run time the
decorator gives back the method itself, so ``help()``, ``inspect.signature`` and the rendered
docs show its own signature and docstring.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Callable, Coroutine, Iterable
from typing import Any, Generic, Literal, Protocol, TypeVar, cast, overload

from typing_extensions import TypedDict, Unpack

from .data import PutData

__all__ = [
    "BulkOptions",
    "OverItems",
    "OverUris",
    "PutItems",
    "StreamOptions",
    "StreamOverUris",
    "UriSource",
    "typed_as",
]

#: The URIs a bulk method takes: any iterable or async iterable of them.
UriSource = Iterable[str] | AsyncIterable[str]
#: The ``(uri, data)`` pairs `put_many` takes.
PutItems = Iterable[tuple[str, PutData]] | AsyncIterable[tuple[str, PutData]]

Plain = TypeVar("Plain", covariant=True)
Failed = TypeVar("Failed", covariant=True)
Either = TypeVar("Either", covariant=True)
Shape = TypeVar("Shape", covariant=True)
Shape_ = TypeVar("Shape_")


class BulkOptions(TypedDict, total=False):
    """The keywords every bulk method takes besides ``return_exceptions``."""

    concurrency: int
    progress: bool


class StreamOptions(BulkOptions, total=False):
    """The keywords of `iter_get`: those of every bulk method and ``ordered``."""

    ordered: bool


class OverUris(Protocol[Plain, Failed, Either]):
    """An async bulk method over URIs: ``Plain`` without ``return_exceptions``, ``Failed``
    with it, ``Either`` with a flag known only at run time."""

    @overload
    def __call__(
        self,
        uris: UriSource,
        *,
        return_exceptions: Literal[False] = ...,
        **options: Unpack[BulkOptions],
    ) -> Coroutine[Any, Any, Plain]: ...
    @overload
    def __call__(
        self, uris: UriSource, *, return_exceptions: Literal[True], **options: Unpack[BulkOptions]
    ) -> Coroutine[Any, Any, Failed]: ...
    @overload
    def __call__(
        self, uris: UriSource, *, return_exceptions: bool, **options: Unpack[BulkOptions]
    ) -> Coroutine[Any, Any, Either]: ...


class OverItems(Protocol[Plain, Failed, Either]):
    """`OverUris` for a method that takes ``(uri, data)`` pairs as ``items``."""

    @overload
    def __call__(
        self,
        items: PutItems,
        *,
        return_exceptions: Literal[False] = ...,
        **options: Unpack[BulkOptions],
    ) -> Coroutine[Any, Any, Plain]: ...
    @overload
    def __call__(
        self, items: PutItems, *, return_exceptions: Literal[True], **options: Unpack[BulkOptions]
    ) -> Coroutine[Any, Any, Failed]: ...
    @overload
    def __call__(
        self, items: PutItems, *, return_exceptions: bool, **options: Unpack[BulkOptions]
    ) -> Coroutine[Any, Any, Either]: ...


class StreamOverUris(Protocol[Plain, Failed]):
    """An async iterator over URIs (`iter_get`): pairs of a URI and ``Plain`` without
    ``return_exceptions``, of a URI and ``Failed`` with any flag."""

    @overload
    def __call__(
        self,
        uris: UriSource,
        *,
        return_exceptions: Literal[False] = ...,
        **options: Unpack[StreamOptions],
    ) -> AsyncIterator[tuple[str, Plain]]: ...
    @overload
    def __call__(
        self, uris: UriSource, *, return_exceptions: bool, **options: Unpack[StreamOptions]
    ) -> AsyncIterator[tuple[str, Failed]]: ...


class _Method(Protocol[Shape]):
    """A method whose bound form has the call shape ``Shape``."""

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> Callable[..., Any]: ...
    @overload
    def __get__(self, obj: object, owner: type[Any] | None = None) -> Shape: ...


class typed_as(Generic[Shape_]):
    """``@typed_as[OverUris[...]]()``: the method, which type checkers see with that shape.

    The method is returned unchanged: only its static type differs.
    """

    def __call__(self, method: Callable[..., Any]) -> _Method[Shape_]:
        """The method itself, typed as a method of shape ``Shape_``."""
        return cast("_Method[Shape_]", method)
