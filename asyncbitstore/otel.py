"""OpenTelemetry traces of a chain: a span per ``get``, ``put`` and ``stream``, a child per tier.

::

    from asyncbitstore.otel import instrument

    instrument(chain)  # spans go to the tracer provider the application set, if any

Only ``opentelemetry-api`` is needed (``pip install 'asyncbitstore[otel]'``); which SDK and
exporter to run is the application's choice. Without a tracer provider the API hands out
non-recording spans, so nothing is recorded; a chain that was never instrumented pays one
attribute check per operation.

Spans (all of kind ``INTERNAL``):

- ``asyncbitstore.get``, ``asyncbitstore.put``, ``asyncbitstore.stream``: one per call on the
  chain, with ``asyncbitstore.chain`` (the chain's name), ``asyncbitstore.key`` (unless
  ``record_keys=False``), ``asyncbitstore.outcome`` and ``asyncbitstore.bytes``.
- ``asyncbitstore.tier.get``, ``asyncbitstore.tier.stream``, ``asyncbitstore.tier.put``: a child
  per tier tried, with ``asyncbitstore.tier`` (the tier's name), ``asyncbitstore.tier.role``
  (``cache`` or ``source``), ``asyncbitstore.outcome`` and, on a hit, ``asyncbitstore.bytes``.

Outcomes: ``hit``, ``miss``, ``corrupt`` (failed verification), ``timeout``, ``error``,
``skipped`` (circuit open), ``cancelled``, and ``written`` for a put. ``corrupt``, ``timeout``
and ``error`` set the span's status to ``ERROR`` and record the exception. A ``get`` that joined
another caller's fetch of the same key (single flight) has no tier children: the leader's has.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, Status, StatusCode, Tracer, TracerProvider

from ._core.data import PutData, PutWriter
from ._core.version import package_version
from .errors import CircuitOpen, InvalidDataFound, NotFoundInStore, StoreTimeout

if TYPE_CHECKING:
    from .composite import Composite, Tier
    from .store import Store

__all__ = ["ChainTracer", "instrument", "outcome_of", "uninstrument"]

CHAIN = "asyncbitstore.chain"
KEY = "asyncbitstore.key"
TIER = "asyncbitstore.tier"
ROLE = "asyncbitstore.tier.role"
OUTCOME = "asyncbitstore.outcome"
BYTES = "asyncbitstore.bytes"
_FAILURES = frozenset({"corrupt", "timeout", "error"})  # the outcomes with an ERROR status


def outcome_of(exc: BaseException) -> str:
    """The ``asyncbitstore.outcome`` of a call that raised ``exc``."""
    if isinstance(exc, CircuitOpen):
        return "skipped"
    if isinstance(exc, StoreTimeout):
        return "timeout"
    if isinstance(exc, InvalidDataFound):
        return "corrupt"
    if isinstance(exc, NotFoundInStore):
        return "miss"
    if isinstance(exc, asyncio.CancelledError):
        return "cancelled"
    return "error"


def _record_failure(span: Span, exc: BaseException) -> None:
    outcome = outcome_of(exc)
    span.set_attribute(OUTCOME, outcome)
    if outcome in _FAILURES:
        span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
        span.record_exception(exc)


def _sized(attributes: dict[str, str | int], data: PutData) -> dict[str, str | int]:
    """``attributes`` with the size of ``data`` when it is bytes-like (not a stream)."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        attributes[BYTES] = memoryview(data).nbytes
    return attributes


