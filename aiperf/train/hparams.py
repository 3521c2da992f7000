"""Per-trial hyperparameters proposed by the searcher alongside the genome."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class Hparams:
    lr: float
    batch_size: int
    weight_decay: float
    epochs: int  # the trial's budget; the run's deadline may stop it earlier

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Hparams:
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
