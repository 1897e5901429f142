"""Seeded epoch order over a dataset's rows, resumable from a cursor."""

from __future__ import annotations

import random


class Batches:
    """Seeded epoch permutations over `n` rows; `cursor` is saved with checkpoints."""

    def __init__(self, n: int, seed: int, cursor: int = 0) -> None:
        self.n, self.seed, self.cursor = n, seed, cursor
        self._epoch, self._order = -1, list(range(n))

    def next(self, size: int) -> list[int]:
        rows = []
        for _ in range(size):
            epoch, pos = divmod(self.cursor, self.n)
            if epoch != self._epoch:
                self._epoch, self._order = epoch, list(range(self.n))
                random.Random(self.seed * 100_003 + epoch).shuffle(self._order)
            rows.append(self._order[pos])
            self.cursor += 1
        return rows