class ChainTracer:
    """Makes the spans of one or more chains; set as ``chain.tracer`` by
    [`instrument`][asyncbitstore.otel.instrument].

    Implements the hooks a chain calls (``asyncbitstore.composite.ChainHooks``).

    Args:
        tracer_provider: where spans go; None (the default) means the global provider, looked
            up on first use, so instrumenting before the application sets one is fine.
        record_keys: put each call's key in ``asyncbitstore.key``.

    A chain's ``tracer`` pickles with it (without an explicit provider, which does not pickle):
    a worker process traces to its own global provider.
    """

    def __init__(
        self, *, tracer_provider: TracerProvider | None = None, record_keys: bool = True
    ) -> None:
        self._provider = tracer_provider
        self._tracer: Tracer | None = None
        self.record_keys = record_keys

    def __getstate__(self) -> dict[str, Any]:
        return {"record_keys": self.record_keys}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__(record_keys=state["record_keys"])  # type: ignore[misc]

    @property
    def tracer(self) -> Tracer:
        """The OpenTelemetry tracer, fetched on first use."""
        if self._tracer is None:
            self._tracer = trace.get_tracer(
                "asyncbitstore", package_version(), tracer_provider=self._provider
            )
        return self._tracer

    def _attributes(self, chain: Store, key: str) -> dict[str, str | int]:
        if self.record_keys:
            return {CHAIN: chain.name, KEY: key}
        return {CHAIN: chain.name}

    @staticmethod
    def _tier_attributes(tier: Tier) -> dict[str, str | int]:
        return {TIER: tier.name, ROLE: "cache" if tier.is_cache else "source"}

    @contextlib.contextmanager
    def _span(self, name: str, attributes: dict[str, str | int]) -> Iterator[Span]:
        """A current span whose failure, if any, is recorded by `_record_failure`."""
        with self.tracer.start_as_current_span(
            name, attributes=attributes, record_exception=False, set_status_on_exception=False
        ) as span:
            try:
                yield span
            except BaseException as exc:
                _record_failure(span, exc)
                raise

    # -- operations on the chain ----------------------------------------------------------------

    async def get(self, chain: Store, key: str, fetch: Callable[[str], Awaitable[bytes]]) -> bytes:
        """``await fetch(key)`` inside an ``asyncbitstore.get`` span."""
        with self._span("asyncbitstore.get", self._attributes(chain, key)) as span:
            data = await fetch(key)
            span.set_attributes({OUTCOME: "hit", BYTES: len(data)})
            return data

    async def put(self, chain: Store, key: str, data: PutData, write: PutWriter) -> None:
        """``await write(key, data)`` inside an ``asyncbitstore.put`` span."""
        with self._span("asyncbitstore.put", _sized(self._attributes(chain, key), data)) as span:
            await write(key, data)
            span.set_attribute(OUTCOME, "written")

    async def stream(
        self, chain: Store, uri: str, chunks: AsyncIterator[bytes]
    ) -> AsyncIterator[bytes]:
        """``chunks`` inside an ``asyncbitstore.stream`` span, which ends with the stream.

        The span is current only while the next chunk is fetched, never across a ``yield``:
        the consumer's own spans between chunks are not its children.
        """
        span = self.tracer.start_span(
            "asyncbitstore.stream", attributes=self._attributes(chain, uri)
        )
        current = trace.set_span_in_context(span)
        size = 0
        try:
            while True:
                token = otel_context.attach(current)
                try:
                    chunk = await anext(chunks, None)
                finally:
                    otel_context.detach(token)
                if chunk is None:
                    break
                size += len(chunk)
                yield chunk
            span.set_attribute(OUTCOME, "hit")
        except GeneratorExit:
            span.set_attribute(OUTCOME, "hit")  # the consumer stopped early
            raise
        except BaseException as exc:
            _record_failure(span, exc)
            raise
        finally:
            span.set_attribute(BYTES, size)
            span.end()
            await chunks.aclose()  # type: ignore[attr-defined]

    # -- tiers tried ----------------------------------------------------------------------------

    async def tier_get(self, tier: Tier, key: str) -> bytes:
        """``await tier.get(key)`` inside an ``asyncbitstore.tier.get`` span."""
        with self._span("asyncbitstore.tier.get", self._tier_attributes(tier)) as span:
            data = await tier.get(key)
            span.set_attributes({OUTCOME: "hit", BYTES: len(data)})
            return data

    async def tier_put(self, tier: Tier, key: str, data: PutData, **options: Any) -> None:
        """The first writer's put, in its time limit, inside an ``asyncbitstore.tier.put`` span.

        ``options`` (compression keywords) are passed on to the store's ``put``.
        """
        with self._span(
            "asyncbitstore.tier.put", _sized(self._tier_attributes(tier), data)
        ) as span:
            put = functools.partial(tier.store.put, **options) if options else tier.store.put
            await tier.call(put, key, data)
            span.set_attribute(OUTCOME, "written")

    async def open_tier_stream(
        self, tier: Tier, key: str, chunks: AsyncIterator[bytes]
    ) -> tuple[bytes | None, AsyncIterator[bytes]]:
        """The first chunk of a tier's stream (as ``tier.ask`` gets it) and the rest of it.

        An ``asyncbitstore.tier.stream`` span starts here; on a failure it ends at once, on a
        hit it ends when the returned iterator is exhausted or closed, with the bytes passed.
        """
        span = self.tracer.start_span(
            "asyncbitstore.tier.stream", attributes=self._tier_attributes(tier)
        )
        try:
            with trace.use_span(span, record_exception=False, set_status_on_exception=False):
                first = await tier.ask(key, anext, chunks, None)
        except BaseException as exc:
            _record_failure(span, exc)
            span.end()
            raise
        span.set_attribute(OUTCOME, "hit")
        return first, _CountedChunks(span, first, chunks)


class _CountedChunks(AsyncIterator[bytes]):
    """The rest of a tier's stream; ends its span with the bytes passed (``first`` included)."""

    def __init__(self, span: Span, first: bytes | None, chunks: AsyncIterator[bytes]) -> None:
        self._span: Span | None = span
        self._size = len(first) if first else 0
        self._chunks = chunks

    async def __anext__(self) -> bytes:
        try:
            chunk = await self._chunks.__anext__()
        except StopAsyncIteration:
            self._end()
            raise
        except BaseException as exc:
            if self._span is not None:
                _record_failure(self._span, exc)
            self._end()
            raise
        self._size += len(chunk)
        return chunk

    def _end(self) -> None:
        if self._span is not None:
            self._span.set_attribute(BYTES, self._size)
            self._span.end()
            self._span = None

    async def aclose(self) -> None:
        """End the span and close the tier's stream."""
        self._end()
        await self._chunks.aclose()  # type: ignore[attr-defined]


def instrument(
    chain: Composite,
    *,
    tracer_provider: TracerProvider | None = None,
    record_keys: bool = True,
) -> ChainTracer:
    """Trace ``chain``'s ``get``, ``put`` and ``stream`` calls (see the module docstring).

    Args:
        chain: the composite to trace.
        tracer_provider: where spans go (default: the global provider, looked up lazily).
        record_keys: put each call's key in the ``asyncbitstore.key`` attribute.

    Returns:
        The [`ChainTracer`][asyncbitstore.otel.ChainTracer] now set as ``chain.tracer``.
    """
    tracer = ChainTracer(tracer_provider=tracer_provider, record_keys=record_keys)
    chain.tracer = tracer
    return tracer


def uninstrument(chain: Composite) -> None:
    """Stop tracing ``chain``."""
    chain.tracer = None
