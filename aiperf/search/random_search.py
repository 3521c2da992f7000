"""Random search: every proposal drawn independently from the space (the baseline searcher)."""

from __future__ import annotations

import random
from typing import Any

from aiperf.search.base import AiperfSearcher
from aiperf.search.space import sample_proposal


class RandomSearcher(AiperfSearcher):
    """Proposal ``i`` depends only on (seed, i), so a resumed search continues identically."""

    def propose(self, index: int) -> dict[str, Any]:
        return sample_proposal(random.Random(f"{self.seed}:{index}"), self.space)
