"""Liveness probes: does a server still *answer* (not merely: is its process alive)?

Rule: a probe speaks the server's own protocol and waits at most `timeout_s` for its first reply
bytes. A stopped or deadlocked server still accepts TCP connections (the kernel queues them), so a
bare connect proves nothing; an answer that is an error (PostgreSQL refusing SSL, "too many
clients") still proves the server is alive. Every probe is blocking: run it in a thread.
"""

from __future__ import annotations

import socket
import struct

# PostgreSQL's SSLRequest: length 8, code 80877103; any server answers one byte, 'S' or 'N'
_PG_SSL_REQUEST = struct.pack("!II", 8, 80877103)
# HTTP/2 client preface + an empty SETTINGS frame; a gRPC server answers with its SETTINGS frame
_H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


def _first_reply(host: str, port: int, hello: bytes, timeout_s: float, size: int) -> bytes:
    """Send `hello`, answer the first bytes that come back (b"" on timeout or refusal)."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            sock.settimeout(timeout_s)
            sock.sendall(hello)
            return sock.recv(size)
    except OSError:
        return b""


def postgres_answers(host: str, port: int, timeout_s: float) -> bool:
    """PostgreSQL answers an SSLRequest (its postmaster forks a backend that replies 'S' or 'N')."""
    return _first_reply(host, port, _PG_SSL_REQUEST, timeout_s, 1) in (b"S", b"N")


def grpc_answers(host: str, port: int, timeout_s: float) -> bool:
    """A gRPC (HTTP/2) server, e.g. Temporal's frontend, answers the connection preface with a
    SETTINGS frame (frame type 0x4 at byte 3)."""
    reply = _first_reply(host, port, _H2_PREFACE, timeout_s, 9)
    return len(reply) >= 4 and reply[3] == 0x04


def http_health_answers(host: str, port: int, timeout_s: float, path: str = "/health") -> bool:
    """An HTTP server answers `GET <path>` with a 200."""
    request = f"GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n".encode()
    reply = _first_reply(host, port, request, timeout_s, 16)
    return reply.startswith((b"HTTP/1.1 200", b"HTTP/1.0 200"))
