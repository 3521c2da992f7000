"""The CPU image end to end, and the container files' agreement with the CLIs.

Slow: docker/Dockerfile.cpu is built on a debootstrapped Debian base (no registry is reachable)
in a podman store of its own, then runs `mpirun -n 2 aiperf netbench` and `aiperf run` on a host
directory mounted at /results, as a node of a real cluster would. Fast: every `aiperf` and
`ray start` command in docker/compose.yaml and docker/README.md uses flags those CLIs have.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
import yaml
from containers import (
    HOST_CA,
    REPO,
    Podman,
    build_arg_default,
    build_context,
    debian_mirror,
    download_wheel,
    make_debian_base,
    missing_tools,
)

DOCKER = REPO / "docker"
DOCKERFILE_CPU = DOCKER / "Dockerfile.cpu"
BASE_TAG = "localhost/aiperf-test-base:bookworm"
IMAGE_TAG = "localhost/aiperf-test:cpu"
SHM = "--shm-size=1g"  # Ray's object store (500 MB in an embedded cluster) lives in /dev/shm
RUN_ARGS = ["run", "--spec", "tiny", "--duration", "60s", "--out", "/results/run"]
MPI_AS_ROOT = ["-e", "OMPI_ALLOW_RUN_AS_ROOT=1", "-e", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1"]


@dataclass(frozen=True)
class BuiltImage:
    podman: Podman
    tag: str
    seconds: dict[str, float]  # what each step took, recorded by the slow test

    def run(self, *args: str, timeout: float) -> str:
        """``podman run --rm`` of this image with ``args`` (options, then the entrypoint's)."""
        return self.podman("run", "--rm", *args, timeout=timeout)


@contextmanager
def timed(seconds: dict[str, float], step: str) -> Iterator[None]:
    """Record how long the ``with`` block took as ``seconds[step]``."""
    start = time.monotonic()
    yield
    seconds[step] = round(time.monotonic() - start, 1)


@pytest.fixture(scope="module")
def cpu_image(tmp_path_factory) -> Iterator[BuiltImage]:
    """docker/Dockerfile.cpu built from the working tree on a debootstrapped base (≈2.5 min)."""
    missing = missing_tools()
    if missing:
        pytest.skip(f"container tools missing: {' '.join(missing)} (.ci/run installs them)")
    if os.geteuid() != 0:
        pytest.skip("needs root: debootstrap and rootful podman")
    work = tmp_path_factory.mktemp("container")
    podman = Podman.fresh()
    seconds: dict[str, float] = {}
    try:
        with timed(seconds, "debootstrap + import"):
            make_debian_base(podman, BASE_TAG, work, debian_mirror())
        with timed(seconds, "context + torch wheel"):
            context = build_context(DOCKERFILE_CPU, work / "context")
            download_wheel(build_arg_default(DOCKERFILE_CPU, "TORCH"), context / "docker/wheels")
        build = ["build", "--pull=never", "-f", str(context / DOCKERFILE_CPU.relative_to(REPO))]
        build += ["--build-arg", f"BASE={BASE_TAG}", "-t", IMAGE_TAG]
        if HOST_CA.is_file():  # pip inside the build trusts what this machine trusts
            build += ["-v", f"{HOST_CA}:/host-ca.crt:ro", "--build-arg", "PIP_CERT=/host-ca.crt"]
        with timed(seconds, "build"):
            podman(*build, str(context), timeout=540)
        shutil.rmtree(work)  # the context holds a copy of the torch wheel
        yield BuiltImage(podman, IMAGE_TAG, seconds)
    finally:
        podman.remove_everything()


@pytest.mark.slow
def test_cpu_image_runs_a_valid_benchmark(cpu_image, tmp_path, record_testsuite_property) -> None:
    results = tmp_path / "results"
    results.mkdir()
    mount = ["-v", f"{results}:/results"]
    with timed(cpu_image.seconds, "netbench"):
        cpu_image.run(
            SHM, *mount, *MPI_AS_ROOT, "--entrypoint", "mpirun", cpu_image.tag,
            "-n", "2", "aiperf", "netbench", "--out", "/results/netbench.json", timeout=300,
        )  # fmt: skip
    with timed(cpu_image.seconds, "aiperf run"):
        cpu_image.run(
            SHM, *mount, cpu_image.tag, *RUN_ARGS, "--netbench", "/results/netbench.json",
            timeout=400,
        )  # fmt: skip
    size = cpu_image.podman.image_size(cpu_image.tag)
    for step, seconds in cpu_image.seconds.items():
        record_testsuite_property(f"container {step} (s)", seconds)
    record_testsuite_property("container image size (bytes)", size)
    print(f"\ncontainer test, seconds: {cpu_image.seconds}; image {size / 1e9:.2f} GB")

    summary = json.loads((results / "run/summary.json").read_text())
    assert summary["invalid_reasons"] == []
    assert summary["valid"] is True
    assert summary["division"] == "closed"
    assert summary["trials_completed"] >= 1
    system = json.loads((results / "run/system.json").read_text())
    assert system["interconnect"] is not None  # the MPI phase's figures reached the run
    assert system["nodes"][0]["software"]["torch"].endswith("+cpu")


@pytest.mark.slow
def test_cpu_image_has_its_extras_and_no_cuda(cpu_image) -> None:
    probe = (
        "import json, mpi4py.MPI, nni, torch; print(json.dumps({'nni': nni.__version__, "
        "'mpi': mpi4py.MPI.Get_library_version(), 'cuda': torch.version.cuda}))"
    )
    output = cpu_image.run("--entrypoint", "python", cpu_image.tag, "-c", probe, timeout=120)
    found = json.loads(output.strip().splitlines()[-1])
    assert found["nni"] == "3.0"
    assert "Open MPI" in found["mpi"]
    assert found["cuda"] is None


# --- the files' commands against the CLIs (fast) ---


def shell_commands(text: str) -> list[list[str]]:
    """Each simple command (split at ``;``, ``&&``, ``|``, ``(``...) of shell ``text``, as words;
    continuation lines joined, comments dropped."""
    commands: list[list[str]] = []
    for line in text.replace("\\\n", " ").splitlines():
        commands.append([])
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True  # words split at whitespace and punctuation only
        for token in lexer:
            if set(token) <= set("();<>|&"):
                commands.append([])
            else:
                commands[-1].append(token)
    return [words for words in commands if words]


def readme_commands() -> list[list[str]]:
    """The commands of docker/README.md's bash code blocks."""
    text = (DOCKER / "README.md").read_text()
    blocks = re.findall(r"```(?:bash|sh)\n(.*?)```", text, re.DOTALL)
    return [words for block in blocks for words in shell_commands(block)]


def compose_commands() -> list[list[str]]:
    """The commands shown as ``#   $ ...`` in docker/compose.yaml's header."""
    text = (DOCKER / "compose.yaml").read_text()
    lines = re.findall(r"^#\s+\$ (.*)$", text, re.MULTILINE)
    return shell_commands("\n".join(lines))


def after(words: list[str], *program: str) -> list[list[str]]:
    """The arguments after each occurrence of ``program`` (a word sequence) in ``words``."""
    n = len(program)
    return [words[i + n :] for i in range(len(words) - n + 1) if tuple(words[i : i + n]) == program]


def unknown_aiperf_flags(args: list[str]) -> list[str]:
    """The ``--flags`` in ``aiperf`` arguments that its (sub)command does not have."""
    from aiperf.cli import build_parser

    parser, rest = build_parser(), list(args)
    while rest:
        choices = next(
            (a.choices for a in parser._actions if isinstance(a, argparse._SubParsersAction)),
            None,
        )
        if not choices or rest[0] not in choices:
            break
        parser = choices[rest.pop(0)]
    known = set(parser._option_string_actions)
    return [w for w in rest if w.startswith("--") and w.split("=")[0] not in known]


def unknown_ray_start_flags(args: list[str]) -> list[str]:
    from ray.scripts.scripts import start

    known = {opt for param in start.params for opt in (*param.opts, *param.secondary_opts)}
    return [w for w in args if w.startswith("--") and w.split("=")[0] not in known]


def flag_value(args: list[str], flag: str) -> str | None:
    """The value of ``--flag=V`` or ``--flag V`` in ``args``."""
    for i, word in enumerate(args):
        if word.startswith(flag + "="):
            return word.split("=", 1)[1]
        if word == flag and i + 1 < len(args):
            return args[i + 1]
    return None


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


def test_compose_starts_a_ray_head_and_workers_with_token_auth(compose) -> None:
    head, worker = compose["services"]["head"], compose["services"]["worker"]
    for service in (head, worker):
        assert service["entrypoint"] == ["ray"] and service["command"][0] == "start"
        assert "--block" in service["command"]
        assert unknown_ray_start_flags(service["command"][1:]) == []
        env = service["environment"]
        assert env["RAY_AUTH_MODE"] == "token"  # one shared token, never auth turned off
        assert env["RAY_AUTH_TOKEN"].startswith("${RAY_AUTH_TOKEN:?")
    assert "--head" in head["command"]
    port = flag_value(head["command"], "--port")
    assert flag_value(worker["command"], "--address") == f"head:{port}"
    assert worker["deploy"]["replicas"] >= 1
    assert any(volume.endswith(":/results") for volume in head["volumes"])


def test_compose_driver_command_matches_the_cluster(compose) -> None:
    port = flag_value(compose["services"]["head"]["command"], "--port")
    runs = [args for words in compose_commands() for args in after(words, "aiperf", "run")]
    assert runs, "compose.yaml shows how to run the driver"
    for args in runs:
        assert unknown_aiperf_flags(["run", *args]) == []
        assert flag_value(args, "--address") == f"head:{port}"
        assert (flag_value(args, "--out") or "").startswith("/results/")


def test_readme_commands_use_real_flags() -> None:
    commands = readme_commands() + compose_commands()
    aiperf_calls = [args for words in commands for args in after(words, "aiperf")]
    ray_starts = [args for words in commands for args in after(words, "ray", "start")]
    assert len(aiperf_calls) >= 3 and ray_starts
    assert [a for a in aiperf_calls if unknown_aiperf_flags(a)] == []
    assert [a for a in ray_starts if unknown_ray_start_flags(a)] == []
