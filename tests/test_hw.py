"""Hardware facts: datasheet peaks, CPU estimate, measured GEMM, NVML (faked), energy, inventory."""

from __future__ import annotations

import itertools
import json
import sys
import time
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
import torch

from aiperf.hw import (
    PEAKS,
    CpuFacts,
    EnergyMeter,
    cpu_facts,
    datasheet_peak,
    device_peak,
    estimated_peak_flops,
    gpu_inventory,
    measured_gemm_peak,
    node_inventory,
    peak_for,
    peak_summary,
)
from aiperf.hw.peaks import _PATTERNS

T = 1e12


class FakeNVMLError(Exception):
    """Stands in for pynvml.NVMLError."""


def fake_pynvml(devices: list[dict[str, Any]], init_error: Exception | None = None) -> ModuleType:
    """A pynvml look-alike: device fields are values, callables (counters) or exceptions."""

    def value(handle: int, key: str) -> Any:
        field = devices[handle][key]
        if isinstance(field, Exception):
            raise field
        return field() if callable(field) else field

    def init() -> None:
        if init_error:
            raise init_error

    module = ModuleType("pynvml")
    module.NVMLError = FakeNVMLError
    module.NVML_CLOCK_SM, module.NVML_CLOCK_MEM = 1, 2
    module.nvmlInit = init
    module.nvmlShutdown = lambda: None
    module.nvmlDeviceGetCount = lambda: len(devices)
    module.nvmlDeviceGetHandleByIndex = lambda index: index
    module.nvmlDeviceGetName = lambda h: value(h, "name")
    module.nvmlDeviceGetUUID = lambda h: value(h, "uuid")
    module.nvmlDeviceGetMemoryInfo = lambda h: SimpleNamespace(total=value(h, "memory"))
    module.nvmlDeviceGetMaxClockInfo = lambda h, c: value(h, "max_sm" if c == 1 else "max_mem")
    module.nvmlDeviceGetClockInfo = lambda h, c: value(h, "sm")
    module.nvmlDeviceGetEnforcedPowerLimit = lambda h: value(h, "power_mw")
    module.nvmlDeviceGetTotalEnergyConsumption = lambda h: value(h, "energy_mj")
    return module


def h100(index: int, **changes: Any) -> dict[str, Any]:
    fields = {
        "name": "NVIDIA H100 80GB HBM3",
        "uuid": f"GPU-0000000{index}-aaaa-bbbb-cccc-dddddddddddd",
        "memory": 80 * 2**30,
        "max_sm": 1980,
        "sm": 345,
        "max_mem": 2619,
        "power_mw": 700_000,
        "energy_mj": 0,
    }
    return fields | changes


@pytest.fixture
def no_nvml(monkeypatch: pytest.MonkeyPatch) -> None:
    error = FakeNVMLError("NVML Shared Library Not Found")
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml([], init_error=error))


# --- datasheet peaks ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "precision", "flops"),
    [
        ("NVIDIA H100 80GB HBM3", "bf16", 989.4 * T),
        ("NVIDIA H100 80GB HBM3", "fp32", 66.9 * T),
        ("NVIDIA H100 80GB HBM3", "tf32", 494.7 * T),
        ("NVIDIA H100 PCIe", "bf16", 756 * T),
        ("NVIDIA H100 NVL", "fp16", 835.5 * T),
        ("NVIDIA A100-SXM4-80GB", "bf16", 312 * T),
        ("NVIDIA A100-SXM4-40GB", "tf32", 156 * T),
        ("NVIDIA A100 80GB PCIe", "fp32", 19.5 * T),
        ("A100-PCIE-40GB", "fp16", 312 * T),
        ("Tesla V100-SXM2-32GB", "fp16", 125 * T),
        ("Tesla V100-PCIE-16GB", "fp16", 112 * T),
        ("Tesla V100S-PCIE-32GB", "fp16", 130 * T),
        ("NVIDIA L40S", "bf16", 362.05 * T),
        ("NVIDIA L40", "bf16", 181.05 * T),
        ("NVIDIA L4", "fp32", 30.3 * T),
        ("NVIDIA A10", "bf16", 125 * T),
        ("NVIDIA A30", "bf16", 165 * T),
        ("Tesla T4", "fp16", 65 * T),
        ("NVIDIA GeForce RTX 4090", "fp32", 82.6 * T),
        ("NVIDIA GeForce RTX 3090", "bf16", 71 * T),
        ("AMD Instinct MI300X", "bf16", 1307.4 * T),
    ],
)
def test_datasheet_peak_matches_real_nvml_names(name: str, precision: str, flops: float) -> None:
    assert datasheet_peak(name, precision) == pytest.approx(flops)


