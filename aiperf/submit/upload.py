"""``aiperf submit --to``: a bundle POSTed to a leaderboard's API with the submitter's token."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from aiperf.errors import UserError

TIMEOUT_S = 120.0
REPLY_BYTES = 1 << 20  # a reply is a few hundred bytes; more is not read


class UploadError(UserError):
    """The leaderboard could not be reached, or refused the upload: one line saying why."""


def upload(bundle: Path, url: str, token_file: Path) -> dict[str, Any]:
    """Send ``bundle`` to the leaderboard at ``url``; its reply (id, status, page URL)."""
    token = token_file.read_text(encoding="utf-8").strip()
    request = urllib.request.Request(
        url.rstrip("/") + "/api/submissions",
        data=bundle.read_bytes(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/gzip"},
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            return json.loads(response.read(REPLY_BYTES))
    except urllib.error.HTTPError as err:
        raise UploadError(f"--to {url}: refused ({err.code}: {_detail(err)})") from None
    except (urllib.error.URLError, OSError, ValueError) as err:
        raise UploadError(f"--to {url}: cannot upload ({getattr(err, 'reason', err)})") from None


def _detail(err: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(err.read(REPLY_BYTES)).get("detail"))[:300]
    except (ValueError, OSError, AttributeError):
        return err.reason or "no detail"
