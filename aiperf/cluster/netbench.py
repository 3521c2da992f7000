"""Interconnect micro-benchmark under MPI (``mpirun``/``srun``): point-to-point latency and
bandwidth between the first and the last rank (on different nodes when ranks are spread one
per node), and an allreduce bus-bandwidth curve over message sizes.

mpi4py is imported only here; without it the error names the extra and the system package.
"""

from __future__ import annotations

import socket
import time
from typing import Any

from aiperf.errors import UserError

MISSING_MPI = (
    "netbench needs mpi4py and an MPI library: pip install 'aiperf-automl[mpi]' "
    "(and e.g. apt-get install openmpi-bin libopenmpi-dev)"
)
SIZES_BYTES = [2**k for k in range(10, 25, 2)]  # 1 KiB … 16 MiB


def import_mpi() -> Any:
    try:
        from mpi4py import MPI
    except ImportError:
        raise UserError(MISSING_MPI) from None
    return MPI


def _timed(comm: Any, repeats: int, body: Any) -> float:
    """Seconds per repetition of ``body``, all ranks started together, slowest rank counted."""
    comm.Barrier()
    start = time.perf_counter()
    for _ in range(repeats):
        body()
    elapsed = (time.perf_counter() - start) / repeats
    return comm.allreduce(elapsed, op=import_mpi().MAX)


def _repeats(size_bytes: int) -> int:
    return max(5, min(200, (64 << 20) // max(size_bytes, 1)))


def ping_pong(comm: Any, size_bytes: int, peer: int) -> float:
    """Round-trip seconds of one message of ``size_bytes`` between rank 0 and ``peer``."""
    import numpy as np

    buffer = np.zeros(size_bytes, dtype=np.uint8)
    rank = comm.Get_rank()

    def exchange() -> None:
        if rank == 0:
            comm.Send(buffer, dest=peer)
            comm.Recv(buffer, source=peer)
        elif rank == peer:
            comm.Recv(buffer, source=0)
            comm.Send(buffer, dest=0)

    return _timed(comm, _repeats(size_bytes), exchange)


def allreduce_seconds(comm: Any, size_bytes: int) -> float:
    import numpy as np

    send = np.ones(size_bytes // 4, dtype=np.float32)
    receive = np.empty_like(send)
    return _timed(comm, _repeats(size_bytes), lambda: comm.Allreduce(send, receive))


def run_netbench(sizes_bytes: list[int] = SIZES_BYTES) -> dict[str, Any] | None:
    """Run every measurement; rank 0 returns the figures (other ranks return None)."""
    comm = import_mpi().COMM_WORLD
    ranks, peer = comm.Get_size(), comm.Get_size() - 1
    hosts = comm.gather(socket.gethostname(), root=0)
    latency_s = ping_pong(comm, 8, peer) / 2 if ranks > 1 else None
    p2p = [
        {"bytes": s, "gb_per_s": 2 * s / ping_pong(comm, s, peer) / 1e9} for s in sizes_bytes
    ] if ranks > 1 else []  # fmt: skip
    allreduce = []
    for size in sizes_bytes:
        seconds = allreduce_seconds(comm, size)
        bus = 2 * (ranks - 1) / ranks * size / seconds / 1e9 if ranks > 1 else None
        allreduce.append({"bytes": size, "seconds": seconds, "bus_gb_per_s": bus})
    if comm.Get_rank() != 0:
        return None
    return {
        "ranks": ranks,
        "hosts": hosts,
        "p2p_peer": peer,
        "p2p_latency_us": None if latency_s is None else 1e6 * latency_s,
        "p2p_bandwidth": p2p,
        "allreduce": allreduce,
    }
