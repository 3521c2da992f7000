"""Reading a bundle a stranger uploaded, with every cost capped before it is paid.

The file's size is checked (stat) before it is opened; its gzip stream is inflated by a reader
that counts every byte it hands on (tar headers, PAX headers, data and padding together) and
stops with a BundleError past ``BundleLimits.stream_bytes``; tarfile reads that in stream mode
(nothing seeks, nothing is extracted) with a TarInfo that refuses, before tarfile reads them, the
headers whose parsing costs more than their size: Python 3.11's PAX regexes take time quadratic
in a header's size, a chain of extended headers recurses once per header, GNU sparse maps become
a Python object per 24 bytes. Only regular files with plain, new names come out; any other member
is a one-sentence failure naming it (escaped); anything over a cap is a BundleError. The stream is
read to its end, so zlib checks the gzip CRC-32 and length.

Members are read into memory in chunks, not through a temporary directory: the caller gets every
member's bytes anyway, so the caps bound memory the same way either would, and nothing is ever
written to disk under any name or left behind by a crash.
"""

from __future__ import annotations

import io
import re
import stat
import tarfile
import zlib
from collections.abc import Container
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from aiperf.errors import UserError, printable
from aiperf.submit.bundle import MANIFEST

KiB = 1024
MiB = 1024 * KiB
CHUNK_BYTES = 64 * KiB  # one read of compressed or inflated bytes: little memory, few calls
GZIP_WBITS = 16 + zlib.MAX_WBITS  # zlib parses the gzip header and checks CRC-32 and length
SHOWN_CHARS = 200  # a refused member's name is cut to this in messages
NAME = re.compile(r"[A-Za-z0-9._/-]+")
EXTENDED_HEADERS = (  # tarfile reads these into memory and parses them before the next header
    tarfile.XHDTYPE,
    tarfile.SOLARIS_XHDTYPE,
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
)
PLAIN_FILE_TYPES = (tarfile.REGTYPE, tarfile.AREGTYPE)
NOT_PLAIN = {  # tar type → what the member is, for its failure
    tarfile.SYMTYPE: "a symbolic link",
    tarfile.LNKTYPE: "a hard link",
    tarfile.CHRTYPE: "a character device",
    tarfile.BLKTYPE: "a block device",
    tarfile.FIFOTYPE: "a FIFO",
    tarfile.DIRTYPE: "a directory",
    tarfile.CONTTYPE: "a contiguous file",
}


class BundleError(UserError):
    """Input that is not a submission bundle (not a tar.gz, no manifest.json) or is over a cap."""


@dataclass(frozen=True)
class BundleLimits:
    """The most a bundle may hold or cost to read; past any of these it is a BundleError."""

    compressed_bytes: int = 16 * MiB  # the uploaded file (a bundle of a dozen files is ~100 KiB)
    # All members' data together, and one member's (the ledger is the largest: ~0.9 KB a report,
    # so ~22,000 reports). Sized so that checking the worst bundle within them takes under 2 s
    # and 300 MB (benchmarks/check_worst_case.py).
    uncompressed_bytes: int = 40 * MiB
    member_bytes: int = 20 * MiB
    members: int = 64  # entries of any kind: a run directory holds about a dozen files
    header_bytes: int = 4 * KiB  # one PAX or GNU long-name header: parsed in quadratic time
    overhead_bytes: int = 1 * MiB  # tar headers and padding: ≤ 6 KiB a member, 10 KiB at the end

    @property
    def stream_bytes(self) -> int:
        """The most the gzip stream may inflate to: the members' data, headers and padding."""
        return self.uncompressed_bytes + self.overhead_bytes


DEFAULT_LIMITS = BundleLimits()


def over_limits(sizes: dict[str, int], limits: BundleLimits = DEFAULT_LIMITS) -> str | None:
    """Why members of these sizes would be refused on reading (None: they fit the limits), so
    ``aiperf submit`` refuses to write a bundle that ``aiperf check`` could not read."""
    if len(sizes) + 2 > limits.members:  # and the manifest and its signature
        return f"{len(sizes)} files, over the {limits.members - 2} a bundle may hold"
    for name in sizes:
        problem = name_problem(name)
        if problem is not None:
            return f"{shown(name)} {problem}"
    name, largest = max(sizes.items(), key=lambda item: item[1])
    if largest > limits.member_bytes:
        return f"{name} is {_size(largest)}, over the {_size(limits.member_bytes)} a member may be"
    total = sum(sizes.values())
    if total > limits.uncompressed_bytes:
        return (
            f"{_size(total)} in all, over the {_size(limits.uncompressed_bytes)} a bundle may hold"
        )
    return None


