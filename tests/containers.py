"""Podman for tests, on a store of its own: a Debian base made with debootstrap (no image registry
is reachable), images built from a clean copy of the repository's files, all deleted afterwards.

Every podman call gets ``--root``/``--runroot``/``--tmpdir`` under one temp dir, so the machine's
own images and state are never touched, and this directory's ``containers.conf``, which fits
podman to this VM (see the file) without editing /etc.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TOOLS = ("podman", "buildah", "debootstrap", "runc")
CONTAINERS_CONF = Path(__file__).with_name("containers.conf")
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")  # also trusts this machine's HTTPS proxy
_OUTPUT_TAIL = 4000

_COPY = re.compile(r"^COPY\s+(.+?)\s+\S+\s*$", re.MULTILINE)
_BIND_SOURCE = re.compile(r"--mount=type=bind,source=([^,\s]+)")
_ARG = re.compile(r"^ARG\s+(\w+)=(\S+)\s*$", re.MULTILINE)


class CommandFailed(RuntimeError):
    """A command exited non-zero: its command line, status and the tail of its output."""


def missing_tools() -> list[str]:
    """The container tools this machine lacks (``.ci/run`` installs them)."""
    return [tool for tool in TOOLS if shutil.which(tool) is None]


def run_command(argv: list[str], timeout: float, env: dict[str, str] | None = None) -> str:
    """Run ``argv`` to the end; its stdout and stderr together, or CommandFailed with their tail."""
    done = subprocess.run(
        argv, env=env, timeout=timeout, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    if done.returncode != 0:
        raise CommandFailed(
            f"{' '.join(argv)}\nexited {done.returncode}; output ends:\n"
            f"{done.stdout[-_OUTPUT_TAIL:]}"
        )
    return done.stdout


@dataclass(frozen=True)
class Podman:
    """podman with its images, containers and state under ``home``."""

    home: Path

    @classmethod
    def fresh(cls) -> Podman:
        """An empty store in a new temp dir with a short path: podman refuses a run root (its
        sockets' directory) longer than 50 characters, which pytest's temp dirs exceed."""
        return cls(Path(tempfile.mkdtemp(prefix="aiperf-podman-")))

    def __call__(self, *args: str, timeout: float) -> str:
        """One podman command; its output (CommandFailed when it fails)."""
        env = {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF), "TMPDIR": str(self._tmp)}
        self._tmp.mkdir(parents=True, exist_ok=True)
        store = ["--root", str(self.home / "storage"), "--runroot", str(self.home / "run")]
        return run_command(
            ["podman", *store, "--tmpdir", str(self.home / "libpod"), *args], timeout, env
        )

    @property
    def _tmp(self) -> Path:
        return self.home / "tmp"  # buildah's scratch space (/var/tmp by default)

    def image_size(self, tag: str) -> int:
        return int(self("image", "inspect", "--format", "{{.Size}}", tag, timeout=30))

    def remove_everything(self) -> None:
        """Delete every container and image of this store, then the store itself."""
        if (self.home / "storage").is_dir():
            self("rm", "--all", "--force", timeout=120)
            self("rmi", "--all", "--force", timeout=120)
        shutil.rmtree(self.home)


def debian_mirror(apt_dir: Path = Path("/etc/apt"), suite: str = "bookworm") -> str:
    """The Debian archive this machine's apt uses for ``suite``, from its deb822 ``*.sources``
    files or its one-line ``sources.list`` entries (debootstrap needs a mirror it can reach)."""
    for path in sorted(apt_dir.glob("sources.list.d/*.sources")):
        for stanza in re.split(r"\n\s*\n", path.read_text()):
            fields = dict(
                line.split(":", 1)
                for line in stanza.splitlines()
                if ":" in line and not line.startswith("#")
            )
            if suite in fields.get("Suites", "").split() and "URIs" in fields:
                return fields["URIs"].split()[0]
    for path in [apt_dir / "sources.list", *sorted(apt_dir.glob("sources.list.d/*.list"))]:
        lines = path.read_text().splitlines() if path.is_file() else []
        for line in lines:
            words = re.sub(r"\[[^]]*\]", "", line).split()  # drop "[signed-by=...]" options
            if len(words) >= 3 and words[0] == "deb" and words[2] == suite:
                return words[1]
    raise LookupError(f"no apt source for Debian {suite} under {apt_dir}")


def make_debian_base(podman: Podman, tag: str, workdir: Path, mirror: str) -> None:
    """A minimal Debian bookworm image, ``tag``, from debootstrap: the base the Dockerfiles
    would otherwise pull from a registry."""
    rootfs, tarball = workdir / "rootfs", workdir / "rootfs.tar"
    run_command(["debootstrap", "--variant=minbase", "bookworm", str(rootfs), mirror], 600)
    for cache in ("var/cache/apt/archives", "var/lib/apt/lists"):
        shutil.rmtree(rootfs / cache)
    run_command(["tar", "-C", str(rootfs), "-cf", str(tarball), "."], 300)
    shutil.rmtree(rootfs)
    podman("import", str(tarball), tag, timeout=300)
    tarball.unlink()


def build_context(dockerfile: Path, dest: Path) -> Path:
    """A build context in ``dest`` with only what ``dockerfile`` reads: its COPY sources (from
    the working tree), itself, and empty directories for its bind-mount sources."""
    text = dockerfile.read_text()
    sources = {s for line in _COPY.findall(text) for s in line.split()}
    sources.add(str(dockerfile.relative_to(REPO)))
    for source in sorted(sources):
        origin, target = REPO / source, dest / source
        target.parent.mkdir(parents=True, exist_ok=True)
        if origin.is_dir():
            shutil.copytree(origin, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(origin, target)
    for source in _BIND_SOURCE.findall(text):
        (dest / source).mkdir(parents=True, exist_ok=True)
    return dest


def build_arg_default(dockerfile: Path, name: str) -> str:
    """The default value of ``ARG name=...`` in ``dockerfile``."""
    defaults = dict(_ARG.findall(dockerfile.read_text()))
    return defaults[name]


def download_wheel(requirement: str, dest: Path) -> Path:
    """The wheel of ``requirement`` (no dependencies), fetched by this machine's pip (and its
    configuration: indexes, find-links) into ``dest``."""
    pip = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:"]
    run_command([*pip, "-d", str(dest), requirement], 600)
    (wheel,) = dest.glob("*.whl")
    return wheel
