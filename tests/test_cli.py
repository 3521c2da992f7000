"""The command line: fast help, one-line errors with exit status 2, `aiperf train`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from aiperf.cli import main


def test_help_does_not_import_heavy_modules() -> None:
    code = (
        "import sys; from aiperf.cli import build_parser; build_parser().format_help();"
        "heavy = [m for m in ('torch', 'ray', 'pandas', 'nni') if m in sys.modules];"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        (["workload.bogus=1"], "spec.workload.bogus: unknown key"),
        (["seed=abc"], "spec.seed: Input should be a valid integer"),
        (["duration=-10s"], "spec.duration: Input should be greater than 0"),
    ],
)
def test_bad_spec_exits_2_with_one_line(capsys, overrides: list[str], field: str) -> None:
    args = ["run", "--spec", "tiny"] + [f"--set={o}" for o in overrides]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert field in err


def test_bad_duration_flag_exits_2(capsys) -> None:
    assert main(["run", "--duration=-5m"]) == 2
    assert "spec.duration" in capsys.readouterr().err


def test_bad_genome_exits_2(tmp_path, capsys) -> None:
    path = tmp_path / "g.json"
    path.write_text(json.dumps({"embed_dim": 32, "blocks": [{"type": "lstm"}], "pooling": "mean"}))
    assert main(["train", "--genome", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "genome.blocks" in err


def test_missing_genome_file_exits_2(tmp_path, capsys) -> None:
    assert main(["train", "--genome", str(tmp_path / "nope.json")]) == 2
    assert "nope.json" in capsys.readouterr().err


def test_train_prints_json(tmp_path, capsys) -> None:
    genome = {
        "embed_dim": 16,
        "blocks": [{"type": "conv", "kernel": 3, "width": 16}],
        "pooling": "max",
    }
    path = tmp_path / "g.json"
    path.write_text(json.dumps(genome))
    small = [
        "--set=workload.train_size=200",
        "--set=workload.val_size=50",
        "--set=workload.test_size=50",
    ]
    assert main(["train", "--genome", str(path), "--epochs", "2", "--json", *small]) == 0
    result = json.loads(capsys.readouterr().out)
    assert len(result["reports"]) == 2
    assert 0.0 <= result["test_accuracy"] <= 1.0
    assert result["reports"][0]["train_flops"] > 0
    assert result["uegr"] is True and 0.0 <= result["robust_accuracy"] <= 1.0


def test_train_plain_turns_uegr_off(tmp_path, capsys) -> None:
    genome = {"embed_dim": 16, "blocks": [{"type": "conv", "kernel": 3, "width": 16}]}
    path = tmp_path / "g.json"
    path.write_text(json.dumps(genome))
    small = ["--set=workload.train_size=100", "--set=robustness.samples=20"]
    assert main(["train", "--genome", str(path), "--epochs", "1", "--json", "--plain", *small]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert main(["train", "--genome", str(path), "--epochs", "1", "--json", *small]) == 0
    uegr = json.loads(capsys.readouterr().out)
    assert plain["uegr"] is False and uegr["uegr"] is True
    # UEGR runs 4 forward + 3 full backward + 1 input backward per step: more work per epoch
    assert uegr["reports"][0]["train_flops"] > 2 * plain["reports"][0]["train_flops"]


def test_flops_breakdown_matches_a_real_uegr_step(tmp_path, capsys) -> None:
    import torch

    from aiperf.models import build_model, genome_from_dict
    from aiperf.spec import load_spec
    from aiperf.train import UegrStep
    from aiperf.train.flops_check import flop_counter

    genome = {
        "embed_dim": 16,
        "blocks": [
            {"type": "conv", "kernel": 3, "width": 24},
            {"type": "transformer", "heads": 2, "ffn_dim": 32},
        ],
    }
    path = tmp_path / "g.json"
    path.write_text(json.dumps(genome))
    argv = ["flops", "--genome", str(path), "--batch", "4", "--seq", "10", "--json"]
    assert main([*argv, "--set=uegr.k=3"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [row["type"] for row in report["blocks"]] == ["conv", "transformer", "head"]
    torch.manual_seed(0)
    model = build_model(genome_from_dict(genome), 30, 2, 10)
    step = UegrStep(model, load_spec("tiny").train, "cpu", load_spec("tiny", ["uegr.k=3"]).uegr, 0)
    batch = (
        torch.randint(1, 30, (4, 10)),
        torch.ones(4, 10, dtype=torch.bool),
        torch.tensor([0, 1, 0, 1]),
    )
    with flop_counter() as counter:
        step(torch.optim.AdamW(model.parameters()), batch)
    measured = counter.get_total_flops()
    assert abs(report["totals"]["train_step_flops"] - measured) <= 0.01 * measured


def test_flops_rejects_a_bad_batch(tmp_path, capsys) -> None:
    path = tmp_path / "g.json"
    path.write_text(
        json.dumps({"embed_dim": 8, "blocks": [{"type": "conv", "kernel": 1, "width": 8}]})
    )
    assert main(["flops", "--genome", str(path), "--batch", "0"]) == 2
    assert "--batch" in capsys.readouterr().err


def test_sysinfo_without_a_gpu(capsys) -> None:
    assert main(["sysinfo", "--json"]) == 0
    inventory = json.loads(capsys.readouterr().out)
    assert inventory["cpu"]["logical_cores"] >= 1
    assert inventory["gpus"] == [] and inventory["gpu_note"]
    fp32 = inventory["peak_flops"]["fp32"]
    assert fp32["measured_flops"] > 0


def test_importing_the_run_does_not_import_ray() -> None:
    """Ray reads its auth settings on import: aiperf must set them first (cluster.connect)."""
    code = "import sys, aiperf.run, aiperf.cli; print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
