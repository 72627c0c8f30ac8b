"""Server-side batching: concurrent requests merged into one model call.

As TF Serving's `--enable_batching`: requests that arrive while the model is
busy wait in a queue; when it is free, all of them (up to `max_batch_size`
examples) are concatenated along the batch dimension, run at once, and the
outputs split back. A lone request runs at once (after `timeout` seconds at
most, 0 by default), so batching costs no latency when there is no load. A
request larger than `max_batch_size` runs in parts of that size, as with TF
Serving's `enable_large_batch_splitting`: a model's memory grows with its
batch, and 2,048 photos in one call took a server down.
"""

from __future__ import annotations

import asyncio
import time
from typing import Callable

import numpy as np

from tfxfer.serve.tensors import ServeError, batch_size


class Batcher:
    """Merge requests to one function of a dict of arrays.

    Args:
        run: `inputs -> outputs`, dicts of arrays whose 0-th dimension is the
            batch (blocking; it runs in `executor`).
        executor: Where `run` runs, off the event loop.
        max_batch_size: Most examples per call; a larger request runs alone,
            in parts of this size.
        timeout: Seconds to wait for more requests before running a batch
            that is not full. Defaults to `0`.
    """

    def __init__(self, run: Callable[[dict], dict], executor, max_batch_size: int, timeout: float = 0.0):
        self.run, self.executor = run, executor
        self.max_batch_size, self.timeout = max_batch_size, timeout
        self.queue: asyncio.Queue = asyncio.Queue()
        self.worker: asyncio.Task | None = None

    async def submit(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        future = asyncio.get_running_loop().create_future()
        self.queue.put_nowait((inputs, batch_size(inputs), future))
        if self.worker is None or self.worker.done():
            self.worker = asyncio.create_task(self._work())
        return await future

    async def _take(self) -> list:
        batch = [await self.queue.get()]
        size, deadline = batch[0][1], time.monotonic() + self.timeout
        while size < self.max_batch_size:
            try:
                if self.queue.empty() and self.timeout > 0:
                    item = await asyncio.wait_for(self.queue.get(), max(deadline - time.monotonic(), 0))
                else:
                    item = self.queue.get_nowait()
            except (asyncio.QueueEmpty, asyncio.TimeoutError):
                break
            if size + item[1] > self.max_batch_size or not _compatible(batch[0][0], item[0]):
                self.queue.put_nowait(item)  # runs in a later batch
                break
            batch.append(item)
            size += item[1]
        return batch

    async def _work(self) -> None:
        while not self.queue.empty():
            batch = await self._take()
            live = [b for b in batch if not b[2].done()]  # a client that went away needs no answer
            if not live:
                continue
            try:
                await self._run(live)
            except Exception:  # noqa: BLE001 - one bad request must not fail the others: run them alone
                if len(live) == 1:
                    continue
                for item in live:
                    try:
                        await self._run([item])
                    except Exception:  # noqa: BLE001 - already set on its future
                        pass

    async def _run(self, live: list) -> None:
        """Run merged requests and answer them; on failure, a single request gets the error."""
        try:  # merging too: an error before the future is set would leave its client waiting for ever
            merged, total = {k: np.concatenate([b[0][k] for b in live]) for k in live[0][0]}, sum(b[1] for b in live)
            outputs = await run_in_parts(self.run, self.executor, merged, total, self.max_batch_size,
                                         abandoned=lambda: all(b[2].done() for b in live))
            if outputs is None:  # every client went away (a timeout, a closed tab)
                return
            _check_batched(outputs, total)
        except Exception as e:
            if len(live) == 1 and not live[0][2].done():
                live[0][2].set_exception(e)
            raise
        start = 0
        for _, size, future in live:
            if not future.done():
                future.set_result({k: v[start:start + size] for k, v in outputs.items()})
            start += size


async def run_in_parts(run: Callable[[dict], dict], executor, inputs: dict[str, np.ndarray], size: int, most: int,
                       abandoned: Callable[[], bool] = lambda: False) -> dict[str, np.ndarray] | None:
    """`run(inputs)` in `executor`, on at most `most` of the `size` examples at a time, the outputs joined
    back (TF Serving's large batch splitting: a model's memory grows with its batch). `None` where
    `abandoned()` says, before a part, that no one waits for the answer any more."""
    if size <= most:
        return await asyncio.get_running_loop().run_in_executor(executor, run, inputs)
    answers = []
    for start in range(0, size, most):
        if abandoned():
            return None
        part = {k: v[start:start + most] for k, v in inputs.items()}
        outputs = await asyncio.get_running_loop().run_in_executor(executor, run, part)
        _check_batched(outputs, min(most, size - start))
        answers.append(outputs)
    return {k: np.concatenate([outputs[k] for outputs in answers]) for k in answers[0]}


def _check_batched(outputs: dict[str, np.ndarray], size: int) -> None:
    if any(np.ndim(v) == 0 or len(v) != size for v in outputs.values()):
        raise ServeError("INTERNAL", "The model's outputs are not batched along their first dimension.")


def _compatible(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    """Whether two requests' inputs can be concatenated (same names, dtypes and inner shapes)."""
    return a.keys() == b.keys() and all(
        a[k].dtype == b[k].dtype and a[k].shape[1:] == b[k].shape[1:] for k in a)
