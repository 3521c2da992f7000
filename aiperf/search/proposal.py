"""What a searcher proposes for one trial, and its one conversion to and from Ray Tune's config.

A ``Proposal`` is the contract between the search, the trial that trains it and the ledger that
records it: a genome (the architecture), the hyperparameters, the searched UEGR knobs and the
trial's seed. Inside a searcher, candidates stay plain JSON mappings (morphs edit them); they
become a ``Proposal`` when proposed, and Ray Tune carries ``Proposal.to_config()``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from aiperf.models.genome import Genome, genome_from_dict


@dataclass(frozen=True)
class Hparams:
    """Per-trial hyperparameters proposed by the searcher alongside the genome."""

    lr: float
    batch_size: int
    weight_decay: float
    epochs: int  # the trial's budget; the run's deadline may stop it earlier

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Hparams:
        """Hparams from a mapping; unknown or missing keys are an error naming them."""
        names = {f.name for f in fields(cls)}
        unknown, missing = set(data) - names, names - set(data)
        if unknown or missing:
            raise ValueError(
                f"hparams: unknown keys {sorted(unknown)}, missing keys {sorted(missing)}"
            )
        return cls(
            lr=float(data["lr"]),
            batch_size=int(data["batch_size"]),
            weight_decay=float(data["weight_decay"]),
            epochs=int(data["epochs"]),
        )


def trial_seed(run_seed: int, trial_index: int) -> int:
    """The seed of trial ``trial_index``: follows from the run seed, so reruns repeat trials."""
    return run_seed * 1_000_003 + trial_index


@dataclass(frozen=True)
class Proposal:
    """One trial's proposal: architecture, hyperparameters, UEGR knobs, index and seed."""

    genome: Genome
    hparams: Hparams
    trial_index: int
    trial_seed: int
    uegr: dict[str, Any] = field(default_factory=dict)  # UegrSpec fields; empty = the spec's

    @classmethod
    def from_draw(cls, draw: Mapping[str, Any], trial_index: int, run_seed: int) -> Proposal:
        """A searcher's candidate ``{"genome", "hparams", "uegr"}`` as proposal ``trial_index``."""
        seed = trial_seed(run_seed, trial_index)
        return cls.from_config({**draw, "trial_index": trial_index, "trial_seed": seed})

    def to_config(self) -> dict[str, Any]:
        """The plain JSON mapping Ray Tune carries to the trial and back to the master."""
        return {
            "genome": self.genome.model_dump(mode="json"),
            "hparams": asdict(self.hparams),
            "uegr": dict(self.uegr),
            "trial_index": self.trial_index,
            "trial_seed": self.trial_seed,
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Proposal:
        """The proposal ``to_config`` wrote (what a trial and the recorder receive)."""
        return cls(
            genome=genome_from_dict(config["genome"]),
            hparams=Hparams.from_dict(config["hparams"]),
            trial_index=int(config["trial_index"]),
            trial_seed=int(config["trial_seed"]),
            uegr=dict(config.get("uegr") or {}),
        )
