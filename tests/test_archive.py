"""``aiperf.submit.archive``: a real bundle reads back byte for byte; hostile archives — sparse
members, gzip bombs, huge or chained PAX headers, links, devices, odd names, too many members,
oversize, truncated or corrupt files — are refused with their own reason, quickly and in little
memory."""

from __future__ import annotations

import gzip
import io
import os
import random
import struct
import tarfile
import time
import tracemalloc
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest
from test_report import make_run_dir

from aiperf.errors import UserError
from aiperf.report.outputs import write_derived
from aiperf.submit.archive import DEFAULT_LIMITS, BundleError, BundleLimits, read_members, shown
from aiperf.submit.bundle import MANIFEST, make_bundle, write_members
from aiperf.submit.system import system_from_run

MiB = 1024 * 1024
GiB = 1024 * MiB
PEAK_BYTES = 100 * 1024 * 1024  # what reading any hostile archive below may allocate at most
LIMITS = BundleLimits()


def entry(name: str, data: bytes = b"", **fields) -> tuple[tarfile.TarInfo, bytes]:
    """A tar member: ``fields`` set on its TarInfo (type, linkname, pax_headers…)."""
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for key, value in fields.items():
        setattr(info, key, value)
    return info, data


def tar_stream(*entries: tuple[tarfile.TarInfo, bytes], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    """A tar stream of ``entries`` behind a manifest member, with its end-of-archive blocks."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as tar:
        for info, data in (entry(MANIFEST, b"{}"), *entries):
            tar.addfile(info, io.BytesIO(data) if data else None)
    return buffer.getvalue()


def raw_block(name: str, kind: bytes, size: int, patch: dict[int, bytes] | None = None) -> bytes:
    """One 512-byte header with ``patch`` (offset → bytes) written over it, checksum redone."""
    info = tarfile.TarInfo(name)
    info.type, info.size = kind, 0
    block = bytearray(info.tobuf(tarfile.GNU_FORMAT))
    block[124:136] = b"%011o\0" % size
    for offset, data in (patch or {}).items():
        block[offset : offset + len(data)] = data
    block[148:156] = b"%06o\0 " % tarfile.calc_chksums(bytes(block))[0]
    return bytes(block)


def padded(data: bytes) -> bytes:
    return data + bytes(-len(data) % 512)


def manifest_blocks() -> bytes:
    return raw_block(MANIFEST, tarfile.REGTYPE, 2) + padded(b"{}")


def write(folder: Path, data: bytes, name: str = "b.tar.gz") -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def gz(raw: bytes) -> bytes:
    return gzip.compress(raw, mtime=0)


def measured(action: Callable[[], object]) -> tuple[object, int, float]:
    """``action``'s result (or the exception it raised), its peak traced memory and seconds."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        result = action()
    except Exception as err:  # the caller asserts which
        result = err
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return result, peak, seconds


def refusal(path: Path, limits: BundleLimits = LIMITS) -> str:
    """The one-line BundleError read_members raises for ``path`` — cheaply: its memory and
    time are checked here, its message by the test."""
    err, peak, seconds = measured(lambda: read_members(path, limits))
    assert isinstance(err, BundleError), err
    assert "\n" not in str(err), str(err)
    assert peak < PEAK_BYTES and seconds < 5, (peak, seconds)
    return str(err)


def failures_of(path: Path) -> tuple[dict[str, bytes], list[str]]:
    (members, failures), peak, _ = measured(lambda: read_members(path))
    assert peak < PEAK_BYTES
    assert all("\n" not in failure for failure in failures)
    return members, failures


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("bundle")
    run_dir = make_run_dir(folder / "run")
    write_derived(run_dir)
    return make_bundle(run_dir, folder / "b.tar.gz", system_from_run(run_dir, {"submitter": "L"}))


def plain_read(path: Path) -> dict[str, bytes]:
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(path.read_bytes()))) as tar:
        return {info.name: tar.extractfile(info).read() for info in tar}


def test_a_real_bundle_reads_back_byte_for_byte(bundle) -> None:
    members, failures = read_members(bundle)
    assert failures == []
    expected = plain_read(bundle)
    assert list(members) == list(expected) and members == expected
    assert next(iter(members)) == MANIFEST and "run/ledger.jsonl" in members


