"""Seeds per fixed block of simulated trials.

Trials are numbered 0, 1, ... and cut into blocks of :data:`BLOCK_TRIALS`; block b draws
every random number of its trials from its own seed, the b-th child of the run's
``numpy.random.SeedSequence`` (built directly, so that any block can be made alone). A
worker or a chunk of any size runs whole blocks, so the numbers of a trial do not depend on
how the run is split across processes, machines or chunks.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

__all__ = ["BLOCK_TRIALS", "Block", "block_seed", "blocks", "chunks"]

BLOCK_TRIALS = 1000
"""Trials per seed block."""


@dataclass(frozen=True)
class Block:
    """Trials ``start`` .. ``stop - 1`` of a run, drawn from seed block ``index``."""

    index: int
    start: int
    stop: int

    @property
    def size(self) -> int:
        return self.stop - self.start


def block_seed(seed: int | np.random.SeedSequence, index: int) -> np.random.SeedSequence:
    """The ``index``-th child of the run's SeedSequence (what ``spawn`` would give),
    without changing a SeedSequence passed in."""
    root = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return np.random.SeedSequence(
        root.entropy, spawn_key=(*root.spawn_key, index), pool_size=root.pool_size
    )


def blocks(n_trials: int) -> list[Block]:
    """The blocks of a run of ``n_trials`` trials (the last one may be short)."""
    if isinstance(n_trials, bool) or int(n_trials) != n_trials or n_trials < 1:
        raise ValueError(f"n_trials {n_trials!r} must be a positive whole number of trials")
    n_trials = int(n_trials)
    return [
        Block(i, start, min(start + BLOCK_TRIALS, n_trials))
        for i, start in enumerate(range(0, n_trials, BLOCK_TRIALS))
    ]


def chunks(all_blocks: list[Block], chunk_trials: int) -> Iterator[list[Block]]:
    """Consecutive blocks grouped into chunks of about ``chunk_trials`` trials (at least one
    block each)."""
    if int(chunk_trials) != chunk_trials or chunk_trials < 1:
        raise ValueError(f"chunk size {chunk_trials!r} must be a positive number of trials")
    per_chunk = max(1, int(chunk_trials) // BLOCK_TRIALS)
    for first in range(0, len(all_blocks), per_chunk):
        yield all_blocks[first : first + per_chunk]
