"""The leaderboard service, on SQLite and on a real PostgreSQL: signed uploads verified by
``aiperf check`` in a limited process, ranked, filtered, withdrawn and hidden; forged and hostile
bundles rejected with their reasons while the pages keep serving; auth, caps and headers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hostile import CASES
from ledgers import write_tiny_run
from liveserver import serving

from aiperf.leaderboard.app import Settings, create_app
from aiperf.leaderboard.submitters import add_submitter
from aiperf.submit import make_bundle, system_from_run
from aiperf.submit.archive import read_members
from aiperf.submit.signing import generate_key_pair

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    return write_tiny_run(tmp_path_factory.mktemp("lb") / "run")


class Board:
    """A leaderboard under test: its client, two submitters (one an organiser) and their keys."""

    def __init__(self, database_url: str, folder: Path, **settings) -> None:
        self.folder = folder
        self.tokens, self.keys = {}, {}
        for name, organiser in (("lab", False), ("rival", False), ("organiser", True)):
            key = folder / name
            generate_key_pair(key, folder / f"{name}.pub")
            self.keys[name] = key
            self.tokens[name] = add_submitter(database_url, name, folder / f"{name}.pub", organiser)
        store = folder / "store"
        self.app = create_app(Settings(database_url, store, background=False, **settings))
        self.client = TestClient(self.app)

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def upload(self, bundle: Path, who: str = "lab") -> dict:
        response = self.client.post("/api/submissions", content=bundle.read_bytes(),
                                    headers=self.auth(who))  # fmt: skip
        assert response.status_code in (200, 202), response.text
        return response.json()

    def verify(self) -> int:
        return self.app.state.verifier.run_pending()

    def status(self, submission_id: int) -> dict:
        return self.client.get(f"/api/submissions/{submission_id}").json()


@pytest.fixture
def board(database_url, tmp_path) -> Board:
    return Board(database_url, tmp_path)


def signed_bundle(run_dir: Path, board: Board, who: str = "lab", name: str = "b") -> Path:
    system = system_from_run(run_dir, {"submitter": who, "system_name": f"box-{name}"})
    return make_bundle(run_dir, board.folder / f"{name}.tar.gz", system, board.keys[who])


def test_a_signed_honest_bundle_is_accepted_and_ranked(board, run_dir) -> None:
    reply = board.upload(signed_bundle(run_dir, board))
    assert reply["status"] == "queued"
    assert board.verify() == 1
    status = board.status(reply["id"])
    assert (status["status"], status["division"], status["reasons"]) == ("accepted", "closed", [])
    again = board.upload(signed_bundle(run_dir, board))  # the same bytes: the same submission
    assert again["id"] == reply["id"] and board.verify() == 0
    rows = board.client.get("/api/leaderboard").json()
    assert [(r["id"], r["division"], r["system_name"]) for r in rows] == [
        (reply["id"], "closed", "box-b")
    ]
    page = board.client.get("/")
    assert page.status_code == 200 and "box-b" in page.text and "tiny · rules v1" in page.text
    csv = board.client.get("/leaderboard.csv").text.splitlines()
    assert csv[0].startswith("id,spec_name,rules_version") and len(csv) == 2


def test_the_submission_page_draws_from_the_rescored_run(board, run_dir) -> None:
    bundle = signed_bundle(run_dir, board)
    reply = board.upload(bundle)
    board.verify()
    page = board.client.get(reply["url"])
    assert page.status_code == 200 and "Regulated score" in page.text
    assert "<script" not in page.text  # uploaded report.html is never shown
    for name in ("flops", "regulated", "accuracy", "gantt"):
        plot = board.client.get(f"{reply['url']}/plots/{name}.png")
        assert plot.status_code == 200 and plot.content.startswith(PNG)
    assert board.client.get(f"{reply['url']}/bundle").content == bundle.read_bytes()
    assert board.client.get("/systems/box-b").status_code == 200


def test_forged_and_unsigned_bundles_are_rejected_with_their_reasons(board, run_dir) -> None:
    honest = read_members(signed_bundle(run_dir, board))[0]
    forged = CASES["train FLOPs x5, re-scored"].make(honest, board.folder)
    signed_forgery = board.folder / "forged-signed.tar.gz"
    members = read_members(forged)[0]
    _resign(members, board, signed_forgery)
    first = board.upload(signed_forgery)
    second = board.upload(signed_bundle(run_dir, board, who="lab", name="unsigned"), who="rival")
    assert board.verify() == 2
    reasons = board.status(first["id"])["reasons"]
    assert board.status(first["id"])["status"] == "rejected"
    assert any("genome and batch shapes give" in r for r in reasons), reasons
    assert "not by the expected" in " ".join(board.status(second["id"])["reasons"])
    assert board.client.get("/").status_code == 200  # the server keeps serving
    assert board.client.get("/api/leaderboard").json() == []


def _resign(members: dict[str, bytes], board: Board, out: Path) -> None:
    """A forger re-signs their forgery with their own key (it is still theirs)."""
    from aiperf.submit.bundle import MANIFEST, SIGNATURE, write_members
    from aiperf.submit.signing import sign_manifest

    members[SIGNATURE] = sign_manifest(members[MANIFEST], board.keys["lab"])
    head = {MANIFEST: members.pop(MANIFEST), SIGNATURE: members.pop(SIGNATURE)}
    write_members(out, {**head, **dict(sorted(members.items()))})


def test_hostile_uploads_are_rejected_and_the_server_keeps_serving(board) -> None:
    bomb = board.folder / "bomb.gz"
    import gzip

    with gzip.open(bomb, "wb") as out:
        for _ in range(60):
            out.write(bytes(1 << 20))
    junk = board.folder / "junk"
    junk.write_bytes(b"not a bundle at all")
    ids = [board.upload(bomb)["id"], board.upload(junk)["id"]]
    assert board.verify() == 2
    reasons = [" ".join(board.status(i)["reasons"]) for i in ids]
    assert "inflates to over" in reasons[0] and "not a readable tar.gz" in reasons[1]
    assert board.client.get("/").status_code == 200


def test_every_write_needs_a_token_and_a_size_under_the_cap(database_url, tmp_path) -> None:
    board = Board(database_url, tmp_path, max_upload_bytes=1000, write_burst=3,
                  writes_per_minute=1.0)  # fmt: skip
    post = board.client.post
    assert post("/api/submissions", content=b"x").status_code == 401
    assert (
        post("/api/submissions", content=b"x", headers={"Authorization": "Bearer no"}).status_code
        == 401
    )
    assert (
        post("/api/submissions", content=b"x" * 1001, headers=board.auth("lab")).status_code == 413
    )
    codes = [post("/api/submissions", content=b"x", headers=board.auth("lab")).status_code
             for _ in range(3)]  # fmt: skip
    assert codes == [202, 200, 429]  # burst of 3 (the 413 counted), same bytes again, then none


def test_withdraw_and_hide_are_recorded(board, run_dir) -> None:
    reply = board.upload(signed_bundle(run_dir, board))
    board.verify()
    url = f"/api/submissions/{reply['id']}"
    assert board.client.post(f"{url}/withdraw", headers=board.auth("rival")).status_code == 403
    hide = {"reason": "duplicate of an earlier result"}
    assert board.client.post(f"{url}/hide", json=hide, headers=board.auth("lab")).status_code == 403
    hidden = board.client.post(f"{url}/hide", json=hide, headers=board.auth("organiser")).json()
    assert hidden["hidden"] is True
    assert board.client.get("/api/leaderboard").json() == []
    assert "duplicate of an earlier result" in board.client.get(reply["url"]).text
    withdrawn = board.client.post(f"{url}/withdraw", headers=board.auth("lab")).json()
    assert withdrawn["status"] == "withdrawn"
    from sqlalchemy import select

    from aiperf.leaderboard.db import AuditEntry

    with board.app.state.sessions() as session:
        actions = [(e.actor, e.action) for e in session.scalars(select(AuditEntry))]
    assert ("organiser", "hide") in actions and ("lab", "withdraw") in actions


def test_pages_send_security_headers_and_filters_never_mix_divisions(board, run_dir) -> None:
    reply = board.upload(signed_bundle(run_dir, board))
    board.verify()
    page = board.client.get("/", params={"division": "open"})
    assert "box-b" not in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-frame-options"] == "DENY"
    assert "box-b" in board.client.get("/", params={"division": "closed", "sort": "flops"}).text
    compare = board.client.get("/compare", params={"a": reply["id"], "b": reply["id"]})
    assert compare.status_code == 200
    plot = board.client.get("/compare.png", params={"a": reply["id"], "b": reply["id"]})
    assert plot.content.startswith(PNG)
    assert "paths" in board.client.get("/openapi.json").json()


def test_submit_to_a_running_server(database_url, tmp_path, run_dir, capsys) -> None:
    from aiperf.cli import main

    board = Board(database_url, tmp_path)
    token = tmp_path / "token"
    token.write_text(board.tokens["lab"])
    with serving(board.app) as url:
        argv = ["submit", str(run_dir), "--to", url, "--token-file", str(token),
                "--key", str(board.keys["lab"]), "--submitter", "lab"]  # fmt: skip
        assert main(argv) == 0
        assert "submitted: queued" in capsys.readouterr().out
        assert board.verify() == 1
        rows = json.loads(board.client.get("/api/leaderboard").text)
        assert [r["submitter"] for r in rows] == ["lab"]


def test_other_request_bodies_are_small_and_of_known_length(board) -> None:
    url = "/api/submissions/1/hide"
    huge = {"reason": "x" * (100 << 10)}
    response = board.client.post(url, json=huge, headers=board.auth("organiser"))
    assert response.status_code == 413 and "at most 65536 bytes" in response.text
    assert response.headers["x-frame-options"] == "DENY"

    def chunks():
        yield b'{"reason": "streamed"}'

    chunked = board.client.post(url, content=chunks(), headers=board.auth("organiser"))
    assert chunked.status_code == 411