def test_b200_is_in_the_table_with_dense_figures() -> None:
    peak = device_peak("NVIDIA B200")
    assert peak is PEAKS["b200"]
    assert (peak.flops("bf16"), peak.flops("tf32")) == (2.25e15, 1.1e15)  # half the sparse figures


def test_h200_has_the_h100_sxm_figures() -> None:
    for precision in ("fp32", "tf32", "bf16", "fp16"):
        h100_flops = datasheet_peak("NVIDIA H100 80GB HBM3", precision)
        assert datasheet_peak("NVIDIA H200", precision) == h100_flops
    assert device_peak("NVIDIA H200 NVL") is PEAKS["h200-nvl"]


@pytest.mark.parametrize(
    "name",
    [
        "NVIDIA GeForce GTX 1080",
        "NVIDIA A10G",  # AWS part, not the A10
        "NVIDIA GeForce RTX 3090 Ti",
        "NVIDIA GeForce RTX 4090 D",
        "NVIDIA H100",  # no form factor: SXM and PCIe differ
        "",
    ],
)
def test_unknown_devices_have_no_peak(name: str) -> None:
    assert device_peak(name) is None
    assert datasheet_peak(name, "fp32") is None


def test_missing_mode_and_unknown_precision_are_none() -> None:
    assert datasheet_peak("Tesla V100-SXM2-16GB", "bf16") is None
    assert datasheet_peak("Tesla V100-SXM2-16GB", "tf32") is None
    assert datasheet_peak("NVIDIA H100 80GB HBM3", "fp8") is None
    assert datasheet_peak("NVIDIA H100 80GB HBM3", "model") is None


def test_most_specific_pattern_wins() -> None:
    assert device_peak("NVIDIA A100-SXM4-80GB") is PEAKS["a100-sxm4"]
    assert device_peak("NVIDIA A10") is PEAKS["a10"]
    assert device_peak("NVIDIA L40S") is not device_peak("NVIDIA L40")
    assert device_peak("NVIDIA L4") is PEAKS["l4"]
    assert device_peak("NVIDIA H100 NVL") is PEAKS["h100-nvl"]
    assert device_peak("NVIDIA GH200 480GB") is PEAKS["gh200"]


def test_every_entry_is_reachable_sourced_and_dense_consistent() -> None:
    assert {key for _, key in _PATTERNS} == set(PEAKS)
    for peak in PEAKS.values():
        assert peak.source and "http" not in peak.source
        assert 500 < peak.clock_mhz < 3000
        half = [f for f in (peak.bf16_flops, peak.fp16_flops) if f is not None]
        assert all(f > peak.fp32_flops for f in half), peak.model
        assert peak.bf16_flops in (None, peak.fp16_flops), peak.model


# --- CPU -----------------------------------------------------------------------------------------


def facts(flags: list[str], mhz: float | None = 2000.0, cores: int = 4) -> CpuFacts:
    return CpuFacts("Made-up CPU", cores * 2, cores, mhz, "test", flags)


