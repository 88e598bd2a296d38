"""A TCP proxy that forwards PostgreSQL traffic and can cut a connection around ``COMMIT``.

It reads the client's messages one by one (frontend protocol v3: an untyped startup packet,
possibly preceded by SSL/GSS requests, then typed messages), so it knows exactly when a
``Query`` message holding ``COMMIT`` passes. What it then does is :attr:`CommitProxy.cut`:

* ``None``: forward everything;
* ``"before"``: drop the ``COMMIT`` and close both sides (the server never sees it);
* ``"after"``: forward the ``COMMIT``, then close both sides at once (the server commits,
  its reply never reaches the client);
* ``"reply"``: forward the ``COMMIT`` and the server's reply minus its last byte, then close
  both sides (the client sees its reply cut short).

The cut happens once; later connections are forwarded normally, unless ``stop_after_cut``
closes the listening socket too (a proxy that is gone for good).
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Iterator
from typing import Literal

Cut = Literal["before", "after", "reply"]

_SPECIAL_STARTUP = {80877103, 80877104}  # SSLRequest, GSSENCRequest


class CommitProxy:
    """Forwards 127.0.0.1:``port`` to ``target``; cuts around the first ``COMMIT`` as told."""

    def __init__(
        self, target: tuple[str, int], *, cut: Cut | None, stop_after_cut: bool = False
    ) -> None:
        self.target = target
        self.cut = cut
        self.stop_after_cut = stop_after_cut
        self.cuts = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._accepting = threading.Thread(target=self._accept, daemon=True)
        self._accepting.start()

    def close(self) -> None:
        """Stop listening and close every connection."""
        self._stop_listening()
        for sock in list(self._sockets):
            with contextlib.suppress(OSError):
                sock.close()
        for thread in self._threads:
            thread.join(timeout=10)

    def _stop_listening(self) -> None:
        # shutdown() wakes the thread blocked in accept() (close() alone would not, and the
        # socket would go on accepting connections).
        _close(self._listener)
        self._accepting.join(timeout=10)

    def __enter__(self) -> CommitProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            self._sockets += [client, server]
            thread = threading.Thread(target=self._serve, args=(client, server), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _take_cut(self) -> Cut | None:
        with self._lock:
            if self.cut is None or self.cuts:
                return None
            self.cuts += 1
            return self.cut

    def _serve(self, client: socket.socket, server: socket.socket) -> None:
        stop = threading.Event()
        back = threading.Thread(target=_pump, args=(server, client, stop), daemon=True)
        back.start()
        try:
            for message in _client_messages(client):
                if message[:1] == b"Q" and b"COMMIT" in message.upper():
                    cut = self._take_cut()
                    if cut is not None:
                        stop.set()  # the server is idle between queries: nothing in flight
                        back.join(timeout=10)
                        self._cut(cut, message, client, server)
                        return
                server.sendall(message)
        except OSError:
            pass
        finally:
            _close(client, server)
            back.join(timeout=10)

    def _cut(self, cut: Cut, commit: bytes, client: socket.socket, server: socket.socket) -> None:
        if self.stop_after_cut:
            self._stop_listening()
        if cut == "before":
            _close(client, server)
            return
        server.sendall(commit)
        if cut == "after":
            client.close()
            # Half-close: the server reads the COMMIT, then the end of the stream; its reply
            # is read here and dropped.
            server.shutdown(socket.SHUT_WR)
            _drain(server)
            return
        # "reply": all but the last byte of the reply (ReadyForQuery, b"Z" length 5 status).
        reply = b""
        while not reply.endswith(b"Z\x00\x00\x00\x05I"):
            data = server.recv(65536)
            if not data:
                break
            reply += data
        client.sendall(reply[:-1])
        _close(client, server)


def _pump(source: socket.socket, sink: socket.socket, stop: threading.Event) -> None:
    """Forward ``source`` to ``sink`` until the end of the stream or ``stop``."""
    source.settimeout(0.05)
    try:
        while not stop.is_set():
            try:
                data = source.recv(65536)
            except TimeoutError:
                continue
            if not data:
                break
            sink.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            source.settimeout(None)


def _drain(sock: socket.socket) -> None:
    sock.settimeout(10)
    with contextlib.suppress(OSError):
        while sock.recv(65536):
            pass


def _client_messages(sock: socket.socket) -> Iterator[bytes]:
    """The client's messages, whole: untyped startup packets first, then typed ones."""
    buf = b""

    def need(n: int) -> bytes | None:
        nonlocal buf
        while len(buf) < n:
            data = sock.recv(65536)
            if not data:
                return None
            buf += data
        taken, buf = buf[:n], buf[n:]
        return taken

    startup = True
    while True:
        if startup:
            head = need(4)
            if head is None:
                return
            (length,) = struct.unpack("!I", head)
            body = need(length - 4)
            if body is None:
                return
            code = struct.unpack("!I", body[:4])[0] if len(body) >= 4 else 0
            startup = code in _SPECIAL_STARTUP
            yield head + body
            continue
        head = need(5)
        if head is None:
            return
        (length,) = struct.unpack("!I", head[1:])
        body = need(length - 4)
        if body is None:
            return
        yield head + body


def _close(*socks: socket.socket) -> None:
    for sock in socks:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(OSError):
            sock.close()
