"""Message framing between the simulated board (sim/board_sim/board_server.py, inside the
simulator) and its client (simulated.py, in any Python process).  Standard library only.

A message is::

    4 bytes    length of the header, unsigned big-endian
    header     UTF-8 JSON object; its "payload" field (default 0) is the number of raw bytes
               that follow
    payload    raw bytes (DMA data), never pickled

Requests carry "op"; replies carry "ok" (and "error" when false).  The operations and
reply fields are listed in board_server.py's docstring.
"""
from __future__ import annotations

import json
import socket
import struct

MAX_HEADER = 1 << 20
PROTOCOL = 1


class WireError(ConnectionError):
    """The peer closed the connection or sent something that is not a message."""


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        chunk = sock.recv(min(n - got, 1 << 20))
        if not chunk:
            raise WireError(f"connection closed after {got} of {n} bytes")
        chunks.append(chunk)
        got += len(chunk)
    return b"".join(chunks)


def send(sock: socket.socket, header: dict, payload: bytes | memoryview = b"") -> None:
    header = dict(header, payload=len(payload))
    text = json.dumps(header, separators=(",", ":")).encode()
    sock.sendall(struct.pack(">I", len(text)) + text)
    if len(payload):
        sock.sendall(payload)


def recv(sock: socket.socket) -> tuple[dict, bytes] | None:
    """One message, or None when the peer closed the connection between messages."""
    first = sock.recv(4)
    if not first:
        return None
    if len(first) < 4:
        first += _recv_exact(sock, 4 - len(first))
    (n,) = struct.unpack(">I", first)
    if n > MAX_HEADER:
        raise WireError(f"header of {n} bytes: not a board-simulation peer")
    header = json.loads(_recv_exact(sock, n).decode())
    if not isinstance(header, dict):
        raise WireError("header is not a JSON object")
    size = int(header.get("payload", 0))
    return header, (_recv_exact(sock, size) if size else b"")