@pytest.mark.parametrize(
    ("flags", "fp32_per_cycle", "bf16_per_cycle"),
    [
        (["sse2", "avx", "avx2", "fma", "avx512f"], 64, 64),
        (["avx2", "fma", "avx512f", "avx512_bf16"], 64, 128),
        (["avx512f", "avx512_bf16", "amx_bf16"], 64, 1024),
        (["sse2", "avx", "avx2", "fma"], 32, 32),
        (["sse2", "avx"], 16, 16),
        (["asimd", "bf16"], 16, 32),
    ],
)
def test_cpu_estimate_is_cores_times_clock_times_flops_per_cycle(
    flags: list[str], fp32_per_cycle: int, bf16_per_cycle: int
) -> None:
    peaks, assumption = estimated_peak_flops(facts(flags))
    assert peaks["fp32"] == 4 * 2e9 * fp32_per_cycle
    assert peaks["tf32"] == peaks["fp32"]
    assert peaks["bf16"] == 4 * 2e9 * bf16_per_cycle
    assert "estimate" in assumption


def test_cpu_estimate_needs_clock_and_isa() -> None:
    peaks, why = estimated_peak_flops(facts(["avx2", "fma"], mhz=None))
    assert set(peaks.values()) == {None} and "clock" in why
    peaks, why = estimated_peak_flops(facts(["mmx"]))
    assert peaks["fp32"] is None and "flags" in why


CPUINFO = """processor\t: {n}
model name\t: Test CPU @ 2.00GHz
flags\t\t: fpu sse2 avx avx2 fma avx512f avx512_bf16
cpu MHz\t\t: {mhz}
physical id\t: 0
core id\t\t: {core}
"""


def test_cpu_facts_from_fake_proc_and_sysfs(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    blocks = [CPUINFO.format(n=n, mhz=1200 + n, core=n // 2) for n in range(4)]
    cpuinfo.write_text("\n".join(blocks))
    sys_cpu = tmp_path / "cpu"
    no_sysfs = cpu_facts(cpuinfo, sys_cpu)
    assert no_sysfs.model == "Test CPU @ 2.00GHz"
    assert no_sysfs.physical_cores == 2  # 4 logical CPUs, 2 per core
    assert no_sysfs.max_mhz == 1203 and "cpu MHz" in no_sysfs.mhz_source
    assert no_sysfs.flags == ["avx", "avx2", "avx512_bf16", "avx512f", "fma", "sse2"]
    for n in range(4):
        (sys_cpu / f"cpu{n}" / "cpufreq").mkdir(parents=True)
        (sys_cpu / f"cpu{n}" / "cpufreq" / "cpuinfo_max_freq").write_text(f"{3_500_000 + n}\n")
    assert cpu_facts(cpuinfo, sys_cpu).max_mhz == 3500.003


def test_cpu_facts_without_proc_cpuinfo(tmp_path: Path) -> None:
    missing = cpu_facts(tmp_path / "absent", tmp_path / "absent-sys")
    assert missing.max_mhz is None and missing.flags == []
    assert estimated_peak_flops(missing)[0]["fp32"] is None


# --- measured GEMM -------------------------------------------------------------------------------


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_measured_cpu_gemm_is_positive_and_below_the_estimate(precision: str) -> None:
    start = time.perf_counter()
    measured = measured_gemm_peak("cpu", precision, seconds=0.3)
    assert time.perf_counter() - start < 5  # 0.3 s budget plus warm-up, on a busy 2-core box
    assert measured is not None and measured > 0
    estimate = estimated_peak_flops(cpu_facts())[0][precision]
    if estimate is not None:
        assert measured < estimate * 1.5


def test_unsupported_gemm_is_none_without_exception() -> None:
    assert measured_gemm_peak("cpu", "tf32") is None
    assert measured_gemm_peak("cpu", "fp8") is None
    assert measured_gemm_peak("not-a-device", "fp32") is None
    assert measured_gemm_peak("cuda:99", "fp32") is None


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU path")
def test_gemm_on_missing_cuda_is_none() -> None:
    assert measured_gemm_peak("cuda", "bf16") is None


# --- NVML (faked) --------------------------------------------------------------------------------


def test_gpu_inventory_lists_fields_and_peaks(monkeypatch: pytest.MonkeyPatch) -> None:
    devices = [h100(0), h100(1, name=b"NVIDIA A100-SXM4-80GB", power_mw=FakeNVMLError("n/a"))]
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml(devices))
    gpus, note = gpu_inventory()
    assert note is None and [g["index"] for g in gpus] == [0, 1]
    first, second = gpus
    assert first["uuid"].startswith("GPU-00000000")
    assert first["memory_bytes"] == 80 * 2**30
    assert (first["max_sm_clock_mhz"], first["sm_clock_mhz"]) == (1980, 345)
    assert (first["max_memory_clock_mhz"], first["power_limit_w"]) == (2619, 700.0)
    assert first["datasheet_peak_flops"]["bf16"] == pytest.approx(989.4 * T)
    assert second["name"] == "NVIDIA A100-SXM4-80GB"  # bytes from old pynvml decoded
    assert second["power_limit_w"] is None
    assert second["datasheet_peak_flops"]["bf16"] == pytest.approx(312 * T)


def test_unsupported_nvml_field_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    device = h100(0, max_sm=FakeNVMLError("Not Supported"), memory=FakeNVMLError("x"))
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml([device]))
    (gpu,), _ = gpu_inventory()
    assert gpu["max_sm_clock_mhz"] is None and gpu["memory_bytes"] is None
    assert gpu["sm_clock_mhz"] == 345


def test_no_driver_gives_empty_list_and_reason(no_nvml: None) -> None:
    gpus, note = gpu_inventory()
    assert gpus == [] and "NVML" in note and "Library Not Found" in note


def test_no_nvidia_ml_py_gives_empty_list_and_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # makes `import pynvml` raise ImportError
    assert gpu_inventory() == ([], "no NVIDIA GPU listed: nvidia-ml-py is not installed")


def test_nvml_without_devices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml([]))
    assert gpu_inventory() == ([], "NVML found no NVIDIA GPU")


