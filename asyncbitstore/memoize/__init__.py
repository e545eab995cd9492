"""``@memoize(store)``: cache a function's results in a store or a chain.

::

    cache = HashStore(FileRaw(), "/var/cache/results/")  # sha256 keys under a folder


    @memoize(cache)
    async def features(image_id: str, *, scale: float = 1.0) -> dict: ...


    await features("a1")  # computed, then stored
    await features("a1", scale=1.0)  # the same call: read back from the store

**Keys.** A call's key is a hex digest of the function's module and qualified name and of its
arguments bound to its signature with defaults applied (so ``f(1)`` and ``f(1, b=<default>)``
share a key). Arguments are encoded from their contents, identically in every process: sets
are sorted, ``**kwargs`` are sorted by name, dicts keep their order. An argument pickle cannot
handle (a lock, a lambda, an open file, a cycle) raises `UnpicklableArgument`.
With ``unstable=True`` the key also covers the function's code and, recursively, the code of
the functions of its own module that it calls, so editing any of them starts a fresh cache;
docstrings, comments and line numbers do not count, and neither do closures' values or code
in other modules.

**Stores.** The value is stored under the key itself, a hex digest: the store must accept bare
hex digests as URIs and must not check that a blob's digest is its key. That is a
``HashStore``/``HashCache`` (or ``Sha1Store``/``Sha1Cache``) without ``verify``, over any raw
store (memory, files, S3, SQLite, SFTP, ...), or a ``Composite`` of such tiers with a
``write=True`` source. The digest uses the store's algorithm (sha256 for a plain
``Composite``). A ``HashComposite`` or a verifying tier is refused when decorating.

**Calls.** Concurrent calls with equal keys compute once (single flight). An exception is
raised to every waiting caller and nothing is cached. A store that is unavailable, or bytes
that no longer deserialize, only cost a recomputation (logged), and so does a failed write.
Values are serialized with `pickle` unless ``serializer=`` gives an object with
``dumps(value) -> bytes`` and ``loads(bytes) -> value``.

**Plain functions.** ``f(...)`` on a memoized plain function blocks: the store is used on a
private event loop (one daemon thread per process) and the function itself runs in a worker
thread of that loop. Called from inside a running event loop, it raises ``RuntimeError``
rather than stall the loop: use ``await f.acall(...)`` there, which shares the same cache.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import inspect
import logging
import pickle
import types
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, Generic, Protocol, TypeVar

from typing_extensions import ParamSpec

from .._core.loop_thread import InsideRunningLoop, LoopThread
from .._core.singleflight import SingleFlight
from ..errors import BitstoreError, NotFoundInStore, StoreNotAvailable
from ..store import Store
from ._keys import UnpicklableArgument, code_fingerprint, encode

__all__ = ["Memoized", "Serializer", "UnpicklableArgument", "memoize"]

logger = logging.getLogger("asyncbitstore.memoize")

P = ParamSpec("P")
R = TypeVar("R")

_KEY_VERSION = b"asyncbitstore.memoize/1"

# Where memoized plain functions use their store: one loop per process, shared by every caller
# thread, so that concurrent equal calls meet in one single flight.
_LOOP = LoopThread("asyncbitstore-memoize")


class Serializer(Protocol):
    """Turns values into bytes and back (the `pickle` module is one)."""

    def dumps(self, obj: Any, /) -> bytes: ...

    def loads(self, data: bytes, /) -> Any: ...


def memoize(
    store: Store, *, unstable: bool = False, serializer: Serializer | None = None
) -> Callable[[Callable[P, R]], Memoized[P, R]]:
    """Decorate a function (``async def`` or plain) so that its results are kept in ``store``.

    Args:
        store: where values go, under hex-digest keys (see the module docstring).
        unstable: also key on the code of the function and of the functions of its module
            it calls, so that editing them invalidates earlier results.
        serializer: ``dumps``/``loads`` for the values; default `pickle`.

    Raises:
        TypeError: ``store`` cannot hold memoized values, or ``serializer`` lacks a method.
    """
    algorithm = _check_store(store)
    chosen: Serializer = serializer if serializer is not None else pickle
    if not (callable(getattr(chosen, "dumps", None)) and callable(getattr(chosen, "loads", None))):
        raise TypeError("serializer must have dumps(value) -> bytes and loads(bytes) methods")

    def decorate(fn: Callable[P, R]) -> Memoized[P, R]:
        return Memoized(fn, store, algorithm=algorithm, unstable=unstable, serializer=chosen)

    return decorate


def _check_store(store: Store) -> str:
    if not isinstance(store, Store):
        raise TypeError(f"memoize needs a Store, not {type(store).__name__}")
    if store.verifies_keys:
        raise TypeError(
            f"{store.name} checks that each blob's digest is its key, which a memoized "
            "value's never is: use HashStore/HashCache tiers without verify"
        )
    algorithm = store.key_algorithm or "sha256"
    sample = hashlib.new(algorithm).hexdigest()
    if not store.is_valid(sample):
        raise TypeError(
            f"memoize keeps values under {algorithm} hex digests, which {store.name} does not "
            "accept: use a HashStore/HashCache (over any raw store) or a Composite of them"
        )
    return algorithm


class Memoized(Generic[P, R]):
    """A memoized function: call it as the original; ``acall`` is the async form of a plain one.

    Attributes:
        hits: calls answered from the store.
        misses: calls that computed the value.
    """

    def __init__(
        self,
        fn: Callable[P, R],
        store: Store,
        *,
        algorithm: str,
        unstable: bool,
        serializer: Serializer,
    ) -> None:
        if inspect.isgeneratorfunction(fn) or inspect.isasyncgenfunction(fn):
            raise TypeError(f"cannot memoize the generator function {fn.__qualname__}")
        functools.update_wrapper(self, fn)
        self.__wrapped__ = fn
        self.store = store
        self.algorithm = algorithm
        self.unstable = unstable
        self.serializer = serializer
        self.hits = 0
        self.misses = 0
        self._is_async = inspect.iscoroutinefunction(fn)
        self._signature = inspect.signature(fn)
        self._name = f"{fn.__module__}.{fn.__qualname__}"
        self._code: bytes | None = None
        self._flights: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, SingleFlight[Any]]
        self._flights = weakref.WeakKeyDictionary()

    def __repr__(self) -> str:
        return f"<memoized {self._name} in {self.store.name}>"

    def __get__(self, instance: object, owner: type | None = None) -> Any:
        return self if instance is None else types.MethodType(self, instance)

    # -- keys -----------------------------------------------------------------------------------

    def key(self, *args: P.args, **kwargs: P.kwargs) -> str:
        """The store key of this call (a hex digest).

        Raises:
            UnpicklableArgument: an argument cannot be encoded.
            TypeError: the arguments do not fit the signature.
        """
        bound = self._signature.bind(*args, **kwargs)
        bound.apply_defaults()
        if self.unstable and self._code is None:
            self._code = code_fingerprint(self.__wrapped__)
        parts = [_KEY_VERSION, self._name.encode(), self._code or b"", _name_of(self.serializer)]
        for name, value in bound.arguments.items():
            kind = self._signature.parameters[name].kind
            if kind is inspect.Parameter.VAR_KEYWORD:
                value = dict(sorted(value.items()))
            try:
                parts.append(encode((name, value)))
            except UnpicklableArgument as exc:
                raise UnpicklableArgument(
                    f"{self._name}: argument {name!r} cannot be part of a cache key: {exc}"
                ) from None
        return hashlib.new(self.algorithm, encode(tuple(parts))).hexdigest()

    # -- calls ----------------------------------------------------------------------------------

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        if self._is_async:
            return self._cached(args, kwargs)  # type: ignore[return-value]  # the coroutine
        try:
            return _LOOP.run(self._cached(args, kwargs))  # type: ignore[no-any-return]
        except InsideRunningLoop:
            raise RuntimeError(
                f"{self._name} is a memoized plain function called inside a running event "
                f"loop, where it would block the loop: use "
                f"`await {self.__wrapped__.__name__}.acall(...)` instead"
            ) from None

    def acall(self, *args: P.args, **kwargs: P.kwargs) -> Awaitable[Any]:
        """The call as a coroutine (a plain function then runs in a worker thread)."""
        return self._cached(args, kwargs)

    async def _cached(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        key = self.key(*args, **kwargs)
        loop = asyncio.get_running_loop()
        flight = self._flights.get(loop)
        if flight is None:
            flight = self._flights[loop] = SingleFlight()
        return await flight.run(key, functools.partial(self._fetch, args=args, kwargs=kwargs))

    async def _fetch(self, key: str, *, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """The stored value for ``key``, or a computed one (then stored)."""
        try:
            data: bytes | None = await self.store.get(key)
        except NotFoundInStore:
            data = None
        except StoreNotAvailable as exc:
            logger.warning("%s: cache read failed, computing: %s", self._name, exc)
            data = None
        if data is not None:
            try:
                value = self.serializer.loads(data)
            except Exception as exc:
                logger.warning("%s: cached value for %s unreadable (%r)", self._name, key, exc)
            else:
                self.hits += 1
                return value
        self.misses += 1
        if self._is_async:
            value = await self.__wrapped__(*args, **kwargs)  # type: ignore[misc]
        else:
            value = await asyncio.to_thread(self.__wrapped__, *args, **kwargs)
        await self._store(key, value)
        return value

    async def _store(self, key: str, value: Any) -> None:
        try:
            data = self.serializer.dumps(value)
        except Exception as exc:
            logger.warning("%s: result not cached, cannot serialize it: %r", self._name, exc)
            return
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"serializer.dumps returned {type(data).__name__}, not bytes")
        try:
            await self.store.put(key, data)
        except BitstoreError as exc:
            logger.warning("%s: result not cached: %s", self._name, exc)


def _name_of(serializer: Serializer) -> bytes:
    """Part of every key: values written by another serializer are not read back."""
    name = getattr(serializer, "__name__", None) or type(serializer).__qualname__
    return str(name).encode()
