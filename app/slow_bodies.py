"""Request bodies must keep arriving: a client that trickles its body gets 408, not a thread.

Layer: WSGI middleware (`create_app`). The body is read up front in chunks, each due within
`CHUNK_SECONDS`, so slow clients cannot hold every thread and starve `/healthz` or webhook intake.
"""

from __future__ import annotations

import contextlib
import heapq
import io
import itertools
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

log = logging.getLogger(__name__)

CHUNK_BYTES = 16 * 1024
_TOO_SLOW = b'{"error": "request_timeout", "reason": "the request body arrived too slowly"}'
CHUNK_SECONDS = 2.0  # i.e. at least 8 KiB/s: far below any real client, far above a trickle


class _Watchdog:
    """One thread that cuts the reading side of sockets whose deadline passed."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, socket.socket, list[bool]]] = []
        self._order = itertools.count()
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None

    def arm(self, sock: socket.socket, seconds: float) -> list[bool]:
        """Cut `sock` in `seconds` unless disarmed; the returned flag turns True when cut."""
        state = [False, False]  # [disarmed, cut]
        with self._condition:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="body-deadline", daemon=True)
                self._thread.start()
            deadline = time.monotonic() + seconds
            heapq.heappush(self._heap, (deadline, next(self._order), sock, state))
            self._condition.notify()
        return state

    def disarm(self, state: list[bool]) -> None:
        with self._condition:
            state[0] = True

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._heap:
                    self._condition.wait()
                deadline, _, sock, state = self._heap[0]
                wait = deadline - time.monotonic()
                if wait > 0:
                    self._condition.wait(wait)
                    continue
                heapq.heappop(self._heap)
                if state[0]:
                    continue
                state[1] = True
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RD)


_watchdog = _Watchdog()


class BodyDeadline:
    """WSGI middleware reading a gunicorn request's body under a per-chunk deadline."""

    def __init__(self, app: Callable[..., Iterable[bytes]], max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        sock = environ.get("gunicorn.socket")
        length = _content_length(environ)
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if sock is None or not (length or chunked) or (length or 0) > self.max_bytes:
            # No body, not gunicorn, or too large: Flask answers (413) without reading it.
            return self.app(environ, start_response)
        body = self._read(environ["wsgi.input"], sock, length)
        if body is None:
            log.info("request body too slow path=%s", environ.get("PATH_INFO", ""))
            # The reading side is shut: the server closes the connection after this answer.
            start_response(
                "408 Request Timeout",
                [("Content-Type", "application/json"), ("Content-Length", str(len(_TOO_SLOW)))],
            )
            return [_TOO_SLOW]
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        return self.app(environ, start_response)

    def _read(self, stream: Any, sock: socket.socket, length: int | None) -> bytes | None:
        """The whole body, or None when a chunk came late or the client went away."""
        parts: list[bytes] = []
        received = 0
        while length is None or received < length:
            want = CHUNK_BYTES if length is None else min(CHUNK_BYTES, length - received)
            state = _watchdog.arm(sock, CHUNK_SECONDS)
            try:
                chunk = stream.read(want)
            except Exception:  # gunicorn's parser raises its own errors on a cut socket
                chunk = b""
            finally:
                _watchdog.disarm(state)
            if state[1]:
                return None
            if not chunk:
                return None if length is not None else b"".join(parts)
            parts.append(chunk)
            received += len(chunk)
            if received > self.max_bytes:
                break  # Flask answers 413 from the length

        return b"".join(parts)


def _content_length(environ: dict[str, Any]) -> int | None:
    try:
        return int(environ.get("CONTENT_LENGTH") or 0) or None
    except ValueError:
        return None
