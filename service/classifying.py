"""Classifying inbound messages in child processes, each message under a time limit.
When a message outlasts the limit, only the child reading it is killed and replaced."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import timedelta
from typing import Callable, Sequence

from .domain.inbound.classify import Envelope, Verdict
from .domain.tokens import TokenSigner

TIME_LIMIT = 20.0  # seconds one message may take to classify; past it, it is `failed`
PROCESSES = 2
CHUNK = 10  # messages sent to a child at once
CHUNK_BYTES = 1 << 20  # and at most this much raw mail; a bigger message goes alone
START_LIMIT = 60.0  # seconds a new child may take to start
ORPHAN_CHECK_EVERY = 1.0

# Set once in each child by _start_child; never used in the worker's own process.
_child_signer: TokenSigner | None = None


class ClassificationTimeout(Exception):
    """The message took longer than the time limit; the process reading it was killed."""


class ClassifyingProcessDied(Exception):
    """The child died while reading the message (killed, out of memory, a crash in C code)."""


def _start_child(secret_keys: tuple[str, ...], max_age_seconds: float, worker_pid: int) -> None:
    global _child_signer
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    _child_signer = TokenSigner(secret_keys, timedelta(seconds=max_age_seconds))
    threading.Thread(target=_exit_without_worker, args=(worker_pid,), daemon=True).start()


def _exit_without_worker(worker_pid: int) -> None:
    """Once the worker is gone nothing will ever ask this process for work. (The worker is
    watched, not the parent: under forkserver the parent is the fork server, which a
    SIGTERM sent to the whole group stops while the worker finishes its batch.)"""
    while True:
        time.sleep(ORPHAN_CHECK_EVERY)
        try:
            os.kill(worker_pid, 0)
        except (ProcessLookupError, PermissionError):  # gone, or its number taken by another user's
            os._exit(0)


def _classify_in_child(classify: Callable, raw: bytes, envelope: Envelope, own: frozenset[str],
                       trusted_authserv_id: str | None) -> Verdict:
    return classify(raw, envelope, _child_signer.verify, own, trusted_authserv_id=trusted_authserv_id)


def _classify_chunk_in_child(classify: Callable, items: Sequence[tuple[bytes, Envelope]], own: frozenset[str],
                             trusted_authserv_id: str | None) -> list[Verdict | Exception]:
    """Each message's verdict, or what its reading raised: one message's failure is its own."""
    outcomes: list[Verdict | Exception] = []
    for raw, envelope in items:
        try:
            outcomes.append(_classify_in_child(classify, raw, envelope, own, trusted_authserv_id))
        except Exception as exc:
            outcomes.append(exc)
    return outcomes


def chunks(sizes: Sequence[int]) -> list[range]:
    """Consecutive messages, by their sizes, as the chunks `classify_all` sends: at most CHUNK
    messages and CHUNK_BYTES each."""
    found: list[range] = []
    start, total = 0, 0
    for i, size in enumerate(sizes):
        if i > start and (i - start == CHUNK or total + size > CHUNK_BYTES):
            found.append(range(start, i))
            start, total = i, 0
        total += size
    if sizes:
        found.append(range(start, len(sizes)))
    return found


def _context() -> multiprocessing.context.BaseContext:
    """forkserver where there is one (a child starts by a fork of a clean server that has the
    classifier imported already), spawn elsewhere; never a fork of the running service."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload([__name__])
        return context
    return multiprocessing.get_context("spawn")


