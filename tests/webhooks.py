"""A real HTTP server on 127.0.0.1 that http steps call in tests: it answers from a script and
records every request it gets."""

import json
import select
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    status: int = 200
    body: bytes | str | dict | list = field(default_factory=lambda: {"ok": True})
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering
    # Seconds to hold the request without answering, or until the client drops the connection
    # (then no answer is sent, and the request's ``dropped_at`` says when).
    hold: float = 0.0


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.monotonic()
    dropped_at: float | None = None  # time.monotonic() when the client dropped a held request

    def json(self):
        return json.loads(self.body)


class WebhookServer:
    def __init__(self) -> None:
        self.replies: dict[str, list[Reply]] = {}  # per path, used in order; the last one repeats
        self.received: list[Received] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                received, reply = server._record(self.command, self.path, dict(self.headers), body)
                if reply.hold and self._held_until_dropped(reply.hold):
                    received.dropped_at = time.monotonic()
                    return
                if reply.delay:
                    time.sleep(reply.delay)
                payload = reply.body
                content_type = "text/plain; charset=utf-8"
                if isinstance(payload, (dict, list)):
                    payload, content_type = json.dumps(payload).encode(), "application/json"
                elif isinstance(payload, str):
                    payload = payload.encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", content_type)
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    if self.command != "HEAD":
                        self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout under test)

            def _held_until_dropped(self, seconds: float) -> bool:
                give_up = time.monotonic() + seconds
                while time.monotonic() < give_up:
                    readable, _, _ = select.select([self.connection], [], [], 0.05)
                    try:
                        if readable and self.connection.recv(1, socket.MSG_PEEK) == b"":
                            return True
                    except ConnectionResetError:
                        return True
                return False

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle

            def log_message(self, format, *args) -> None:
                pass

        class Server(ThreadingHTTPServer):
            # Many runs may call at once: socketserver's default backlog of 5 would reset them.
            request_queue_size = 1024

        self.httpd = Server(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def _record(self, method: str, path: str, headers: dict, body: bytes) -> tuple[Received, Reply]:
        with self._lock:
            received = Received(method, path, headers, body, time.monotonic())
            self.received.append(received)
            script = self.replies.get(path.split("?")[0]) or [Reply()]
            return received, script.pop(0) if len(script) > 1 else script[0]

    def url(self, path: str = "/hook", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def script(self, path: str, *replies: Reply) -> None:
        with self._lock:
            self.replies[path] = list(replies)

    def hits(self, path: str = "/hook") -> list[Received]:
        with self._lock:
            return [r for r in self.received if r.path.split("?")[0] == path]

    def start(self) -> "WebhookServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
