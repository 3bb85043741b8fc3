"""The server's queue: one answer at a time in arrival order, a bounded wait list (429), a bounded
wait (503), text relayed as it is produced. Plain functions stand in for answers: no model."""

import asyncio
import threading
import time

import pytest

from assistant.serve.worker import Busy, Worker


def test_one_at_a_time_in_order_with_streamed_text():
    running, order = [], []

    def job(i):
        def fn(emit):
            running.append(i)
            assert len(running) == 1, running  # never two at once
            emit(f"piece {i}")
            time.sleep(0.02)
            order.append(i)
            running.remove(i)
            return i * 10
        return fn

    async def main():
        worker = Worker(max_waiting=10)
        jobs = [await worker.submit(job(i)) for i in range(5)]
        pieces = []
        for j in jobs:
            pieces.append([p async for p in j.pieces()])
        results = [await j.result() for j in jobs]
        worker.shutdown()
        return pieces, results, worker

    pieces, results, worker = asyncio.run(main())
    assert order == [0, 1, 2, 3, 4] and results == [0, 10, 20, 30, 40]
    assert pieces == [[f"piece {i}"] for i in range(5)]
    assert worker.pending == 0 and worker.served == 5


def test_a_full_queue_is_429_and_a_long_wait_503():
    gate = threading.Event()

    def blocked(emit):
        gate.wait(10)
        return "done"

    async def main():
        worker = Worker(max_waiting=1, wait_timeout_s=0.3)
        first = await worker.submit(blocked)  # running
        waiting = asyncio.create_task(worker.submit(lambda emit: "second"))  # waits behind it
        await asyncio.sleep(0.05)
        with pytest.raises(Busy) as full:
            await worker.submit(lambda emit: "third")
        with pytest.raises(Busy) as late:
            await waiting  # could not start within 0.3 s
        gate.set()
        assert await first.result() == "done"
        after = await worker.submit(lambda emit: "fourth")  # the queue works again
        result = await after.result()
        worker.shutdown()
        return full.value, late.value, result, worker

    full, late, result, worker = asyncio.run(main())
    assert full.status == 429 and "busy" in str(full)
    assert late.status == 503 and "0.3 s" in str(late)
    assert result == "fourth" and worker.pending == 0


def test_an_error_in_a_job_reaches_the_caller_and_frees_the_worker():
    def broken(emit):
        emit("partial")
        raise ValueError("boom")

    async def main():
        worker = Worker()
        job = await worker.submit(broken)
        pieces = [p async for p in job.pieces()]
        with pytest.raises(ValueError, match="boom"):
            await job.result()
        ok = await (await worker.submit(lambda emit: "ok")).result()
        worker.shutdown()
        return pieces, ok

    assert asyncio.run(main()) == (["partial"], "ok")
