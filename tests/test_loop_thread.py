"""The private event-loop thread of ``asyncbitstore._core.loop_thread``."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator

import pytest

from asyncbitstore._core.loop_thread import InsideRunningLoop, LoopThread


@pytest.fixture
def runner() -> Iterator[LoopThread]:
    thread = LoopThread("test-loop")
    yield thread
    thread.close()


async def _where() -> tuple[asyncio.AbstractEventLoop, str]:
    return asyncio.get_running_loop(), threading.current_thread().name


def test_the_result_comes_back_from_one_loop_on_its_own_thread(runner: LoopThread) -> None:
    assert runner.loop is None  # started lazily
    loop, name = runner.run(_where())
    assert name == "test-loop" and runner.loop is loop
    assert runner.run(_where())[0] is loop  # the same loop for later calls
    assert runner.run(asyncio.sleep(0, "done")) == "done"


def test_the_coroutines_exception_is_raised_to_the_caller(runner: LoopThread) -> None:
    async def fail() -> None:
        raise KeyError("gone")

    with pytest.raises(KeyError, match="gone"):
        runner.run(fail())
    assert runner.run(asyncio.sleep(0, 1)) == 1  # the loop survives


async def test_a_call_from_a_running_loop_is_refused_and_the_coroutine_closed(
    runner: LoopThread,
) -> None:
    coro = _where()
    with pytest.raises(InsideRunningLoop, match=r"test-loop.*running event loop"):
        runner.run(coro)
    assert coro.cr_frame is None  # closed: no "never awaited" warning
    assert runner.loop is None  # and nothing started
    assert isinstance(InsideRunningLoop(), RuntimeError)


async def test_without_refuse_in_loop_a_running_loop_is_blocked_instead() -> None:
    runner = LoopThread("test-blocking", refuse_in_loop=False)
    try:
        assert runner.run(asyncio.sleep(0, 7)) == 7
    finally:
        runner.close()


def test_close_is_idempotent_and_a_later_run_starts_a_new_loop() -> None:
    started: list[int] = []
    cleaned: list[asyncio.AbstractEventLoop] = []

    async def cleanup() -> None:
        cleaned.append(asyncio.get_running_loop())

    runner = LoopThread("test-close", on_start=lambda: started.append(1), cleanup=cleanup)
    runner.close()  # never started: nothing to do
    first, _ = runner.run(_where())
    runner.close()
    runner.close()
    assert cleaned == [first] and first.is_closed() and runner.loop is None
    second, _ = runner.run(_where())
    assert second is not first and started == [1, 1]
    runner.close()
    assert cleaned == [first, second]


def test_a_failing_cleanup_is_logged_and_the_loop_still_closes(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def cleanup() -> None:
        raise OSError("disk gone")

    runner = LoopThread("test-cleanup", cleanup=cleanup)
    loop, _ = runner.run(_where())
    runner.close()
    assert loop.is_closed()
    assert "disk gone" in caplog.text


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_gets_a_loop_of_its_own(runner: LoopThread) -> None:
    parent_loop, _ = runner.run(_where())
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the parent's thread did not come along
        try:
            child_loop, _ = runner.run(_where())
            ok = child_loop is not parent_loop and runner.run(asyncio.sleep(0, 3)) == 3
            os.write(write, b"1" if ok else b"0")
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as answer:
        assert answer.read() == b"1"
    os.waitpid(pid, 0)
    assert runner.loop is parent_loop