def test_large_members_read_across_chunks(tmp_path) -> None:
    noise = random.Random(0).randbytes(3 * MiB + 7)  # incompressible, not a multiple of a chunk
    out = tmp_path / "big.tar.gz"
    write_members(out, {MANIFEST: b"{}", "run/noise.bin": noise, "run/empty": b""})
    members, failures = read_members(out)
    assert failures == [] and members == {MANIFEST: b"{}", "run/noise.bin": noise, "run/empty": b""}


def test_gnu_sparse_member_claiming_a_gib(tmp_path) -> None:
    sparse_map = {386: b"%011o\0%011o\0" % (GiB - 512, 512), 483: b"%011o\0" % GiB}
    raw = manifest_blocks() + raw_block("run/sparse", tarfile.GNUTYPE_SPARSE, 512, sparse_map)
    path = write(tmp_path, gz(raw + bytes(512) + bytes(1024)))
    assert path.stat().st_size < 11_000
    assert "member run/sparse is a sparse file" in refusal(path)


def test_pax_sparse_members(tmp_path) -> None:
    v01 = {"GNU.sparse.map": "0,512", "GNU.sparse.realsize": str(GiB)}
    members, failures = failures_of(
        write(tmp_path, gz(tar_stream(entry("run/s01", bytes(512), pax_headers=v01))))
    )
    assert failures == ["bundle member run/s01 is a sparse file"] and "run/s01" not in members
    v10 = {"GNU.sparse.major": "1", "GNU.sparse.minor": "0", "GNU.sparse.realsize": str(GiB)}
    data = b"1\n" + b"9" * 4096  # a map whose line never ends: tarfile would read it quadratically
    path = write(tmp_path, gz(tar_stream(entry("run/s10", data, pax_headers=v10))), "v10.tar.gz")
    assert "member run/s10 is a sparse file" in refusal(path)


