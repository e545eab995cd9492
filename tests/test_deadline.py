"""One timer per loop keeps the time limits of many requests (asyncbitstore._deadline)."""

from __future__ import annotations

import asyncio
import time

import pytest

from asyncbitstore._core.deadline import within


async def test_an_answer_in_time_is_returned() -> None:
    assert await within(1.0, asyncio.sleep(0.01, result="done")) == "done"
    assert await within(None, asyncio.sleep(0, result="no limit")) == "no limit"


async def test_a_late_answer_raises_timeout_error_near_its_deadline() -> None:
    started = time.perf_counter()
    with pytest.raises(TimeoutError):
        await within(0.05, asyncio.sleep(10))
    assert 0.04 < time.perf_counter() - started < 1.0


async def test_each_request_keeps_its_own_deadline_among_many() -> None:
    async def one(delay: float, limit: float) -> str:
        try:
            return await within(limit, asyncio.sleep(delay, result="ok"))
        except TimeoutError:
            return "late"

    # Long limits first, so the one timer must be moved earlier by the short ones that follow.
    cases = [(0.01, 5.0)] * 20 + [(5.0, 0.05)] * 5 + [(0.01, 0.5)] * 20 + [(5.0, 0.1)] * 5
    started = time.perf_counter()
    answers = await asyncio.gather(*(one(d, limit) for d, limit in cases))
    assert answers == ["ok"] * 20 + ["late"] * 5 + ["ok"] * 20 + ["late"] * 5
    assert time.perf_counter() - started < 2.0


async def test_a_cancellation_from_outside_stays_a_cancellation() -> None:
    task = asyncio.create_task(within(5.0, asyncio.sleep(10)))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_task_that_timed_out_can_go_on_and_wait_again() -> None:
    with pytest.raises(TimeoutError):
        await within(0.02, asyncio.sleep(10))
    task = asyncio.current_task()
    assert task is not None and task.cancelling() == 0  # the watch's cancel was taken back
    await asyncio.sleep(0.01)  # would raise CancelledError if a cancel were still pending
    assert await within(0.5, asyncio.sleep(0.01, result=1)) == 1
