"""The stream server's one reader of run events.

It follows the Redis stream (``workflows.events``) with a blocking XREAD and hands each event to
the subscribers it concerns: those of the run's owner whose scope wants it. Runs are read from the
database once per batch of events, and only for events someone is subscribed to; each event is
rendered once and the same bytes go to every subscriber. A subscriber that falls
STREAM_QUEUE_MAX events behind is closed: it reconnects with Last-Event-ID and catches up from
the stream, instead of holding the server's memory.
"""

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import redis.asyncio as redis
from django.conf import settings
from django.db import DatabaseError

from workflows.events import STREAM_KEY

from . import render
from .tokens import StreamScope

logger = logging.getLogger(__name__)

READ_BATCH = 1000  # events read from Redis at a time
REPLAY_PAGE = 1000
PING = (None, b": ping\n\n")  # a comment line: keeps proxies and load balancers from closing the stream


def stream_id(value: str) -> tuple[int, int] | None:
    """A Redis stream id ("<ms>-<seq>") as numbers to compare; None if it is not one."""
    ms, _, seq = value.partition("-")
    if not (ms.isdigit() and (seq.isdigit() or not seq)):
        return None
    return int(ms), int(seq or 0)


class Subscriber:
    __slots__ = ("scope", "queue", "ping_slot")
    opened = 0  # subscribers so far: spreads their pings over the interval

    def __init__(self, scope: StreamScope) -> None:
        self.scope = scope
        Subscriber.opened += 1
        self.ping_slot = Subscriber.opened
        # (event id, bytes) to send; None: stop (the client went away, fell behind, or the server stops).
        self.queue: asyncio.Queue[tuple[str | None, bytes] | None] = asyncio.Queue()

    def offer(self, item: tuple[str | None, bytes]) -> None:
        if self.queue.qsize() >= settings.STREAM_QUEUE_MAX:
            self.close()
            return
        self.queue.put_nowait(item)

    def close(self) -> None:
        while not self.queue.empty():  # what it has not sent yet, it gets from the stream when it reconnects
            self.queue.get_nowait()
        self.queue.put_nowait(None)


class Hub:
    def __init__(self) -> None:
        self.subscribers: dict[str, set[Subscriber]] = defaultdict(set)
        self.redis = redis.Redis.from_url(settings.REDIS_URL, decode_responses=True, socket_timeout=30)
        # One thread for the database: batches are read in order, and the event loop never waits on it.
        self._database = ThreadPoolExecutor(max_workers=1, thread_name_prefix="stream-db")
        self._tasks: list[asyncio.Task] = []

    @property
    def count(self) -> int:
        return sum(len(subscribers) for subscribers in self.subscribers.values())

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._follow()), asyncio.create_task(self._ping())]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for subscribers in self.subscribers.values():
            for subscriber in subscribers:
                subscriber.close()
        await self.redis.aclose()
        self._database.shutdown(wait=False)

    async def database(self, read: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(self._database, read, *args)

    def subscribe(self, scope: StreamScope) -> Subscriber:
        subscriber = Subscriber(scope)
        self.subscribers[str(scope.owner_id)].add(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: Subscriber) -> None:
        owner = str(subscriber.scope.owner_id)
        self.subscribers[owner].discard(subscriber)
        if not self.subscribers[owner]:
            del self.subscribers[owner]

    async def _follow(self) -> None:
        last = "$"  # what is appended from now on; then after the last event read, so nothing is skipped
        while True:
            try:
                reply = await self.redis.xread({STREAM_KEY: last}, count=READ_BATCH, block=5000)
            except redis.RedisError as exc:
                logger.warning("reading run events failed (%r); trying again in 1 s", exc)
                await asyncio.sleep(1)
                continue
            if not reply:
                continue
            entries = reply[0][1]
            try:
                await self._deliver(entries)
            except DatabaseError as exc:  # the database away: the same batch again, shortly
                logger.warning("reading the runs of %d events failed (%r); trying again in 1 s", len(entries), exc)
                await asyncio.sleep(1)
                continue
            except Exception:  # a bug must not stop every stream: this batch is lost, said loudly
                logger.exception("delivering %d run events failed; they are skipped", len(entries))
            last = entries[-1][0]

    async def _deliver(self, entries: list[tuple[str, dict[str, str]]]) -> None:
        wanted = []
        for entry_id, fields in entries:
            subscribers = [
                subscriber
                for subscriber in self.subscribers.get(fields.get("u", ""), ())
                if subscriber.scope.wants(fields.get("j", ""), fields.get("r", ""))
            ]
            if subscribers:
                wanted.append((entry_id, fields, subscribers))
        if not wanted:
            return
        runs = await self.database(render.runs_shown, {fields["r"] for _, fields, _ in wanted})
        for entry_id, fields, subscribers in wanted:
            run = runs.get(fields["r"])
            if run is None:  # deleted since (its job was)
                continue
            item = (entry_id, render.frame(entry_id, fields, run))
            for subscriber in subscribers:
                subscriber.offer(item)

    async def _ping(self) -> None:
        # Each second a slice of the streams, each stream once every STREAM_PING_SECONDS: thousands
        # of pings at one moment would hold up the events due then.
        tick = 0
        while True:
            await asyncio.sleep(1)
            tick += 1
            every = settings.STREAM_PING_SECONDS
            for subscribers in list(self.subscribers.values()):
                for subscriber in subscribers:
                    if subscriber.ping_slot % every == tick % every:
                        subscriber.offer(PING)

    async def missed(self, scope: StreamScope, since: str) -> list[tuple[str, bytes]] | None:
        """The events for ``scope`` after event ``since``, rendered; None when some of them are no
        longer kept (the subscriber must read the runs again)."""
        since_id = stream_id(since)
        if since_id is None:
            return None
        if await self.redis.exists(STREAM_KEY):
            info = await self.redis.xinfo_stream(STREAM_KEY)
            first = info.get("first-entry")
            # Some were trimmed (more added than kept) and the oldest kept comes after ``since``:
            # what came between may be gone.
            if info["entries-added"] > info["length"] and (first is None or since_id < stream_id(first[0])):
                return None
        owner, found = str(scope.owner_id), []
        start = f"({since}"
        while True:
            page = await self.redis.xrange(STREAM_KEY, min=start, max="+", count=REPLAY_PAGE)
            found += [
                (entry_id, fields)
                for entry_id, fields in page
                if fields.get("u") == owner and scope.wants(fields.get("j", ""), fields.get("r", ""))
            ]
            if len(page) < REPLAY_PAGE:
                break
            start = f"({page[-1][0]}"
        if not found:
            return []
        runs = await self.database(render.runs_shown, _run_ids(found))
        return [
            (entry_id, render.frame(entry_id, fields, runs[fields["r"]]))
            for entry_id, fields in found
            if fields["r"] in runs
        ]


def _run_ids(entries: list[tuple[str, dict[str, str]]]) -> Collection[str]:
    return {fields["r"] for _, fields in entries}
