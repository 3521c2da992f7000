"""An ASGI app served by uvicorn in a thread on a free loopback port, for tests and benchmarks."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def serving(app: Any, start_timeout_s: float = 30.0) -> Iterator[str]:
    """``app`` listening on 127.0.0.1; yields its base URL, stops it on exit."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout_s
    while not server.started and time.monotonic() < deadline:  # poll until it listens
        time.sleep(0.05)
    if not server.started:
        raise RuntimeError(f"the server did not start within {start_timeout_s:g} s")
    try:
        yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
