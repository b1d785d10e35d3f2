"""The vectorised single-arm walk: cohorts at the design's own decisions, for many trials.

Each trial starts at the design's start dose and treats one cohort after another at the
dose its design decides (:meth:`~dartnk.adaptive.EscalationDesign.decide`) until the
design stops or the arm reaches its patient limit. Patient slot j of a trial (its j-th
patient) carries one latent uniform u_j; the patient has a DLT when u_j < p_d at the dose d
given, so designs walked on the same uniforms see the same patients (common random
numbers, as escalation's ``simulate_compare`` does).

Decisions are pure functions of the cumulative data, so the walk keeps them in a decision
graph: a node is a state of the arm (patients and DLTs per dose, current dose, a DLT in
the last cohort), decided once by the design in a batch with every other new node; an edge
is a cohort outcome (0 .. cohort size DLTs). A trial is then a pointer into the graph,
moved once per cohort by one gather, and no Python loop runs over trials. The graph of a
design is kept between calls, so later blocks of trials reuse the decisions of earlier
ones; the decisions are the design's own, whatever order the states were met in.

Conventions: 0-based dose indices; NaN for "no MTD".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ._base import EscalationDesign
from ._state import EscalationState

__all__ = ["LIMIT_RULE", "ArmWalk", "patient_limit", "walk_arm", "walk_blocks"]

LIMIT_RULE = ("patient limit", "the arm reached its patient limit without the design stopping")
"""The (rule, message) of a trial ended by the walk's patient limit, not by the design."""

_INITIAL_CAPACITY = 1024
_MAX_NODES = 20_000_000


def patient_limit(design: EscalationDesign) -> int:
    """Most patients an arm of ``design`` can treat: its ``max_n``, or else its largest
    number per dose times the number of doses (the 3+3: 6 per dose).

    Raises
    ------
    ValueError
        When the design has neither (the walk would not end).
    """
    max_n = getattr(design, "max_n", None)
    if max_n is not None:
        return int(max_n)
    if design.max_per_dose is not None:
        return int(design.max_per_dose) * design.n_doses
    raise ValueError(
        f"{design!r} has no max_n and no limit per dose: give it max_n so that a simulated arm ends"
    )


@dataclass(frozen=True, eq=False)
class ArmWalk:
    """Outcomes of a batch of single-arm trials.

    Attributes
    ----------
    n, y : ndarray of int, shape (trials, doses)
        Patients and DLTs per 0-based dose at the end of each trial.
    mtd : ndarray of float, shape (trials,)
        0-based MTD declared at the stop, NaN for none.
    rule : ndarray of int, shape (trials,)
        Index into ``rules`` of the rule that ended the trial.
    rules : tuple of (str, str)
        The design's rules followed by :data:`LIMIT_RULE`.
    """

    n: np.ndarray
    y: np.ndarray
    mtd: np.ndarray
    rule: np.ndarray
    rules: tuple[tuple[str, str], ...]

    def __len__(self) -> int:
        return int(self.mtd.shape[0])

    @property
    def total(self) -> np.ndarray:
        """Patients per trial."""
        return self.n.sum(axis=1)

    def stop_reasons(self) -> pd.Series:
        """Trials ended by each rule, by rule name (rules that ended none left out)."""
        counts = np.bincount(self.rule, minlength=len(self.rules))
        names = [name for name, _ in self.rules]
        series = pd.Series(counts, index=names, name="trials")
        series = series.groupby(level=0, sort=False).sum()
        return series[series > 0]


