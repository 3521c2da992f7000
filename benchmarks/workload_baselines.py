"""What simple readers reach on each shipped spec's synthetic task, against its ceiling.

Per spec: the ceiling (1 − label noise, which the order-aware oracle reaches exactly on the
test split), a bag-of-words logistic regression trained on word counts, and the short-window
baseline: the oracle's own rule read through only the last (or first) max_len/4 tokens.
Train and test sizes are capped (``--train``, ``--test``) so the large specs run in seconds;
the sentence distribution does not depend on the split sizes.
Usage: python benchmarks/workload_baselines.py [--train 20000] [--test 5000]
"""

from __future__ import annotations

import argparse

import torch
from rich.console import Console
from rich.table import Table

from aiperf.spec import load_spec
from aiperf.workload import load_workload
from aiperf.workload.baselines import bag_of_words_accuracy
from aiperf.workload.synthetic import length_range, rule_label, window_label

SPECS = ("tiny", "small", "standard", "full")


def accuracy(predicted: list[int], labels: torch.Tensor) -> float:
    return (torch.tensor(predicted) == labels).float().mean().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=20000)
    parser.add_argument("--test", type=int, default=5000)
    args = parser.parse_args()
    table = Table("spec", "max_len", "lengths", "mean", "ceiling", "oracle", "bag of words",
                  "window", "last window", "first window")  # fmt: skip
    for name in SPECS:
        spec = load_spec(name).workload
        sizes = {"train_size": min(spec.train_size, args.train), "val_size": 10}
        spec = spec.model_copy(update={**sizes, "test_size": min(spec.test_size, args.test)})
        workload = load_workload(spec, 0)
        sentences, labels = workload.text["test"].sentences, workload.test.labels
        width = spec.max_len // 4
        lengths = workload.test.mask.sum(1).float()
        table.add_row(
            name,
            str(spec.max_len),
            "{}–{}".format(*length_range(spec.max_len)),
            f"{lengths.mean():.1f}",
            f"{1 - spec.label_noise:.3f}",
            f"{accuracy([rule_label(s) for s in sentences], labels):.3f}",
            f"{bag_of_words_accuracy(workload.train, workload.test, len(workload.vocab)):.3f}",
            str(width),
            f"{accuracy([window_label(s, width) for s in sentences], labels):.3f}",
            f"{accuracy([window_label(s, width, at_end=False) for s in sentences], labels):.3f}",
        )
    Console(width=130).print(table)


if __name__ == "__main__":
    main()
