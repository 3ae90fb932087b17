"""A loopback TCP proxy that cuts the connection after a number of bytes from the server.

It forwards bytes unchanged (TLS passes through, so the client still validates the real
server's certificate) and simulates a network that drops in the middle of an answer.
"""

from __future__ import annotations

import contextlib
import socket
import threading


class CuttingProxy:
    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.cut_after: int | None = None  # bytes server → client before the cut
        self.sent = 0  # bytes server → client so far, on every connection
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._stop = threading.Event()
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._stop.set()
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            budget = [self.cut_after]
            threading.Thread(target=self._pump, args=(client, server, None), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, budget), daemon=True).start()

    def _pump(
        self, src: socket.socket, dst: socket.socket, budget: list[int | None] | None
    ) -> None:
        try:
            while data := src.recv(65536):
                if budget is not None and budget[0] is not None:
                    if len(data) >= budget[0]:
                        dst.sendall(data[: budget[0]])
                        break
                    budget[0] -= len(data)
                if budget is not None:
                    self.sent += len(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (src, dst):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