# --- energy --------------------------------------------------------------------------------------


def rapl_zone(root: Path, zone: str, name: str, energy_uj: int, range_uj: int) -> Path:
    path = root / zone
    path.mkdir(parents=True)
    (path / "name").write_text(f"{name}\n")
    (path / "energy_uj").write_text(f"{energy_uj}\n")
    (path / "max_energy_range_uj").write_text(f"{range_uj}\n")
    return path / "energy_uj"


def test_nvml_energy_is_the_counter_delta(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    readings_mj = itertools.count(1000, 3500).__next__  # +3.5 J per reading
    devices = [h100(0, energy_mj=readings_mj), h100(1, energy_mj=FakeNVMLError("pre-Volta"))]
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml(devices))
    meter = EnergyMeter(powercap_root=tmp_path / "none")
    meter.start()
    result = meter.stop()
    assert result.per_device_j == {"gpu:0": pytest.approx(3.5)}
    assert result.total_j == pytest.approx(3.5)
    assert "RAPL not present" in result.note
    json.dumps(result.to_dict())


def test_rapl_wrap_around(no_nvml: None, tmp_path: Path) -> None:
    range_uj = 262_143_328_850
    energy = rapl_zone(tmp_path, "intel-rapl:0", "package-0", range_uj - 1_000_000, range_uj)
    rapl_zone(tmp_path, "intel-rapl:0:0", "core", 5, range_uj)  # part of package-0
    rapl_zone(tmp_path, "intel-rapl:1", "psys", 7, range_uj)  # whole platform: not added
    meter = EnergyMeter(powercap_root=tmp_path, poll_s=3600)
    meter.start()
    energy.write_text("2000000\n")  # wrapped: 1 J to the top, then 2 J
    meter.poll()
    energy.write_text("1000000\n")  # wrapped a second time: range − 1 J more
    result = meter.stop()
    assert result.per_device_j == {"rapl:package-0": pytest.approx(range_uj * 1e-6 + 2)}
    assert result.total_j == pytest.approx(range_uj * 1e-6 + 2)
    assert "no NVIDIA GPU" in result.note


