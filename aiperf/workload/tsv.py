"""GLUE-style TSV files (e.g. SST-2): a header line, then rows with ``sentence`` and ``label``.

Only the columns named ``sentence`` and ``label`` in the header are used; others are ignored.
Labels are mapped to ids 0 … K-1 in sorted order of the train file's distinct labels (numeric
order when they are all integers, so GLUE's 0/1 stay 0/1). Without a test file the val file is
shuffled with the run seed and cut in half: the first half is val, the second half test.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from aiperf.errors import UserError
from aiperf.spec import WorkloadSpec
from aiperf.workload.splits import TextSplit

REQUIRED_COLUMNS = ("sentence", "label")


class WorkloadError(UserError):
    """Unusable workload data: one line naming the file, the line and the problem."""


@dataclass(frozen=True)
class _Row:
    line: int  # 1-based line number in the file
    sentence: str
    label: str


def load_tsv(spec: WorkloadSpec, seed: int) -> tuple[dict[str, TextSplit], int]:
    """The train/val/test text splits named by ``spec`` and the number of classes."""
    if spec.train_path is None or spec.val_path is None:
        raise WorkloadError("workload: kind 'tsv' needs train_path and val_path")
    train_rows = read_tsv(spec.train_path)
    label_ids = _label_ids(train_rows, spec.train_path)
    splits = {"train": _to_split(train_rows, label_ids, spec.train_path, spec.train_path)}
    val = _to_split(read_tsv(spec.val_path), label_ids, spec.val_path, spec.train_path)
    if spec.test_path is None:
        splits["val"], splits["test"] = _halve(val, seed, spec.val_path)
    else:
        splits["val"] = val
        test_rows = read_tsv(spec.test_path)
        splits["test"] = _to_split(test_rows, label_ids, spec.test_path, spec.train_path)
    return splits, len(label_ids)


def read_tsv(path: Path) -> list[_Row]:
    """The rows of a TSV file with a header; blank lines are skipped, any other bad row raises."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as err:
        raise WorkloadError(f"{path}: not UTF-8 text (byte {err.start})") from None
    except OSError as err:
        raise WorkloadError(f"{path}: cannot read file ({err.strerror or err})") from None
    if not lines or not lines[0].strip():
        raise WorkloadError(f"{path}:1: no header line (expected columns sentence and label)")
    header = [name.strip() for name in lines[0].split("\t")]
    for name in REQUIRED_COLUMNS:
        if name not in header:
            found = ", ".join(header)
            raise WorkloadError(f"{path}:1: header has no '{name}' column (columns: {found})")
    rows = [_parse_row(path, number, line, header) for number, line in enumerate(lines, 1)]
    rows = [row for row in rows[1:] if row is not None]
    if not rows:
        raise WorkloadError(f"{path}:2: no data rows after the header")
    return rows


def _parse_row(path: Path, number: int, line: str, header: list[str]) -> _Row | None:
    """One data row, or None for a blank line (and the header itself, checked by the caller)."""
    if number == 1 or not line.strip():
        return None
    fields = line.split("\t")
    if len(fields) != len(header):
        raise WorkloadError(
            f"{path}:{number}: expected {len(header)} tab-separated fields, got {len(fields)}"
        )
    sentence = fields[header.index("sentence")].strip()
    label = fields[header.index("label")].strip()
    if not sentence:
        raise WorkloadError(f"{path}:{number}: empty sentence")
    if not label:
        raise WorkloadError(f"{path}:{number}: empty label")
    return _Row(number, sentence, label)


def _label_ids(rows: list[_Row], path: Path) -> dict[str, int]:
    """Raw train label → id, in numeric order when all labels are integers, else string order."""
    numeric = all(_as_int(row.label) is not None for row in rows)
    keys = {_key(row.label, numeric) for row in rows}
    if len(keys) < 2:
        raise WorkloadError(f"{path}:2: needs at least 2 distinct labels (found {len(keys)})")
    ordered = sorted(keys, key=lambda key: (int(key) if numeric else 0, key))
    return {key: i for i, key in enumerate(ordered)}


def _to_split(rows: list[_Row], label_ids: dict[str, int], path: Path, train: Path) -> TextSplit:
    """A TextSplit from parsed rows; a label the train file never uses raises."""
    numeric = all(_as_int(key) is not None for key in label_ids)
    labels = []
    for row in rows:
        key = _key(row.label, numeric)
        if key not in label_ids:
            raise WorkloadError(
                f"{path}:{row.line}: label {row.label!r} does not occur in the train file {train}"
            )
        labels.append(label_ids[key])
    return TextSplit(tuple(row.sentence for row in rows), tuple(labels))


def _halve(split: TextSplit, seed: int, path: Path) -> tuple[TextSplit, TextSplit]:
    """A seeded shuffle of ``split`` cut into a first half (val) and a second half (test)."""
    if len(split) < 2:
        raise WorkloadError(f"{path}:2: needs at least 2 rows to split into val and test")
    order = np.random.default_rng(seed).permutation(len(split)).tolist()
    cut = (len(split) + 1) // 2
    return _subset(split, order[:cut]), _subset(split, order[cut:])


def _subset(split: TextSplit, indices: list[int]) -> TextSplit:
    return TextSplit(
        tuple(split.sentences[i] for i in indices), tuple(split.labels[i] for i in indices)
    )


def _as_int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def _key(label: str, numeric: bool) -> str:
    """The canonical form of a raw label, so ``1`` and ``01`` match when labels are integers."""
    value = _as_int(label) if numeric else None
    return str(value) if value is not None else label
