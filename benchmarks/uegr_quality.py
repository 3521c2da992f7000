"""UEGR ablation on the synthetic task: clean and robust test accuracy, mean ± std over seeds.

Variants at one fixed budget (genome, hparams, epochs): plain training, adversarial-only,
dropout-JS-only, masking-only and full UEGR. Usage: python benchmarks/uegr_quality.py [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import time

from rich.console import Console
from rich.table import Table

from aiperf.models import genome_from_dict
from aiperf.search.proposal import Hparams, Proposal
from aiperf.spec import load_spec
from aiperf.train import TrialContext, run_trial

GENOME = {
    "embed_dim": 48,
    "blocks": [
        {"type": "conv", "kernel": 3, "width": 64},
        {"type": "transformer", "heads": 4, "ffn_dim": 96},
    ],
    "pooling": "mean",
    "dropout": 0.1,
}
HPARAMS = {"lr": 5e-3, "batch_size": 64, "weight_decay": 0.01, "epochs": 6}
# Each variant switches parts of UEGR on or off (uegr.* overrides of the small spec).
VARIANTS = {
    "plain": ["uegr.enabled=false"],
    "adversarial only": [
        "uegr.beta=0",
        "uegr.rho=1",
        "uegr.k=1",
        "uegr.dropout_max=0",
        "uegr.dropout_min=0",
    ],
    "dropout-JS only": ["uegr.epsilon=0", "uegr.alpha=0", "uegr.rho=1"],
    "masking only": ["uegr.alpha=0", "uegr.beta=0"],
    "full UEGR": [],
}


def measure(overrides: list[str], seed: int, quick: bool) -> dict[str, float]:
    """Train the fixed candidate once; return its final clean and robust test accuracy."""
    sizes = ["workload.train_size=3000", "robustness.samples=300"] if quick else []
    spec = load_spec("small", [*overrides, *sizes, f"seed={seed}", "robustness.attack=pgd"])
    reports: list[dict] = []
    proposal = Proposal(
        genome_from_dict(GENOME), Hparams(**HPARAMS), trial_index=0, trial_seed=seed
    )
    run_trial(proposal, TrialContext.from_spec(spec), lambda metrics, _: reports.append(metrics))
    return {"clean": reports[-1]["test_accuracy"], "robust": reports[-1]["robust_accuracy"]}


def mean_std(values: list[float]) -> str:
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="smaller data, for a smoke run")
    args = parser.parse_args()
    table = Table(title="UEGR ablation — small synthetic task, PGD robust accuracy")
    for column in ("variant", "clean test acc", "robust test acc", "seconds / run"):
        table.add_column(column)
    for name, overrides in VARIANTS.items():
        start = time.perf_counter()
        runs = [measure(overrides, seed, args.quick) for seed in range(args.seeds)]
        seconds = (time.perf_counter() - start) / args.seeds
        clean, robust = [r["clean"] for r in runs], [r["robust"] for r in runs]
        table.add_row(name, mean_std(clean), mean_std(robust), f"{seconds:.1f}")
    Console().print(table)


if __name__ == "__main__":
    main()
