"""A local web server for link tests: yt-dlp's generic extractor fetches from it, no internet.

Serves the files of a folder on 127.0.0.1 and records every path requested, so a test can check
that a refused link was refused before its media was downloaded.
"""

from __future__ import annotations

import functools
import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class _Handler(http.server.SimpleHTTPRequestHandler):
    requested: list[str]

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base's name)
        pass

    def send_head(self):  # noqa: ANN201 (the base's signature)
        self.requested.append(self.path)
        return super().send_head()


class MediaServer:
    """``server.url("a.wav")`` is the address of ``folder/a.wav``; ``requested`` lists paths."""

    def __init__(self, folder: Path, port: int) -> None:
        self.folder = folder
        self.port = port
        self.requested: list[str] = []

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"


@contextmanager
def serve(folder: Path) -> Iterator[MediaServer]:
    """Serve ``folder`` in a thread until the block ends."""
    requested: list[str] = []
    handler = type("Handler", (_Handler,), {"requested": requested})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                            functools.partial(handler, directory=str(folder)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    server = MediaServer(folder, httpd.server_address[1])
    server.requested = requested
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()
