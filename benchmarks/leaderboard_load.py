"""The leaderboard under load, on loopback only: with 10,000 submissions in the database, the
ranking page's p50/p99 latency on SQLite and on PostgreSQL (goal p99 ≤ 100 ms); 20 concurrent
uploads of valid bundles (all accepted, none lost); 50 hostile bundles uploaded at once (every one
rejected with a reason) while the ranking page keeps p99 ≤ 250 ms.

PostgreSQL is a throwaway server started like the test suite's (``tests/pgcluster.py``; needs
Debian's ``postgresql``). Usage: python benchmarks/leaderboard_load.py [--rows 10000]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from hostile import CASES
from ledgers import write_tiny_run
from liveserver import serving
from pgcluster import create_database, start_postgres, stop_postgres

from aiperf.leaderboard.app import Settings, create_app
from aiperf.leaderboard.db import Submission, Submitter
from aiperf.leaderboard.serve import settle_heap
from aiperf.leaderboard.submitters import add_submitter
from aiperf.submit import make_bundle, system_from_run
from aiperf.submit.archive import read_members
from aiperf.submit.signing import generate_key_pair

REQUESTS = 200


def seed(app, rows: int) -> None:
    """``rows`` accepted submissions with plausible spread figures, straight into the tables."""
    rng = random.Random(0)
    with app.state.sessions.begin() as session:
        owner = session.query(Submitter).first()
        for index in range(rows):
            flops = rng.lognormvariate(25, 2)
            session.add(Submission(
                sha256=f"{index:064x}", size=1000, submitter_id=owner.id, status="accepted",
                spec_name=rng.choice(["tiny", "small", "standard"]), rules_version=1,
                division=rng.choice(["closed", "closed", "open"]),
                hardware_verified=rng.random() > 0.1, system_name=f"system-{index % 50}",
                accelerator=rng.choice(["none", "NVIDIA H100 80GB HBM3", "NVIDIA A100-SXM4-80GB"]),
                nodes=rng.choice([1, 2, 4, 16]), accelerator_count=8, flops=flops,
                regulated_score=flops * rng.uniform(1, 3), flops_per_watt=flops / 300,
                flops_per_accelerator=flops / 8, utilisation=rng.uniform(0.01, 0.6),
                best_test_accuracy=rng.uniform(0.6, 0.95),
            ))  # fmt: skip


def latencies(url: str, count: int, stop: threading.Event | None = None) -> list[float]:
    """Seconds per ranking-page GET, ``count`` in a row (or until ``stop``)."""
    times = []
    with httpx.Client(base_url=url, timeout=30) as client:
        for i in range(count):
            if stop is not None and stop.is_set() and i >= 20:
                break
            start = time.perf_counter()
            response = client.get("/", params={"sort": ["regulated_score", "flops"][i % 2]})
            times.append(time.perf_counter() - start)
            assert response.status_code == 200
    return times


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else 0


def bundles(folder: Path, key: Path, count: int) -> list[bytes]:
    """``count`` distinct valid signed bundles of one run (one system name each)."""
    run = write_tiny_run(folder / "run")
    out = []
    for index in range(count):
        system = system_from_run(run, {"submitter": "lab", "system_name": f"load-{index}"})
        out.append(make_bundle(run, folder / f"v{index}.tar.gz", system, key).read_bytes())
    return out


def hostile(folder: Path, honest: bytes, count: int) -> list[bytes]:
    """``count`` forged or hostile bundles from the test corpus (cycled, each made distinct)."""
    path = folder / "honest.tar.gz"
    path.write_bytes(honest)
    members = read_members(path)[0]
    makers = [case.make for name, case in CASES.items() if case.verdict != "PASS"]
    made = []
    for index in range(count):
        case_folder = folder / f"h{index}"
        case_folder.mkdir()
        made.append(makers[index % len(makers)](members, case_folder).read_bytes() + b"\0" * index)
    return made


def post(url: str, bundle: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{url}/api/submissions", content=bundle, headers=headers, timeout=60)


def wait_verified(app, ids: list[int], timeout_s: float) -> dict[int, Submission]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with app.state.sessions() as session:
            rows = {i: session.get(Submission, i) for i in ids}
        if all(r.status in ("accepted", "rejected") for r in rows.values()):
            return rows
        time.sleep(0.2)
    raise TimeoutError("verification did not finish")


def measure(name: str, db_url: str, folder: Path, rows: int, table: Table) -> None:
    key = folder / "lab"
    generate_key_pair(key, folder / "lab.pub")
    token = add_submitter(db_url, "lab", folder / "lab.pub")
    app = create_app(Settings(db_url, folder / "store", writes_per_minute=10_000, write_burst=500))
    seed(app, rows)
    valid = bundles(folder, key, 20)
    forged = hostile(folder, valid[0], 50)
    headers = {"Authorization": f"Bearer {token}"}
    settle_heap()  # as `aiperf leaderboard serve` does
    with serving(app) as url:
        latencies(url, 5)  # warm-up: templates compiled, connections pooled
        quiet = latencies(url, REQUESTS)
        with ThreadPoolExecutor(20) as pool:
            replies = list(pool.map(lambda bundle: post(url, bundle, headers), valid))
        accepted = wait_verified(app, [r.json()["id"] for r in replies], 300)
        ok = sum(r.status == "accepted" for r in accepted.values())
        stop = threading.Event()
        busy: list[float] = []
        meter = threading.Thread(target=lambda: busy.extend(latencies(url, 10_000, stop)))
        meter.start()
        with ThreadPoolExecutor(50) as pool:
            replies = list(pool.map(lambda bundle: post(url, bundle, headers), forged))
        rejected = wait_verified(app, [r.json()["id"] for r in replies], 600)
        stop.set()
        meter.join()
    with_reason = sum(r.status == "rejected" and bool(r.reasons) for r in rejected.values())
    figures = [statistics.median(quiet), percentile(quiet, 99), percentile(busy, 99)]
    p50, p99, busy99 = (f"{1000 * value:.1f}" for value in figures)
    table.add_row(name, str(rows), p50, p99, f"{ok}/20", f"{with_reason}/50",
                  f"{busy99} ({len(busy)} requests)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()
    table = Table("database", "submissions", "ranking p50 ms", "ranking p99 ms",
                  "valid uploads accepted", "hostile rejected with a reason",
                  "ranking p99 ms while verifying")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "sqlite").mkdir()
        measure("SQLite", f"sqlite:///{folder / 'sqlite' / 'lb.db'}", folder / "sqlite",
                args.rows, table)  # fmt: skip
        server = start_postgres()
        try:
            (folder / "postgres").mkdir()
            measure("PostgreSQL", create_database(server, "load"), folder / "postgres",
                    args.rows, table)  # fmt: skip
        finally:
            stop_postgres(server)
    Console(width=160).print(table)


if __name__ == "__main__":
    main()