def read_members(
    path: Path, limits: BundleLimits = DEFAULT_LIMITS
) -> tuple[dict[str, bytes], list[str]]:
    """Every regular member's bytes (in archive order) and a failure for each odd member;
    BundleError when the file is unreadable, corrupt, over a cap or has no manifest.json."""
    where = f"bundle {printable(str(path))}"
    _check_file(path, limits, where)
    try:
        with path.open("rb") as file:
            members, failures = _read_tar(_Gunzip(file, limits, where), limits, where)
    except OSError as err:
        raise BundleError(f"{where}: cannot read ({err.strerror or err})") from None
    if MANIFEST not in members:
        raise BundleError(f"{where}: no {MANIFEST} — not an aiperf submission bundle")
    return members, failures


def member_problem(info: tarfile.TarInfo, seen: Container[str]) -> str | None:
    """Why ``info`` cannot be a bundle member (None for a plain file with a safe, new name)."""
    if info.issparse():
        return "is a sparse file"
    if info.type not in PLAIN_FILE_TYPES:
        kind = info.type.decode("latin-1")
        return f"is {NOT_PLAIN.get(info.type, f'not a regular file (tar type {kind!r})')}"
    problem = name_problem(info.name)
    if problem is None and info.name in seen:
        return "appears twice"
    return problem


def name_problem(name: str) -> str | None:
    """Why ``name`` is not a safe member name (None when it is): [A-Za-z0-9._/-] only, relative,
    no empty, ``.`` or ``..`` component."""
    if not NAME.fullmatch(name):
        return "has a name with characters outside [A-Za-z0-9._/-]"
    if name.startswith("/"):
        return "has an absolute path"
    if any(part in ("", ".", "..") for part in name.split("/")):
        return "has an empty, '.' or '..' component in its path"
    return None


def shown(name: str) -> str:
    """``name`` as a message shows it: control characters and all non-ASCII escaped, cut short."""
    text = printable(name.encode("ascii", "backslashreplace").decode("ascii"))
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "..."


def _check_file(path: Path, limits: BundleLimits, where: str) -> None:
    """A regular file no larger than the compressed cap (stat, before it is opened)."""
    try:
        status = path.stat()
    except OSError as err:
        raise BundleError(f"{where}: cannot read ({err.strerror or err})") from None
    if not stat.S_ISREG(status.st_mode):
        raise BundleError(f"{where}: not a regular file")
    if status.st_size > limits.compressed_bytes:
        raise BundleError(
            f"{where}: {status.st_size} bytes, over the {_size(limits.compressed_bytes)} limit"
            " for a bundle file"
        )


def _read_tar(
    stream: _Gunzip, limits: BundleLimits, where: str
) -> tuple[dict[str, bytes], list[str]]:
    """The members of the tar stream inflated by ``stream``, then the stream read to its end."""
    members: dict[str, bytes] = {}
    failures: list[str] = []
    try:
        with _BundleTar.open(
            fileobj=stream, mode="r|", bufsize=CHUNK_BYTES, limits=limits, where=where
        ) as tar:
            for count, info in enumerate(tar, start=1):
                if count > limits.members:
                    raise BundleError(f"{where}: more than {limits.members} members")
                problem = member_problem(info, members)
                if problem is not None:
                    failures.append(f"bundle member {shown(info.name)} {problem}")
                    continue
                _check_size(info, sum(map(len, members.values())), limits, where)
                members[info.name] = _read_data(tar, info)
        stream.drain()
    except BundleError:
        raise
    except (tarfile.TarError, EOFError, zlib.error, ValueError, IndexError) as err:
        # tarfile's own errors on malformed headers (IndexError: a short sparse extension block)
        raise BundleError(f"{where}: not a readable tar.gz ({shown(str(err))})") from None
    return members, failures


def _check_size(info: tarfile.TarInfo, held: int, limits: BundleLimits, where: str) -> None:
    """The member's claimed size fits one member's cap and, with the ``held`` bytes, the total."""
    name = shown(info.name)
    if info.size < 0:
        raise BundleError(f"{where}: member {name} claims a negative size ({info.size})")
    if info.size > limits.member_bytes:
        raise BundleError(
            f"{where}: member {name} holds {info.size} bytes, over the"
            f" {_size(limits.member_bytes)} limit for one member"
        )
    if held + info.size > limits.uncompressed_bytes:
        raise BundleError(
            f"{where}: its members hold over {_size(limits.uncompressed_bytes)} together"
            f" (the limit), with {name}"
        )


def _read_data(tar: tarfile.TarFile, info: tarfile.TarInfo) -> bytes:
    """A plain member's data, in chunks (its claimed size was checked against the caps)."""
    source = tar.extractfile(info)
    assert source is not None  # a plain file always has data
    data = io.BytesIO()
    while chunk := source.read(CHUNK_BYTES):
        data.write(chunk)
    return data.getvalue()


