"""``aiperf leaderboard serve``: the application under uvicorn, its folders made if missing."""

from __future__ import annotations

import gc
from pathlib import Path


def settle_heap() -> None:
    """Move everything loaded at start-up out of the collector's reach: a full collection over
    the libraries' objects otherwise stalls a page now and then by ~70 ms."""
    gc.collect()
    gc.freeze()


def serve(db_url: str, store: Path, host: str, port: int) -> None:
    """Serve the leaderboard until interrupted (verification runs in a background thread)."""
    import uvicorn

    from aiperf.leaderboard.app import Settings, create_app

    store.mkdir(parents=True, exist_ok=True)
    app = create_app(Settings(db_url=db_url, store=store))
    settle_heap()
    uvicorn.run(app, host=host, port=port)
