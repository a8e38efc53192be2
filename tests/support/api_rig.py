"""Shared test helpers (moved out of test modules so tests never import each other)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx


async def wait_task(
    c: httpx.AsyncClient, h: dict, ws: str, task_id: str, timeout: float = 90.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        task = (await c.get(f"/workspaces/{ws}/tasks/{task_id}", headers=h)).json()
        if task["status"] in TERMINAL:
            return task
        assert time.monotonic() < deadline, f"task {task_id} still {task['status']}"
        await asyncio.sleep(0.2)


SECRET = "test-webhook-secret"


class Receiver:
    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, str], bytes]] = []
        self.fail_first: set[str] = set()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_port}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                receiver.calls.append((self.path, dict(self.headers), body))
                if self.path in receiver.fail_first:
                    receiver.fail_first.discard(self.path)
                    self.send_response(500)
                else:
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        return Handler

    def start(self) -> None:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self._server.shutdown()

    def for_path(self, path: str) -> list[tuple[dict[str, str], dict]]:
        return [(h, json.loads(b)) for p, h, b in self.calls if p == path]


TERMINAL = {"succeeded", "failed", "canceled"}
