"""Local stand-ins for the outside world the campaigns app talks to: an HTTP server
(the SMS provider, the LLM endpoint) whose answers a test scripts, and which records
every request it receives."""

import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes
    client: tuple[str, int] = ("", 0)  # the client's address: one per connection

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Answer:
    status: int = 200
    body: Any = None  # JSON-encoded unless bytes
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering


Responder = Callable[[Request], Answer]


@dataclass
class StubServer:
    url: str
    requests: list[Request]
    responder: list[Responder]  # a one-item box: tests swap the responder

    def answer_with(self, responder: Responder) -> None:
        self.responder[0] = responder


@contextmanager
def stub_server(responder: Responder) -> Iterator[StubServer]:
    """An HTTP/1.1 server on 127.0.0.1 (keep-alive) answering POSTs with `responder`."""
    requests: list[Request] = []
    box = [responder]
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def setup(self) -> None:
            super().setup()
            # Headers and body go in two writes: without this, Nagle's algorithm holds
            # the body until the client's delayed ACK (~40 ms a request).
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            request = Request(
                self.path, dict(self.headers.items()), self.rfile.read(length), self.client_address
            )
            with lock:
                requests.append(request)
            answer = box[0](request)
            if answer.delay:
                threading.Event().wait(answer.delay)
            payload = (
                answer.body if isinstance(answer.body, bytes) else json.dumps(answer.body).encode()
            )
            try:
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield StubServer(f"http://127.0.0.1:{server.server_address[1]}", requests, box)
    finally:
        server.shutdown()
        server.server_close()