def test_background_poll_catches_wraps(no_nvml: None, tmp_path: Path) -> None:
    energy = rapl_zone(tmp_path, "intel-rapl:0", "package-0", 0, 10_000_000)
    meter = EnergyMeter(powercap_root=tmp_path, poll_s=0.01)
    meter.start()
    for uj in (6_000_000, 2_000_000, 8_000_000):  # 6 J, wrap +6 J, +6 J
        energy.write_text(f"{uj}\n")
        time.sleep(0.1)
    assert meter.stop().total_j == pytest.approx(18)


def test_meter_without_sources_gives_none_and_reason(no_nvml: None, tmp_path: Path) -> None:
    (tmp_path / "intel-rapl:0" / "energy_uj").mkdir(parents=True)  # present, not readable
    meter = EnergyMeter(powercap_root=tmp_path)
    meter.start()
    result = meter.stop()
    assert result.total_j is None and result.per_device_j == {}
    assert result.note.startswith("no energy counters: no NVIDIA GPU")
    assert result.note.endswith("; RAPL not readable")


# --- inventory -----------------------------------------------------------------------------------


def test_inventory_without_gpu(no_nvml: None) -> None:
    inventory = node_inventory(measure=True)
    json.dumps(inventory)
    assert inventory["gpus"] == [] and "NVML" in inventory["gpu_note"]
    measured_fp32 = inventory["measured_gemm_flops"]["cpu"]["fp32"]
    assert measured_fp32 > 0
    datasheet, measured = peak_for(inventory, "fp32")
    assert datasheet == inventory["cpu"]["estimated_peak_flops"]["fp32"]
    assert measured == measured_fp32
    assert peak_for(inventory, "tf32") == peak_for(inventory, "fp32")  # CPUs compute it in fp32


def test_inventory_unmeasured_is_fast_and_has_no_measurement(no_nvml: None) -> None:
    start = time.perf_counter()
    inventory = node_inventory(measure=False)
    assert time.perf_counter() - start < 1
    assert "measured_gemm_flops" not in inventory
    assert peak_for(inventory, "bf16")[1] is None


def test_inventory_sums_gpu_datasheet_peaks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml([h100(0), h100(1)]))
    inventory = node_inventory(measure=False)
    assert len(inventory["gpus"]) == 2 and inventory["gpu_note"] is None
    assert peak_for(inventory, "bf16") == (pytest.approx(2 * 989.4 * T), None)
    assert peak_for(inventory, "fp32")[0] == pytest.approx(2 * 66.9 * T)


def test_gpu_summary_needs_every_gpu() -> None:
    v100 = {"index": 0, "datasheet_peak_flops": {"fp32": 15.7 * T, "tf32": None, "bf16": None}}
    unknown = {"index": 1, "datasheet_peak_flops": dict.fromkeys(("fp32", "tf32", "bf16"))}
    measured = {"gpu:0": {"fp32": 14 * T, "tf32": None, "bf16": 20 * T}}
    alone = peak_summary({"gpus": [v100], "measured_gemm_flops": measured})
    assert alone["tf32"]["datasheet_flops"] == 15.7 * T  # no TF32: TF32 requests run in fp32
    assert alone["tf32"]["measured_flops"] == 14 * T
    assert alone["bf16"]["datasheet_flops"] is None
    mixed = peak_summary({"gpus": [v100, unknown], "measured_gemm_flops": measured})
    assert mixed["fp32"]["datasheet_flops"] is None  # a partial sum would flatter the node
    assert mixed["fp32"]["measured_flops"] is None


def test_peak_for_old_or_partial_inventory() -> None:
    assert peak_for({}, "fp32") == (None, None)
    assert peak_for({"peak_flops": {"fp32": {"datasheet_flops": 1.0}}}, "fp32") == (1.0, None)
    assert peak_for({"peak_flops": {}}, "bf16") == (None, None)


def test_importing_hw_does_not_import_pynvml() -> None:
    import subprocess

    code = "import sys, aiperf.hw; print('pynvml' in sys.modules, 'torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