class _DecisionGraph:
    """States of one design met by walked trials, each decided once.

    Node arrays grow by doubling. ``children[node, k]`` is the node after a cohort with k
    DLTs (-1 until met); a node where the walk ends points to itself.
    """

    def __init__(self, design: EscalationDesign, limit: int) -> None:
        self.design = design
        self.limit = limit
        self.doses = design.n_doses
        self.cohort = int(design.cohort_size)
        self.size = 0
        self._allocate(_INITIAL_CAPACITY)
        self._keys = np.zeros(0, dtype=np.int64)
        self._key_nodes = np.zeros(0, dtype=np.int64)
        self._radix = (limit + 1) * (limit + 2) // 2
        root = self._add(
            np.zeros((1, self.doses), dtype=np.int64),
            np.zeros((1, self.doses), dtype=np.int64),
            np.array([design.start]),
            np.zeros(1, dtype=bool),
        )
        self.root = int(root[0])

    def _allocate(self, capacity: int) -> None:
        old = self.size
        fields = {
            "n": ((capacity, self.doses), np.int16),
            "y": ((capacity, self.doses), np.int16),
            "dose": ((capacity,), np.int64),
            "cohort_size": ((capacity,), np.int64),
            "mtd": ((capacity,), np.float64),
            "rule": ((capacity,), np.int16),
            "children": ((capacity, self.cohort + 1), np.int32),
        }
        for name, (shape, dtype) in fields.items():
            fresh = np.full(shape, -1 if name == "children" else 0, dtype=dtype)
            if old:
                fresh[:old] = getattr(self, name)[:old]
            setattr(self, name, fresh)
        self.capacity = capacity

    def _key(self, n: np.ndarray, y: np.ndarray, current: np.ndarray, flag: np.ndarray):
        pair = n * (n + 1) // 2 + y
        if self._radix**self.doses * self.doses * 2 >= 2**62:
            raise ValueError(
                f"{self.doses} doses with up to {self.limit} patients are too many states to "
                f"index; lower the patient limit"
            )
        key = np.zeros(n.shape[0], dtype=np.int64)
        for d in range(self.doses):
            key = key * self._radix + pair[:, d]
        return (key * self.doses + current) * 2 + flag

    def _add(
        self, n: np.ndarray, y: np.ndarray, current: np.ndarray, flag: np.ndarray
    ) -> np.ndarray:
        """Nodes of these states: existing ones found by key, new ones decided in one batch."""
        keys = self._key(n, y, current, flag)
        unique, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        where = np.searchsorted(self._keys, unique)
        found = where < self._keys.size
        found[found] = self._keys[where[found]] == unique[found]
        nodes = np.empty(unique.size, dtype=np.int64)
        nodes[found] = self._key_nodes[where[found]]
        fresh = np.flatnonzero(~found)
        if fresh.size:
            rows = first[fresh]
            nodes[fresh] = self._decide(n[rows], y[rows], current[rows], flag[rows])
            self._keys = np.concatenate([self._keys, unique[fresh]])
            self._key_nodes = np.concatenate([self._key_nodes, nodes[fresh]])
            order = np.argsort(self._keys, kind="stable")
            self._keys, self._key_nodes = self._keys[order], self._key_nodes[order]
        return nodes[inverse.ravel()]

    def _decide(
        self, n: np.ndarray, y: np.ndarray, current: np.ndarray, flag: np.ndarray
    ) -> np.ndarray:
        count = n.shape[0]
        if self.size + count > self.capacity:
            if self.size + count > _MAX_NODES:
                raise MemoryError(
                    f"the walk of {self.design!r} met more than {_MAX_NODES} distinct states"
                )
            self._allocate(max(2 * self.capacity, self.size + count))
        nodes = np.arange(self.size, self.size + count)
        self.size += count
        decision = self.design.decide(EscalationState.of(n, y, current, last_cohort_dlt=flag))
        total = n.sum(axis=1)
        ended = decision.stop | decision.wait | (total >= self.limit)
        limit_hit = ended & ~decision.stop
        self.n[nodes] = n
        self.y[nodes] = y
        self.dose[nodes] = np.where(ended, 0, np.nan_to_num(decision.next_dose)).astype(np.int64)
        self.cohort_size[nodes] = np.where(ended, 0, np.minimum(self.cohort, self.limit - total))
        self.mtd[nodes] = np.where(decision.stop, decision.mtd, np.nan)
        self.rule[nodes] = np.where(limit_hit, len(self.design.rules), decision.rule)
        self.children[nodes[ended]] = nodes[ended, None]
        return nodes

    def step(self, node: np.ndarray, dlts: np.ndarray) -> np.ndarray:
        """The nodes after a cohort with ``dlts`` DLTs at each node's dose."""
        flat = node * np.int32(self.cohort + 1)
        flat += dlts
        child = self.children.ravel()[flat]
        new = child < 0
        if new.any():
            parents, k = node[new].astype(np.int64), dlts[new].astype(np.int64)
            _, at = np.unique(parents * (self.cohort + 1) + k, return_index=True)
            parent, k = parents[at], k[at]
            dose = self.dose[parent]
            rows = np.arange(parent.size)
            n = self.n[parent].astype(np.int64)
            y = self.y[parent].astype(np.int64)
            n[rows, dose] += self.cohort_size[parent]
            y[rows, dose] += k
            nodes = self._add(n, y, dose, k > 0)
            self.children[parent, k] = nodes
            child = self.children.ravel()[flat]
        return child


