"""The data trials train on: a synthetic compositional sentiment task or GLUE-style TSV files.

``load_workload(spec.workload, seed)`` returns a :class:`Workload` with encoded train/val/test
splits, their raw text, the vocabulary (built from train only) and label-preserving synonyms.
"""

from aiperf.workload.dataset import Workload, encode_split, load_workload
from aiperf.workload.splits import EncodedSplit, TextSplit
from aiperf.workload.tsv import WorkloadError
from aiperf.workload.vocab import Vocabulary, tokenize

__all__ = [
    "EncodedSplit",
    "TextSplit",
    "Vocabulary",
    "Workload",
    "WorkloadError",
    "encode_split",
    "load_workload",
    "tokenize",
]