def _size(count: int) -> str:
    if count < KiB:
        return f"{count} bytes"
    unit, name = (MiB, "MiB") if count >= MiB else (KiB, "KiB")
    return f"{count / unit:.4g} {name}"


class _Gunzip:
    """The inflated bytes of a one-member gzip file, handed out as tarfile asks; BundleError once
    more than the caps allow is read or inflated, the gzip data is corrupt or cut short, or
    anything follows the gzip stream."""

    def __init__(self, file: BinaryIO, limits: BundleLimits, where: str) -> None:
        self._file = file
        self._limits = limits
        self._where = where
        self._inflate = zlib.decompressobj(GZIP_WBITS)
        self._pending = b""  # compressed bytes read but not yet inflated
        self._at_end = False  # the file has no more bytes
        self._read_bytes = 0  # compressed bytes read from the file
        self.inflated_bytes = 0  # bytes handed on: tar headers, data, padding

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` inflated bytes; b"" once the gzip stream ended (and was checked)."""
        size = size if 0 < size <= CHUNK_BYTES else CHUNK_BYTES
        while not self._inflate.eof:
            if not self._pending:
                self._pending = self._read_file()
            try:
                data = self._inflate.decompress(self._pending, size)
            except zlib.error as err:  # a bad header, bad deflate data, a CRC or length mismatch
                raise BundleError(f"{self._where}: not a readable tar.gz ({err})") from None
            self._pending = self._inflate.unconsumed_tail
            if data:
                return self._counted(data)
            if self._at_end and not self._pending:
                raise BundleError(f"{self._where}: truncated (the gzip stream is cut short)")
        self._check_nothing_follows()
        return b""

    def drain(self) -> None:
        """Read to the end of the gzip stream, so zlib checks its CRC-32 and length."""
        while self.read(CHUNK_BYTES):
            pass

    def _read_file(self) -> bytes:
        chunk = self._file.read(CHUNK_BYTES)
        self._read_bytes += len(chunk)
        self._at_end = not chunk
        if self._read_bytes > self._limits.compressed_bytes:  # it grew after the stat
            cap = _size(self._limits.compressed_bytes)
            raise BundleError(f"{self._where}: over the {cap} limit for a bundle file")
        return chunk

    def _counted(self, data: bytes) -> bytes:
        self.inflated_bytes += len(data)
        if self.inflated_bytes > self._limits.stream_bytes:
            cap = _size(self._limits.stream_bytes)
            raise BundleError(f"{self._where}: inflates to over {cap}, the limit for a bundle")
        return data

    def _check_nothing_follows(self) -> None:
        if self._inflate.unused_data or self._pending or self._file.read(1):
            where = self._where
            raise BundleError(f"{where}: data after the end of its gzip stream (bundles have one)")


class _GuardedInfo(tarfile.TarInfo):
    """A TarInfo that refuses, before tarfile reads any more, the headers whose parsing would cost
    more than their size: large or chained extended headers, global PAX headers, GNU sparse maps."""

    def _proc_member(self, tar: _BundleTar) -> tarfile.TarInfo:  # tarfile's hook for subclasses
        where = tar.where
        if self.type == tarfile.XGLTYPE:  # applies to every later member; bundles never hold one
            raise BundleError(f"{where}: has a global PAX header")
        if self.type == tarfile.GNUTYPE_SPARSE:  # its extension blocks hold unbounded maps
            raise BundleError(f"{where}: member {shown(self.name)} is a sparse file")
        if self.type in EXTENDED_HEADERS:
            if self.size > tar.limits.header_bytes:
                raise BundleError(
                    f"{where}: an extended tar header of {self.size} bytes at byte {self.offset},"
                    f" over the {_size(tar.limits.header_bytes)} limit"
                )
            if self.offset != tar.offset:  # read while processing the header before it
                raise BundleError(
                    f"{where}: an extended tar header follows another one at byte {self.offset}"
                )
        return super()._proc_member(tar)

    def _proc_gnusparse_10(self, member: Any, pax_headers: Any, tar: _BundleTar) -> None:
        """GNU sparse 1.0 keeps its map in the data, read by tarfile in quadratic time: refused."""
        raise BundleError(f"{tar.where}: member {shown(member.name)} is a sparse file")


class _BundleTar(tarfile.TarFile):
    """A TarFile that carries the caps and the bundle's name to its TarInfo guard."""

    tarinfo = _GuardedInfo

    def __init__(self, *args: Any, limits: BundleLimits, where: str, **kwargs: Any) -> None:
        self.limits = limits
        self.where = where
        super().__init__(*args, **kwargs)