class _Child:
    """One child process, reading one message at a time."""

    def __init__(self, context, initargs: tuple):
        self._context, self._initargs = context, initargs
        self._executor: ProcessPoolExecutor | None = None
        self._pid: int | None = None

    async def _started(self) -> ProcessPoolExecutor:
        """The executor, its process started: the first job starts it, which blocks for a
        moment (under forkserver, until the process exists), so it is submitted off the loop."""
        if self._executor is None:
            self._executor = ProcessPoolExecutor(1, mp_context=self._context, initializer=_start_child,
                                                 initargs=self._initargs)
        if self._pid is None:
            try:
                first = await asyncio.to_thread(self._executor.submit, os.getpid)
                self._pid = await asyncio.wait_for(asyncio.wrap_future(first), START_LIMIT)
            except (asyncio.TimeoutError, BrokenProcessPool, OSError) as exc:
                self.replace()
                raise ClassifyingProcessDied(f"the classifying process did not start ({exc!r})") from None
        return self._executor

    async def run(self, time_limit: float, reading: Callable, *args):
        executor = await self._started()
        try:
            future = executor.submit(reading, *args)
        except BrokenProcessPool:  # it died while it had nothing to do: not this message's doing
            self.replace()
            executor = await self._started()
            future = executor.submit(reading, *args)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), time_limit)
        except asyncio.TimeoutError:
            self.replace()
            raise ClassificationTimeout(
                f"classification took longer than {time_limit:g} s: stopped, its process replaced") from None
        except BrokenProcessPool as exc:
            self.replace()
            raise ClassifyingProcessDied(f"the classifying process died while reading it ({exc})") from None
        except asyncio.CancelledError:
            self.replace()
            raise

    def replace(self) -> None:
        """Kill the process (whatever it is doing) and start afresh at the next message."""
        executor, pid = self._executor, self._pid
        self._executor = self._pid = None
        if pid is not None:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if executor is not None:
            executor.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = self._pid = None


class Classifier:
    """`classify` in `processes` children, at most `time_limit` seconds per message."""

    def __init__(self, secret_keys: tuple[str, ...], link_max_age: timedelta, *,
                 processes: int = PROCESSES, time_limit: float = TIME_LIMIT):
        if processes < 1:
            raise ValueError("at least one classifying process is needed")
        if not secret_keys:
            raise ValueError("at least one signing key is needed")
        self.time_limit = time_limit
        context = _context()
        initargs = (tuple(secret_keys), link_max_age.total_seconds(), os.getpid())
        self._children = [_Child(context, initargs) for _ in range(processes)]
        self._idle: asyncio.Queue[_Child] | None = None
        self._busy: set[_Child] = set()

    async def classify(self, classify: Callable, raw: bytes, envelope: Envelope, own: frozenset[str],
                       trusted_authserv_id: str | None = None) -> Verdict:
        """`classify(raw, envelope, verify_token, own, trusted_authserv_id=...)` in a child.

        `classify` travels by name, so it must be a module-level function. Raises what it
        raised, ClassificationTimeout, or ClassifyingProcessDied."""
        return await self._in_a_child(_classify_in_child, classify, raw, envelope, own, trusted_authserv_id)

    async def classify_all(self, classify: Callable, items: Sequence[tuple[bytes, Envelope]], own: frozenset[str],
                           trusted_authserv_id: str | None = None) -> list[Verdict | Exception]:
        """Each (raw, envelope)'s verdict or what its reading raised, in order, read in one child
        (the caller keeps a chunk within CHUNK and CHUNK_BYTES). If the chunk outlasts the time
        limit, kills its child or fails as a whole, its messages are read again one at a time,
        each under the time limit: the one that did it fails alone."""
        if len(items) > 1:
            try:
                return await self._in_a_child(_classify_chunk_in_child, classify, list(items), own,
                                              trusted_authserv_id)
            except Exception:  # ClassificationTimeout, ClassifyingProcessDied, an outcome that does not pickle
                pass
        outcomes: list[Verdict | Exception] = []
        for raw, envelope in items:
            try:
                outcomes.append(await self.classify(classify, raw, envelope, own, trusted_authserv_id))
            except Exception as exc:
                outcomes.append(exc)
        return outcomes

    async def _in_a_child(self, reading: Callable, *args):
        if self._idle is None:
            self._idle = asyncio.Queue()
            for child in self._children:
                self._idle.put_nowait(child)
        child = await self._idle.get()
        self._busy.add(child)
        try:
            return await child.run(self.time_limit, reading, *args)
        finally:
            self._busy.discard(child)
            self._idle.put_nowait(child)

    def close(self) -> None:
        """Let the children exit; a message still being read is abandoned (its child killed)."""
        for child in self._children:
            if child in self._busy:
                child.replace()
            else:
                child.close()
