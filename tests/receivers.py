"""Real receivers for the notification tests, on 127.0.0.1 and free ports: an SMTP server
(aiosmtpd) standing in for the mail server, and an HTTP server standing in for the bots
(Apprise's ``json://`` posts to it)."""
from __future__ import annotations

import email
import json
import socket
import threading
from dataclasses import dataclass, field
from email.header import decode_header, make_header
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    subject: str
    dedupe_id: str | None
    body: str


class _SmtpHandler:
    def __init__(self):
        self.mails: list[Mail] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content)
        part = next((p for p in msg.walk() if p.get_content_type() == "text/plain"), msg)
        body = part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
        with self.lock:
            self.mails.append(Mail(envelope.mail_from, list(envelope.rcpt_tos),
                                   str(make_header(decode_header(msg["Subject"] or ""))),
                                   msg["X-Compliance-Id"], body))
        return "250 OK"


class SmtpServer:
    def __init__(self):
        self.handler = _SmtpHandler()
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        self.port = probe.getsockname()[1]
        probe.close()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> "SmtpServer":
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()

    @property
    def mails(self) -> list[Mail]:
        with self.handler.lock:
            return list(self.handler.mails)

    def url(self, to: str | None = None) -> str:
        base = f"mailto://127.0.0.1:{self.port}?from=compliance@example.com"
        return base + (f"&to={to}" if to else "")


@dataclass
class Post:
    path: str
    payload: dict


@dataclass
class HttpReceiver:
    """Records every JSON post; ``fail[path] = n`` answers the next n posts to that path
    with 500 (-1: always)."""
    posts: list[Post] = field(default_factory=list)
    refused: list[Post] = field(default_factory=list)
    fail: dict[str, int] = field(default_factory=dict)

    def __post_init__(self):
        receiver = self
        self.lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                post = Post(self.path, json.loads(self.rfile.read(length) or b"{}"))
                with receiver.lock:
                    left = receiver.fail.get(self.path, 0)
                    if left:
                        receiver.fail[self.path] = left - 1 if left > 0 else left
                        receiver.refused.append(post)
                        code = 500
                    else:
                        receiver.posts.append(post)
                        code = 200
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "HttpReceiver":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def url(self, path: str, auth: str = "") -> str:
        return f"json://{auth}127.0.0.1:{self.port}/{path.strip('/')}"

    def received(self, path: str | None = None) -> list[Post]:
        with self.lock:
            return [p for p in self.posts if path is None or p.path == path]