_GRAPHS: dict[tuple[EscalationDesign, int], _DecisionGraph] = {}


def _graph(design: EscalationDesign, limit: int) -> _DecisionGraph:
    key = (design, limit)
    graph = _GRAPHS.get(key)
    if graph is None:
        graph = _DecisionGraph(design, limit)
        _GRAPHS[key] = graph
    return graph


def walk_arm(
    design: EscalationDesign,
    true_tox: Sequence[float] | np.ndarray,
    dlt_uniforms: np.ndarray,
) -> ArmWalk:
    """Walk single-arm trials cohort by cohort under ``design``.

    Parameters
    ----------
    design : EscalationDesign
        Any escalation design; its ``start``, ``cohort_size`` and ``decide`` drive the walk.
    true_tox : sequence of float, shape (doses,)
        True DLT probability per 0-based dose.
    dlt_uniforms : ndarray of float, shape (slots, trials)
        One latent uniform per patient slot, slot-major (row j holds the j-th patient of
        every trial, so that a cohort reads contiguous rows): patient j of trial t has a
        DLT when ``dlt_uniforms[j, t] < true_tox[dose]``. ``slots`` must be at least
        :func:`patient_limit` of the design.

    Returns
    -------
    ArmWalk
        Patients and DLTs per dose, the MTD and the rule that ended each trial.

    Notes
    -----
    The last cohort is cut to the patients left under the limit (``max_n`` not a multiple
    of the cohort size). A trial the design does not stop by its limit (a design without a
    stopping rule at ``max_n``) ends with the rule :data:`LIMIT_RULE` and no MTD.

    Examples
    --------
    >>> import numpy as np
    >>> from dartnk.adaptive import BOIN
    >>> design = BOIN(0.3, n_doses=5, max_n=30)
    >>> u = np.random.default_rng(1).random((30, 1000))
    >>> walk = walk_arm(design, [0.05, 0.15, 0.3, 0.45, 0.6], u)
    >>> int(walk.total.max())
    30
    """
    u = np.asarray(dlt_uniforms, dtype=float)
    if u.ndim != 2:
        raise ValueError(f"dlt_uniforms must have shape (slots, trials), got {u.shape}")
    return walk_blocks(design, true_tox, u[None])


def walk_blocks(
    design: EscalationDesign,
    true_tox: Sequence[float] | np.ndarray,
    dlt_uniforms: np.ndarray,
) -> ArmWalk:
    """:func:`walk_arm` on uniforms laid out by block: shape (blocks, slots, trials per
    block), trial t of block b being trial b x (trials per block) + t.

    Each block's (slots, trials) array can then be drawn in place from its own seed.
    """
    p = np.asarray(true_tox, dtype=float)
    if p.shape != (design.n_doses,) or np.any((p < 0) | (p > 1)) or np.any(np.isnan(p)):
        raise ValueError(f"true_tox must hold {design.n_doses} probabilities in [0, 1]")
    limit = patient_limit(design)
    u = np.asarray(dlt_uniforms, dtype=float)
    if u.ndim != 3 or u.shape[1] < limit:
        raise ValueError(
            f"dlt_uniforms must have shape (blocks, >= {limit} slots, trials) for "
            f"{design!r}, got {u.shape}"
        )
    graph = _graph(design, limit)
    shape = (u.shape[0], u.shape[2])
    node = np.full(shape[0] * shape[1], graph.root, dtype=np.int32)
    cohort = graph.cohort
    known = -1
    for start in range(0, limit, cohort):
        if graph.size != known:
            known = graph.size
            threshold_of = p[graph.dose[:known]]
            open_of = graph.cohort_size[:known] > 0
            size_of = graph.cohort_size[:known]
        if not open_of[node].any():
            break
        threshold = threshold_of[node].reshape(shape)
        dlts = (u[:, start] < threshold).view(np.uint8)
        for j in range(1, min(cohort, limit - start)):
            hit = u[:, start + j] < threshold
            if start + cohort > limit:
                hit &= size_of[node].reshape(shape) > j
            dlts = dlts + hit.view(np.uint8)
        node = graph.step(node, dlts.reshape(-1))
    return ArmWalk(
        n=graph.n[node],
        y=graph.y[node],
        mtd=graph.mtd[node],
        rule=graph.rule[node],
        rules=(*design.rules, LIMIT_RULE),
    )