def gzip_bomb(tar_head: bytes, zeros: int) -> bytes:
    """A valid gzip of ``tar_head`` then ``zeros`` zero bytes (≈1 KiB per MiB), made by repeating
    one fully flushed deflate block, so it costs the test neither the time nor the memory."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, 31)
    head = deflate.compress(tar_head) + deflate.flush(zlib.Z_FULL_FLUSH)
    block = deflate.compress(bytes(MiB)) + deflate.flush(zlib.Z_FULL_FLUSH)
    end = deflate.flush()[:-8]  # the final empty block; the trailer is written below
    crc = zlib.crc32(tar_head)
    for _ in range(zeros // MiB):
        crc = zlib.crc32(bytes(MiB), crc)
    trailer = struct.pack("<II", crc, (len(tar_head) + zeros) & 0xFFFFFFFF)
    return head + block * (zeros // MiB) + end + trailer


def test_gzip_bomb_stops_at_the_cap(tmp_path) -> None:
    bomb = gzip_bomb(manifest_blocks(), GiB)
    assert len(bomb) < 1_100_000
    assert zlib.decompressobj(31).decompress(bomb, 1) == b"m"  # a real gzip stream
    cap = DEFAULT_LIMITS.stream_bytes // MiB
    assert f"inflates to over {cap} MiB" in refusal(write(tmp_path, bomb))


def test_bombs_inside_members(tmp_path) -> None:
    one_gib = manifest_blocks() + raw_block("run/zeros", tarfile.REGTYPE, GiB)
    assert "run/zeros holds 1073741824 bytes, over" in refusal(
        write(tmp_path, gzip_bomb(one_gib, GiB))
    )
    under = bytes(DEFAULT_LIMITS.member_bytes)  # each at the one-member cap, together over
    members = [entry(f"run/{name}", under) for name in "abc"]
    path = write(tmp_path, gz(tar_stream(*members)), "2.tar.gz")
    total = DEFAULT_LIMITS.uncompressed_bytes // MiB
    assert f"its members hold over {total} MiB together (the limit), with run/b" in refusal(path)


def test_pax_header_claiming_a_huge_size(tmp_path) -> None:
    raw = manifest_blocks() + raw_block("././@PaxHeader", tarfile.XHDTYPE, GiB) + bytes(4096)
    assert "an extended tar header of 1073741824 bytes at byte 1024" in refusal(
        write(tmp_path, gz(raw))
    )
    huge = entry("run/huge", b"x", pax_headers={"size": str(2**40)})
    assert "run/huge holds 1099511627776 bytes" in refusal(
        write(tmp_path, gz(tar_stream(huge)), "s.tar.gz")
    )
    negative = entry("run/neg", b"x", pax_headers={"size": "-5"})
    path = write(tmp_path, gz(tar_stream(negative)), "n.tar.gz")
    assert "member run/neg claims a negative size (-5)" in refusal(path)


def test_pax_headers_that_would_cost_quadratic_time(tmp_path) -> None:
    digits = b"1" * 60_000  # Python 3.11 searches this with a regex in quadratic time
    head = raw_block("././@PaxHeader", tarfile.XHDTYPE, len(digits)) + padded(digits)
    path = write(tmp_path, gz(manifest_blocks() + head + manifest_blocks()))
    assert "extended tar header of 60000 bytes at byte 1024, over the 4 KiB limit" in refusal(path)
    small = raw_block("././@PaxHeader", tarfile.XHDTYPE, 4096) + b"1" * 4096
    chained = manifest_blocks() + small * 2000 + bytes(1024)  # each header read inside the last
    assert "extended tar header follows another one" in refusal(
        write(tmp_path, gz(chained), "c.tar.gz")
    )
    glob = raw_block("pax_global_header", tarfile.XGLTYPE, 0)
    assert "a global PAX header" in refusal(
        write(tmp_path, gz(glob + manifest_blocks()), "g.tar.gz")
    )


def test_the_worst_allowed_headers_stay_cheap(tmp_path) -> None:
    digits = raw_block("././@PaxHeader", tarfile.XHDTYPE, 4096) + b"1" * 4096
    raw = manifest_blocks() + (digits + raw_block("run/x", tarfile.REGTYPE, 0)) * 63 + bytes(1024)
    (_, failures), _, seconds = measured(lambda: read_members(write(tmp_path, gz(raw))))
    assert failures == ["bundle member run/x appears twice"] * 62 and seconds < 5


NOT_PLAIN_CASES = {  # member: the reason its failure gives
    entry("run/link", type=tarfile.SYMTYPE, linkname="/etc/passwd"): "is a symbolic link",
    entry("run/hard", type=tarfile.LNKTYPE, linkname=MANIFEST): "is a hard link",
    entry("run/null", type=tarfile.CHRTYPE, devmajor=1, devminor=3): "is a character device",
    entry("run/disk", type=tarfile.BLKTYPE, devmajor=8): "is a block device",
    entry("run/fifo", type=tarfile.FIFOTYPE): "is a FIFO",
    entry("run/dir", type=tarfile.DIRTYPE): "is a directory",
    entry("run/cont", b"c", type=tarfile.CONTTYPE): "is a contiguous file",
    entry("run/odd", b"z", type=b"Z"): "is not a regular file (tar type 'Z')",
}


@pytest.mark.parametrize("case", NOT_PLAIN_CASES, ids=lambda c: c[0].name)
def test_members_that_are_not_plain_files_fail_by_name(case, tmp_path) -> None:
    info = case[0]
    members, failures = failures_of(write(tmp_path, gz(tar_stream(case, entry("run/ok", b"ok")))))
    assert failures == [f"bundle member {info.name} {NOT_PLAIN_CASES[case]}"]
    assert members == {MANIFEST: b"{}", "run/ok": b"ok"}


NAME_CASES = {  # member name: the failure it gives
    "run/x\nPASS bundle ok": r"bundle member run/x\nPASS bundle ok has a name with characters",
    "run/\x1b[2J\u202eevil": r"bundle member run/\x1b[2J\u202eevil has a name with characters",
    "run/caf\u00e9.txt": r"bundle member run/caf\xe9.txt has a name with characters",
    "run/../../etc/cron.d/x": "bundle member run/../../etc/cron.d/x has an empty, '.' or '..'",
    "/etc/passwd": "bundle member /etc/passwd has an absolute path",
    "run//x": "bundle member run//x has an empty, '.' or '..' component",
    "run/./x": "bundle member run/./x has an empty, '.' or '..' component",
    MANIFEST: "bundle member manifest.json appears twice",
}


@pytest.mark.parametrize("name", NAME_CASES)
def test_unsafe_names_fail_escaped(name, tmp_path) -> None:
    members, failures = failures_of(write(tmp_path, gz(tar_stream(entry(name, b"x")))))
    assert len(failures) == 1 and failures[0].startswith(NAME_CASES[name]), failures
    assert failures[0].isascii() and failures[0].isprintable()
    assert members == {MANIFEST: b"{}"}


def test_undecodable_name_is_escaped(tmp_path) -> None:
    raw = manifest_blocks() + raw_block("run/x", tarfile.REGTYPE, 0, {4: b"\xff\x1b"})
    _, failures = failures_of(write(tmp_path, gz(raw + bytes(1024))))
    assert failures == [
        r"bundle member run/\udcff\x1b has a name with characters outside [A-Za-z0-9._/-]"
    ]
    assert shown("a" * 300).endswith("a...") and len(shown("a" * 300)) == 203


def test_too_many_members(tmp_path) -> None:
    many = [entry(f"run/{i}", b"x") for i in range(64)]  # with the manifest: 65
    assert "more than 64 members" in refusal(write(tmp_path, gz(tar_stream(*many))))
    assert len(read_members(write(tmp_path, gz(tar_stream(*many[:63])), "ok.tar.gz"))[0]) == 64


def test_oversize_file_refused_before_it_is_opened(tmp_path) -> None:
    path = tmp_path / "big.tar.gz"
    with path.open("wb") as file:
        file.truncate(16 * MiB + 1)  # a hole: costs no disk
    assert "16777217 bytes, over the 16 MiB limit for a bundle file" in refusal(path)


def test_limits_are_tunable(bundle) -> None:
    small = BundleLimits(member_bytes=100)
    assert "over the 100 bytes limit for one member" in refusal(bundle, small)
    assert "more than 3 members" in refusal(bundle, BundleLimits(members=3))
    assert "bytes, over the 1 KiB limit for a bundle file" in refusal(
        bundle, BundleLimits(compressed_bytes=1024)
    )
    assert "inflates to over" in refusal(
        bundle, BundleLimits(uncompressed_bytes=1000, overhead_bytes=0)
    )


def test_corrupt_and_truncated_gzip(bundle, tmp_path) -> None:
    data = bundle.read_bytes()
    assert "truncated (the gzip stream is cut" in refusal(
        write(tmp_path, data[: len(data) // 2], "half")
    )
    assert "truncated (the gzip stream is cut short)" in refusal(
        write(tmp_path, data[:-4], "no_size")
    )
    bad_crc = data[:-8] + bytes([data[-8] ^ 1]) + data[-7:]
    assert (
        "not a readable tar.gz (Error -3 while decompressing data: incorrect data check)"
        in refusal(write(tmp_path, bad_crc, "crc"))
    )
    bad_size = data[:-1] + bytes([data[-1] ^ 1])
    assert "incorrect length check" in refusal(write(tmp_path, bad_size, "isize"))
    assert "data after the end of its gzip stream" in refusal(
        write(tmp_path, data + gz(b"more"), "two")
    )
    assert "not a readable tar.gz (Error -3" in refusal(write(tmp_path, b"not a bundle", "text"))
    assert "not a readable tar.gz" in refusal(write(tmp_path, gzip.decompress(data), "plain.tar"))
    assert "not a readable tar.gz (empty file)" in refusal(write(tmp_path, gz(b""), "empty"))


def test_tar_damage_inside_a_good_gzip(bundle, tmp_path) -> None:
    raw = gzip.decompress(bundle.read_bytes())
    cut = raw[: 512 + 100]  # the manifest's data is cut short
    assert "not a readable tar.gz (unexpected end of data)" in refusal(write(tmp_path, gz(cut)))
    no_manifest = raw_block("run/x", tarfile.REGTYPE, 0) + bytes(1024)
    assert "no manifest.json" in refusal(write(tmp_path, gz(no_manifest), "n.tar.gz"))


def test_not_a_file(tmp_path) -> None:
    assert "not a regular file" in refusal(tmp_path)
    os.mkfifo(tmp_path / "fifo")
    assert "not a regular file" in refusal(tmp_path / "fifo")  # never opened, so never blocks
    assert "cannot read (No such file or directory)" in refusal(tmp_path / "missing.tar.gz")
    assert issubclass(BundleError, UserError)  # one line and exit 2 in the CLI
