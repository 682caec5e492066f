"""A fault-injecting TCP proxy for the sync fault tests: it sits between box and hub and, on
command, refuses connections, answers 503, swallows requests (timeouts), cuts connections
after a number of uploaded bytes, lets a batch commit or an upload through but loses the hub's
answer, or slows the link down."""

from __future__ import annotations

import socket
import threading
import time

MODES = ("pass", "refuse", "error503", "blackhole", "cut", "lose_commit", "lose_upload", "slow")
LOST = {
    "lose_commit": (b"POST /api/v1/sync/batches",),
    "lose_upload": (b"POST /api/v1/sync/blobs/pack", b"PUT /api/v1/sync/blobs/"),
}


class FaultProxy:
    """Forwards 127.0.0.1:`port` to `upstream`; `mode` changes what happens to new connections."""

    def __init__(self, upstream_port: int, cut_after: int = 40_000, slow_bytes_per_second: int = 200_000):
        self.upstream_port = upstream_port
        self.cut_after, self.rate = cut_after, slow_bytes_per_second
        self.mode = "pass"
        self.faults = 0
        self.cuts = 0
        self.answers_lost = 0
        self.commits_lost = 0
        self.bytes_up = 0
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.stopped = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def set(self, mode: str) -> None:
        assert mode in MODES
        self.mode = mode

    def close(self) -> None:
        self.stopped.set()
        self.listener.close()

    def _accept(self) -> None:
        while not self.stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client, self.mode), daemon=True).start()

    def _serve(self, client: socket.socket, mode: str) -> None:
        if mode != "pass":
            self.faults += 1
        if mode == "refuse":
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            client.close()
            return
        if mode in ("error503", "blackhole"):
            self._answer_or_swallow(client, mode)
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
        except OSError:
            client.close()
            return
        limit = self.cut_after if mode == "cut" else None
        last_request = [b""]
        threading.Thread(
            target=self._pump, args=(client, upstream, limit, mode == "slow", True, last_request), daemon=True
        ).start()
        self._pump(upstream, client, None, mode == "slow", False, last_request, lose=LOST.get(mode, ()))

    def _count(self, up: bool, size: int) -> None:
        if up:
            with self.lock:
                self.bytes_up += size

    def _answer_or_swallow(self, client: socket.socket, mode: str) -> None:
        client.settimeout(30)
        try:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = client.recv(65536)
                if not chunk:
                    return
                data += chunk
            if mode == "error503":
                client.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            else:
                while client.recv(65536):
                    pass
        except OSError:
            pass
        finally:
            client.close()

    def _pump(
        self,
        source: socket.socket,
        target: socket.socket,
        limit: int | None,
        slow: bool,
        up: bool,
        last_request: list,
        lose: tuple = (),
    ) -> None:
        sent = 0
        try:
            while True:
                data = source.recv(16384)
                if not data:
                    break
                if up and data[:4] in (b"GET ", b"POST", b"PUT "):
                    last_request[0] = data.split(b"\r\n", 1)[0]
                if lose and last_request[0].startswith(lose):
                    self.answers_lost += 1  # the hub has done the work and answered; the box never hears it
                    self.commits_lost += last_request[0].startswith(LOST["lose_commit"])
                    break
                if limit is not None and sent + len(data) > limit:
                    target.sendall(data[: max(0, limit - sent)])
                    self._count(up, max(0, limit - sent))
                    self.cuts += 1
                    break
                target.sendall(data)
                sent += len(data)
                self._count(up, len(data))
                if slow:
                    time.sleep(len(data) / self.rate)
        except OSError:
            pass
        finally:
            for sock in (source, target):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
