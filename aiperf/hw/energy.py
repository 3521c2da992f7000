"""Energy used between start() and stop(): NVIDIA GPU counters (NVML) and CPU RAPL counters.

RAPL counters wrap (max_energy_range_uj, a few hundred kJ: minutes at full power on big
packages), so the meter polls them on a background thread often enough to see each wrap.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

POWERCAP = Path("/sys/class/powercap")
_TOP_LEVEL_ZONE = re.compile(r"intel-rapl:\d+")  # sub-zones (core, dram…) are parts or extras


@dataclass
class EnergyResult:
    """Joules per counter and in total; total_j None with the reason in note when none worked."""

    total_j: float | None
    per_device_j: dict[str, float] = field(default_factory=dict)
    elapsed_s: float = 0.0
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Counter:
    """A monotonic energy counter read in joules, wrapping at range_j (None: never wraps)."""

    key: str
    read_j: Callable[[], float]
    range_j: float | None
    errors: tuple[type[Exception], ...]  # what a failed reading raises
    last_j: float = 0.0
    used_j: float = 0.0

    def reset(self) -> None:
        self.last_j, self.used_j = self.read_j(), 0.0

    def advance(self) -> None:
        now_j = self.read_j()
        delta_j = now_j - self.last_j
        if delta_j < 0 and self.range_j:
            delta_j += self.range_j
        self.used_j += max(delta_j, 0.0)
        self.last_j = now_j


def _read_uj(path: Path) -> float:
    return int(path.read_text().strip()) * 1e-6


def _nvml_energy_j(pynvml: Any, handle: Any) -> float:
    return pynvml.nvmlDeviceGetTotalEnergyConsumption(handle) * 1e-3  # mJ since driver load


def rapl_counters(root: Path = POWERCAP) -> tuple[list[_Counter], str | None]:
    """One counter per top-level RAPL package zone under root, or ([], why not)."""
    zones = sorted(p for p in root.glob("intel-rapl:*") if _TOP_LEVEL_ZONE.fullmatch(p.name))
    if not zones:
        return [], "RAPL not present"
    counters = []
    for zone in zones:
        try:
            name = (zone / "name").read_text().strip()
            range_j = _read_uj(zone / "max_energy_range_uj")
            _read_uj(zone / "energy_uj")
        except (OSError, ValueError):
            continue
        if name != "psys":  # psys is the whole platform and would double-count the packages
            read_j = partial(_read_uj, zone / "energy_uj")
            counters.append(_Counter(f"rapl:{name}", read_j, range_j, (OSError, ValueError)))
    return counters, None if counters else "RAPL not readable"


def _nvml_counters(pynvml: Any) -> tuple[list[_Counter], str | None]:
    counters = []
    for index in range(pynvml.nvmlDeviceGetCount()):
        handle = pynvml.nvmlDeviceGetHandleByIndex(index)
        read_j = partial(_nvml_energy_j, pynvml, handle)
        try:
            read_j()
        except pynvml.NVMLError:
            continue  # pre-Volta or unsupported board
        counters.append(_Counter(f"gpu:{index}", read_j, None, (pynvml.NVMLError,)))
    return counters, None if counters else "NVIDIA energy counter not supported"


class EnergyMeter:
    """Joules used by NVIDIA GPUs and CPU packages between start() and stop()."""

    def __init__(self, powercap_root: Path = POWERCAP, poll_s: float = 30.0) -> None:
        self.powercap_root = powercap_root
        self.poll_s = poll_s
        self._counters: list[_Counter] = []
        self._missing: list[str] = []
        self._pynvml: Any = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_s = 0.0

    def _open_nvml(self) -> None:
        try:
            import pynvml
        except ImportError:
            self._missing.append("no NVIDIA GPU (nvidia-ml-py not installed)")
            return
        try:
            pynvml.nvmlInit()
        except (pynvml.NVMLError, OSError) as err:
            self._missing.append(f"no NVIDIA GPU ({err})")
            return
        self._pynvml = pynvml
        try:
            counters, missing = _nvml_counters(pynvml)
        except pynvml.NVMLError as err:
            counters, missing = [], f"NVML failed ({err})"
        self._counters += counters
        self._missing += [missing] if missing else []

    def start(self) -> None:
        """Find the counters and take the first readings; polls RAPL in the background."""
        self._counters, self._missing = [], []
        self._open_nvml()
        rapl, missing = rapl_counters(self.powercap_root)
        self._counters += rapl
        self._missing += [missing] if missing else []
        for counter in self._counters:
            counter.reset()
        self._start_s = time.monotonic()
        self._stop.clear()
        if any(c.range_j for c in self._counters):
            self._thread = threading.Thread(target=self._poll_loop, daemon=True)
            self._thread.start()

    def _poll_loop(self) -> None:
        while not self._stop.wait(self.poll_s):
            self.poll()

    def poll(self) -> None:
        """Fold the energy since the last reading into each counter (catches RAPL wraps)."""
        with self._lock:
            for counter in self._counters:
                with suppress(*counter.errors):  # a missed reading is folded into the next
                    counter.advance()

    def stop(self) -> EnergyResult:
        """Last readings and the joules since start(); total_j None with a reason if no source."""
        self._stop.set()
        if self._thread:
            self._thread.join()
            self._thread = None
        self.poll()
        elapsed_s = time.monotonic() - self._start_s
        if self._pynvml is not None:
            with suppress(self._pynvml.NVMLError):
                self._pynvml.nvmlShutdown()
            self._pynvml = None
        note = "; ".join(self._missing) or None
        if not self._counters:
            return EnergyResult(None, {}, elapsed_s, f"no energy counters: {note}")
        per_device_j = {c.key: c.used_j for c in self._counters}
        return EnergyResult(sum(per_device_j.values()), per_device_j, elapsed_s, note)
