"""The preview memo: one computation per key at a time, nothing kept from a failure,
the oldest key dropped first."""

from __future__ import annotations

import asyncio
import threading

import pytest

from dispatch.compose.preview_memo import PreviewMemo


async def test_the_same_key_asked_for_at_once_is_computed_once() -> None:
    memo: PreviewMemo[int] = PreviewMemo()
    started = threading.Event()
    release = threading.Event()
    calls: list[str] = []

    def slow() -> int:
        calls.append("slow")
        started.set()
        release.wait(10)
        return 1

    first = asyncio.create_task(memo.get("key", slow))
    await asyncio.to_thread(started.wait, 10)

    def again() -> int:
        calls.append("again")
        return 2

    second = asyncio.create_task(memo.get("key", again))
    await asyncio.sleep(0.01)
    release.set()
    assert [await first, await second] == [1, 1]
    assert calls == ["slow"]


async def test_a_failure_is_not_kept() -> None:
    memo: PreviewMemo[int] = PreviewMemo()

    def broken() -> int:
        raise ValueError("the store said something odd")

    with pytest.raises(ValueError, match="odd"):
        await memo.get("key", broken)
    assert await memo.get("key", lambda: 3) == 3


async def test_the_oldest_key_goes_first() -> None:
    memo: PreviewMemo[str] = PreviewMemo(size=2)
    await memo.get("a", lambda: "a")
    await memo.get("b", lambda: "b")
    await memo.get("c", lambda: "c")
    assert await memo.get("b", lambda: "b again") == "b"
    assert await memo.get("a", lambda: "a again") == "a again"
