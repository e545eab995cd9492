"""The keywords of a store's bulk methods and how the methods look to a type checker, written
once for all of them.

The keywords (`BulkOptions`, and `StreamOptions` for `iter_get`) are documented once, here;
each public method takes them as ``**options`` and hands its private hook one checked `Bulk`.

Each bulk method takes ``return_exceptions`` and its result type depends on it: the narrow
result without the flag, the result with exceptions in it when the flag is ``True``, and a
third type when the flag is a ``bool`` known only at run time. Rather than an ``@overload``
stack on every method, a method is decorated with `typed_as` and one of the call shapes here
(`OverUris`, `OverItems`, `StreamOverUris`), which carry the overloads once. At run time the
decorator gives back the method itself, so ``help()``, ``inspect.signature`` and the rendered
docs show its own signature and docstring.
"""

from __future__ import annotations

import contextlib
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Collection,
    Coroutine,
    Iterable,
    Iterator,
    Mapping,
)
from dataclasses import dataclass
from typing import Any, Generic, Literal, ParamSpec, Protocol, TypeVar, cast, overload

from typing_extensions import TypedDict, Unpack

from .bulk import capture, check_concurrency
from .data import PutData
from .progress import ProgressBar, progress_bar

__all__ = [
    "DEFAULT_CONCURRENCY",
    "Bulk",
    "BulkOptions",
    "OverItems",
    "OverSource",
    "OverUris",
    "PutItems",
    "StreamOptions",
    "StreamOverUris",
    "StreamTuning",
    "Tuning",
    "UriSource",
    "check_keywords",
    "typed_as",
]

#: The URIs a bulk method takes: any iterable or async iterable of them.
UriSource = Iterable[str] | AsyncIterable[str]
#: The ``(uri, data)`` pairs `put_many` takes.
PutItems = Iterable[tuple[str, PutData]] | AsyncIterable[tuple[str, PutData]]

#: How many calls a bulk method runs at once unless told otherwise.
DEFAULT_CONCURRENCY = 64

P = ParamSpec("P")
R = TypeVar("R")
Source = TypeVar("Source", contravariant=True)
Plain = TypeVar("Plain", covariant=True)
Failed = TypeVar("Failed", covariant=True)
Either = TypeVar("Either", covariant=True)
Shape = TypeVar("Shape", covariant=True)
Shape_ = TypeVar("Shape_")


class Tuning(TypedDict, total=False):
    """The bulk keywords that do not change the result type (the overloads take the flag apart)."""

    concurrency: int
    progress: bool


class BulkOptions(Tuning, total=False):
    """The keywords of every bulk method of a store (`get_many`, `put_many`, `exists_many`,
    `delete_many`, `size_many`, `head_many`, and `iter_get` with `StreamOptions`).

    Every key may be left out. Any other keyword raises ``TypeError``.

    Attributes:
        concurrency: the most calls (fetches, writes, checks, lookups) in flight at once; a
            positive int, else ``ValueError``. Default 64 (`DEFAULT_CONCURRENCY`).
        progress: show a progress bar on stderr; a failed call counts as done. Default
            ``False``.
        return_exceptions: carry on past a failed call, whose exception the result then
            holds (each method says where). Without it (the default, ``False``), the first
            failure cancels the calls still running and propagates; a missing blob is not a
            failure where the method answers ``None`` for one. Cancellation,
            ``KeyboardInterrupt`` and ``SystemExit`` always propagate.
    """

    return_exceptions: bool


class StreamTuning(Tuning, total=False):
    """`Tuning` with ``ordered``, for the overloads of `iter_get`."""

    ordered: bool


class StreamOptions(BulkOptions, StreamTuning, total=False):
    """The keywords of `iter_get`: those of `BulkOptions`, and ``ordered``.

    Attributes:
        ordered: yield in the order of the input rather than as calls finish. Default
            ``False``.
    """


# Public names: they show the public module that re-exports them, not this private one.
BulkOptions.__module__ = StreamOptions.__module__ = "asyncbitstore.store"


def check_keywords(function: str, options: Mapping[str, object], known: Collection[str]) -> None:
    """Refuse, as Python does, a keyword of ``options`` that ``function`` does not know.

    Raises:
        TypeError: a keyword not in ``known``; the message names it and ``function``.
    """
    for name in options:
        if name not in known:
            raise TypeError(f"{function}() got an unexpected keyword argument {name!r}")


@dataclass(frozen=True)
class Bulk:
    """The bulk keywords as the private hooks of a store receive them, checked once.

    Args:
        concurrency: as in `BulkOptions`.
        progress: as in `BulkOptions`.
        return_exceptions: as in `BulkOptions`.

    Raises:
        ValueError: ``concurrency`` is not a positive int.
    """

    concurrency: int = DEFAULT_CONCURRENCY
    progress: bool = False
    return_exceptions: bool = False

    def __post_init__(self) -> None:
        check_concurrency(self.concurrency)

    @classmethod
    def of(cls, method: str, options: BulkOptions) -> Bulk:
        """The options a bulk method received as ``**options``.

        Raises:
            TypeError: a keyword that is not one of `BulkOptions` (the message names it as
                Python would for ``method``).
            ValueError: a bad ``concurrency``.
        """
        check_keywords(method, options, BulkOptions.__optional_keys__)
        return cls(**options)

    def attempt(self, fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R | BaseException]]:
        """``fn``, which returns its exception instead of raising it with ``return_exceptions``."""
        return capture(fn) if self.return_exceptions else fn

    @contextlib.contextmanager
    def bar(self, items: object, description: str) -> Iterator[ProgressBar | None]:
        """A progress bar over ``items`` when asked for (else ``None``), closed on leaving."""
        shown = progress_bar(self.progress, items, description)
        try:
            yield shown
        finally:
            if shown is not None:
                shown.close()


class OverSource(Protocol[Source, Plain, Failed, Either]):
    """An async bulk method over a ``Source`` (its first argument): ``Plain`` without
    ``return_exceptions``, ``Failed`` with it, ``Either`` with a flag known only at run time."""

    #: The method's name, as a bound method has it.
    __name__: str

    @overload
    def __call__(
        self,
        source: Source,
        /,
        *,
        return_exceptions: Literal[False] = ...,
        **options: Unpack[Tuning],
    ) -> Coroutine[Any, Any, Plain]: ...
    @overload
    def __call__(
        self, source: Source, /, *, return_exceptions: Literal[True], **options: Unpack[Tuning]
    ) -> Coroutine[Any, Any, Failed]: ...
    @overload
    def __call__(
        self, source: Source, /, *, return_exceptions: bool, **options: Unpack[Tuning]
    ) -> Coroutine[Any, Any, Either]: ...


#: A bulk method over URIs.
OverUris = OverSource[UriSource, Plain, Failed, Either]
#: A bulk method over ``(uri, data)`` pairs (`put_many`).
OverItems = OverSource[PutItems, Plain, Failed, Either]


class StreamOverUris(Protocol[Plain, Failed]):
    """An async iterator over URIs (`iter_get`): pairs of a URI and ``Plain`` without
    ``return_exceptions``, of a URI and ``Failed`` with any flag."""

    @overload
    def __call__(
        self,
        uris: UriSource,
        *,
        return_exceptions: Literal[False] = ...,
        **options: Unpack[StreamTuning],
    ) -> AsyncIterator[tuple[str, Plain]]: ...
    @overload
    def __call__(
        self, uris: UriSource, *, return_exceptions: bool, **options: Unpack[StreamTuning]
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
