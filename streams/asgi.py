"""The stream server: ``uvicorn streams.asgi:application``.

A bare ASGI application rather than Django's ASGI handler: each open stream is a coroutine
waiting on its queue (a few kilobytes), with no request object or middleware held for its
lifetime. Django is set up for the settings and the ORM, which only the hub's database thread
uses.

    GET /api/stream/runs?token=...   server-sent events (Last-Event-ID or ?last_event_id= replays)
    GET /health                      {"status": "ok", "streams": <open streams>}
"""

import asyncio
import gc
import json
import logging
import os
from typing import Any
from urllib.parse import parse_qs

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "vingine.settings")
django.setup()

from django.db import DatabaseError  # noqa: E402  (after setup)

from vingine.errors import DATABASE_UNAVAILABLE  # noqa: E402

from . import render, tokens  # noqa: E402
from .hub import Hub, Subscriber, stream_id  # noqa: E402
from .services import STREAM_PATH  # noqa: E402

logger = logging.getLogger(__name__)

Scope = dict[str, Any]

# A browser page on another origin (the Next.js app) reads the stream: the token, not a cookie,
# says who may, so any origin may ask. Last-Event-ID is not a CORS-safelisted header: a fetch() that
# sends it is preflighted.
CORS = [(b"access-control-allow-origin", b"*")]
PREFLIGHT = [
    *CORS,
    (b"access-control-allow-methods", b"GET, OPTIONS"),
    (b"access-control-allow-headers", b"last-event-id, cache-control"),
    (b"access-control-max-age", b"86400"),
]
EVENT_STREAM = [
    *CORS,
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-cache, no-transform"),
    (b"x-accel-buffering", b"no"),  # nginx: pass each event on at once
]

hub: Hub | None = None


async def application(scope: Scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
    elif scope["type"] == "http":
        await _http(scope, receive, send)


async def _lifespan(receive, send) -> None:
    global hub
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            hub = Hub()
            hub.start()
            _collect_garbage_rarely()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if hub is not None:
                await hub.stop()
            await send({"type": "lifespan.shutdown.complete"})
            return


def _collect_garbage_rarely() -> None:
    """Python's cycle collector walks every object it tracks: with Django loaded and thousands of
    streams open, a full pass held the event loop for 200-400 ms, and every event due then waited.
    What is loaded at start lives as long as the process: it is set aside (freeze), never walked.
    Streams free their objects by reference counting, so passes can be rarer."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 50, 100)


async def _http(scope: Scope, receive, send) -> None:
    path, method = scope["path"].rstrip("/"), scope["method"]
    if hub is None:
        await _json(send, 503, {"detail": "The stream server is starting; try again in a second"})
    elif path == STREAM_PATH and method == "OPTIONS":
        await send({"type": "http.response.start", "status": 204, "headers": PREFLIGHT})
        await send({"type": "http.response.body", "body": b""})
    elif path == STREAM_PATH and method in ("GET", "HEAD"):
        await _stream_runs(hub, scope, receive, send)
    elif path == STREAM_PATH:
        await _json(send, 405, {"detail": f"Method {method} not allowed; open the stream with GET"})
    elif path == "/health":
        await _json(send, 200, {"status": "ok", "streams": hub.count})
    else:
        await _json(send, 404, {"detail": f"Not found: the stream is at {STREAM_PATH}?token=..."})


async def _stream_runs(hub: Hub, scope: Scope, receive, send) -> None:
    query = parse_qs(scope["query_string"].decode("latin-1"))
    try:
        stream_scope = tokens.read(query.get("token", [""])[0])
        if not await hub.database(render.caller_active, stream_scope.caller_id):
            raise tokens.Refused("The user of this stream token is no longer active")
    except tokens.Refused as exc:
        await _json(send, 401, {"detail": str(exc)})
        return
    except DatabaseError:
        await _json(send, 503, {"detail": DATABASE_UNAVAILABLE}, headers=[(b"retry-after", b"5")])
        return
    headers = dict(scope["headers"])
    since = headers.get(b"last-event-id", b"").decode("latin-1") or query.get("last_event_id", [""])[0]

    subscriber = hub.subscribe(stream_scope)  # before reading what was missed: nothing falls between
    watcher = asyncio.create_task(_until_disconnected(receive, subscriber))
    try:
        await send({"type": "http.response.start", "status": 200, "headers": EVENT_STREAM})
        await send({"type": "http.response.body", "body": b"retry: 2000\n\n", "more_body": True})
        if scope["method"] == "HEAD":
            return
        sent = None  # the newest event id sent: what the queue also holds from the replay is skipped
        if since:
            missed = await hub.missed(stream_scope, since)
            if missed is None:
                detail = f"Events since {since} are no longer kept; fetch the runs again (GET /api/runs)."
                await _body(send, render.message("reset", detail))
            else:
                for entry_id, frame in missed:
                    await _body(send, frame)
                    sent = stream_id(entry_id)
        while (item := await subscriber.queue.get()) is not None:
            entry_id, frame = item
            if entry_id is not None:
                if sent is not None and stream_id(entry_id) <= sent:
                    continue
                sent = None  # ids only grow from here
            await _body(send, frame)
    except OSError:  # the client went away while we wrote (uvicorn's ClientDisconnected is one)
        pass
    finally:
        watcher.cancel()
        hub.unsubscribe(subscriber)
        try:
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        except OSError:
            pass


async def _until_disconnected(receive, subscriber: Subscriber) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
    subscriber.close()


async def _body(send, data: bytes) -> None:
    await send({"type": "http.response.body", "body": data, "more_body": True})


async def _json(send, status: int, body: dict, headers: list | None = None) -> None:
    data = json.dumps(body).encode()
    headers = [*CORS, *(headers or []), (b"content-type", b"application/json")]
    headers.append((b"content-length", str(len(data)).encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": data})
