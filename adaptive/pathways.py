"""Decision tables and dose-transition pathways for any escalation design.

Both are built on the design's own batch method, so what a safety committee reads is the
rule the trial runs. References: Yap C, Billingham LJ, Cheung YK, Craddock C,
O'Quigley J (2017). Dose transition pathways: the missing link between complex
dose-finding designs and simple decision-making. Clinical Cancer Research 23:7440-7447.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._base import EscalationDesign
from ._state import EscalationState

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["Pathways", "decision_table", "dose_transition_pathways", "plot_decision_table"]


def _action(
    current: int,
    next_dose: float,
    stop: bool,
    mtd: float,
    labels: Sequence[str],
    wait: bool = False,
) -> str:
    if wait:
        return "wait for follow-up"
    if stop:
        return "stop, no MTD" if np.isnan(mtd) else f"stop, MTD {labels[int(mtd)]}"
    target = int(next_dose)
    if target > current:
        return f"escalate to {labels[target]}"
    if target < current:
        return f"de-escalate to {labels[target]}"
    return f"stay at {labels[target]}"


def decision_table(
    design: EscalationDesign, *, dose: int | None = None, max_n: int | None = None
) -> pd.DataFrame:
    """The design's decision for every n (1..max_n) and number of DLTs at one dose.

    All patients are at ``dose`` (0-based; default the design's start dose) and no other
    dose has been tried, with complete follow-up. ``max_n`` defaults to 12, or to the
    design's own limit per dose when lower (6 for the 3+3), and may not exceed that
    limit. For the 3+3 only n = 3 and 6 are reachable; other rows show what the rule does
    with an incomplete cohort.

    Returns
    -------
    DataFrame
        Columns ``n``, ``dlt``, ``decision`` (words), ``next_dose`` (label or empty),
        ``stop``, ``mtd`` (label or empty), ``rule``.
    """
    d = getattr(design, "start", 0) if dose is None else int(dose)
    limit = design.max_per_dose
    if max_n is None:
        max_n = 12 if limit is None else min(12, limit)
    if int(max_n) != max_n or max_n < 1:
        raise ValueError(f"max_n {max_n} must be a positive whole number of patients")
    if limit is not None and max_n > limit:
        raise ValueError(f"max_n {max_n} exceeds the design's limit of {limit} patients at a dose")
    if not 0 <= d < design.n_doses:
        raise ValueError(f"dose {d} is outside 0..{design.n_doses - 1} (0-based)")
    ns, ys = zip(*[(n, y) for n in range(1, max_n + 1) for y in range(n + 1)], strict=True)
    n = np.zeros((len(ns), design.n_doses), dtype=np.int64)
    y = np.zeros_like(n)
    n[:, d] = ns
    y[:, d] = ys
    current = np.full(len(ns), d)
    decision = design.decide(EscalationState.of(n, y, current))
    labels = design.labels
    rows = []
    for i in range(len(ns)):
        stop = bool(decision.stop[i])
        rows.append(
            {
                "n": ns[i],
                "dlt": ys[i],
                "decision": _action(d, decision.next_dose[i], stop, decision.mtd[i], labels),
                "next_dose": None if stop else labels[int(decision.next_dose[i])],
                "stop": stop,
                "mtd": None if np.isnan(decision.mtd[i]) else labels[int(decision.mtd[i])],
                "rule": design.rules[int(decision.rule[i])][0],
            }
        )
    return pd.DataFrame(rows)


def plot_decision_table(table: pd.DataFrame, *, title: str | None = None, ax: Any = None) -> Figure:
    """Draw a :func:`decision_table` as a grid: patients (columns) by DLTs (rows), each
    cell coloured and lettered by the action (E escalate, S stay, D de-escalate, X stop),
    the cells whose rule eliminates the dose (BOIN's elimination, the 3+3's too-toxic
    rules) hatched below a thick elimination boundary; on ``ax`` when given. Returns the
    figure."""
    from ._pathway_plots import decision_table_figure

    return decision_table_figure(table, title=title, ax=ax)


@dataclass(frozen=True)
class Pathways:
    """Dose-transition pathways: one row per node of the tree of future cohorts.

    ``nodes`` columns: ``node``, ``parent`` (None for the root), ``cohort`` (0 for the
    current data), ``dose`` (label of the cohort's dose), ``dlt`` (DLTs in that cohort),
    ``path`` (the outcomes so far, e.g. ``DL2 0/3 > DL3 1/3``), ``decision`` (what the
    design does next), ``next_dose`` (label), ``stop``, ``mtd``.
    """

    design: str
    cohort_size: int
    nodes: pd.DataFrame

    def summary(self) -> pd.DataFrame:
        """The node table (the single source of every rendering)."""
        return self.nodes

    def leaves(self) -> pd.DataFrame:
        """One row per complete pathway (nodes with no children)."""
        parents = set(self.nodes["parent"].dropna().astype(int))
        return self.nodes[~self.nodes["node"].isin(parents)].reset_index(drop=True)

    def __repr__(self) -> str:
        table = self.nodes[["cohort", "path", "decision"]]
        return f"Dose-transition pathways of {self.design}\n{table.to_string(index=False)}"

    def _repr_html_(self) -> str:
        import html

        return f"<p>Dose-transition pathways of {html.escape(self.design)}</p>" + self.nodes[
            ["cohort", "path", "decision"]
        ].to_html(index=False)

    def plot(self, *, fontsize: float = 8.0) -> Figure:
        """Draw the tree: the current decision at the left, each later cohort a column, one
        pathway per row, each node's outcome and decision beside it; edges run between
        the columns so that no line crosses a label. Returns the figure."""
        from ._pathway_plots import pathways_figure

        return pathways_figure(self, fontsize=fontsize)


def dose_transition_pathways(
    design: EscalationDesign,
    level: Sequence[int] | np.ndarray = (),
    dlt: Sequence[int] | np.ndarray = (),
    followup: Sequence[float | None] | np.ndarray | None = None,
    *,
    cohorts: int = 2,
    cohort_size: int = 3,
) -> Pathways:
    """Every outcome of the next ``cohorts`` cohorts and the design's decision after each.

    Starts from one trial's patients (``level``, ``dlt`` in enrolment order, 0-based
    doses; ``followup`` the days of follow-up of patients still inside the DLT window, as
    :meth:`~dartnk.adaptive.EscalationDesign.recommend` reads them; empty for a trial not
    yet started, whose first cohort goes to the design's start dose). The root is the
    decision :meth:`~dartnk.adaptive.EscalationDesign.recommend` gives on the same state.
    When patients are pending, the first level of the tree resolves them: one node per
    number of DLTs among the pending patients at each dose, with the design's decision on
    complete data. Each later cohort of ``cohort_size`` patients at the dose the design
    chose has 0..cohort_size DLTs; a branch ends where the design stops. A dose holding an
    incomplete cohort (say 4 patients with cohorts of 3) first receives the patients that
    complete it. All nodes of one level are decided in one batch call.
    """
    if cohorts < 1 or cohort_size < 1:
        raise ValueError("cohorts and cohort_size must be at least 1")
    labels = design.labels
    start = getattr(design, "start", 0)
    frontier: list[tuple[int, np.ndarray, np.ndarray, float, bool, str]] = []
    if len(level):
        state = design._state_of(level, dlt, followup)
        root = design.decide(state)
        cur0 = int(state.current[0])
        next0, stop0, mtd0 = root.next_dose[0], bool(root.stop[0]), root.mtd[0]
        wait0 = bool(root.wait[0])
        words = _action(cur0, next0, stop0, mtd0, labels, wait0)
        rows = [_node_row(0, None, 0, None, None, "now", words, next0, stop0, mtd0, labels)]
        node_id = 1
        if state.any_pending[0]:
            rows_, frontier, node_id = _resolve_pending(design, state, node_id)
            rows += rows_
        else:
            frontier = [(0, state.n[0], state.y[0], next0, stop0 or wait0, "")]
    else:
        next0 = float(start)
        rows = [
            _node_row(
                0,
                None,
                0,
                None,
                None,
                "now",
                f"start at {labels[start]}",
                next0,
                False,
                np.nan,
                labels,
            )
        ]
        zeros = np.zeros(design.n_doses, dtype=np.int64)
        frontier = [(0, zeros, zeros, next0, False, "")]
        node_id = 1
    first_cohort = 1 + int(any(row["cohort"] == 1 for row in rows))
    for cohort in range(first_cohort, first_cohort + cohorts):
        children = []
        for parent, n, y, nxt, stop, path in frontier:
            if stop:
                continue
            d = int(nxt)
            size = cohort_size - int(n[d]) % cohort_size
            for k in range(size + 1):
                cn, cy = n.copy(), y.copy()
                cn[d] += size
                cy[d] += k
                step = f"{labels[d]} {k}/{size}"
                children.append((parent, cn, cy, d, f"{path} > {step}" if path else step, k, size))
        if not children:
            break
        decision = design.decide(
            EscalationState.of(
                np.array([c[1] for c in children]),
                np.array([c[2] for c in children]),
                np.array([c[3] for c in children]),
                last_cohort_dlt=np.array([c[5] > 0 for c in children]),
            )
        )
        frontier = []
        for i, (parent, cn, cy, d, path, k, size) in enumerate(children):
            stop = bool(decision.stop[i])
            words = _action(d, decision.next_dose[i], stop, decision.mtd[i], labels)
            rows.append(
                _node_row(
                    node_id,
                    parent,
                    cohort,
                    labels[d],
                    f"{k}/{size}",
                    path,
                    words,
                    decision.next_dose[i],
                    stop,
                    decision.mtd[i],
                    labels,
                )
            )
            frontier.append((node_id, cn, cy, decision.next_dose[i], stop, path))
            node_id += 1
    return Pathways(design=repr(design), cohort_size=cohort_size, nodes=pd.DataFrame(rows))


def _resolve_pending(
    design: EscalationDesign, state: EscalationState, node_id: int
) -> tuple[list[dict[str, Any]], list[tuple[int, np.ndarray, np.ndarray, float, bool, str]], int]:
    """The tree level that resolves a state's pending patients: one node per distinct
    number of DLTs among them at each dose, decided on complete data."""
    labels = design.labels
    resolved, k = state.outcomes()
    pending_level = state.pending.level[0][state.pending.mask[0]]
    doses = sorted(set(pending_level.tolist()))
    added = resolved.y - state.y
    seen: dict[tuple[int, ...], int] = {}
    for i in range(k):
        key = (*added[i, doses], int(resolved.last_cohort_dlt[i]))
        seen.setdefault(key, i)
    chosen = np.array(sorted(seen.values(), key=lambda i: tuple(added[i, doses])))
    picked = resolved.take(chosen)
    decision = design.decide(picked)
    cur = int(state.current[0])
    rows, frontier = [], []
    for j, i in enumerate(chosen):
        parts = [f"{labels[d]} {int(added[i, d])}/{int((pending_level == d).sum())}" for d in doses]
        step = "pending " + ", ".join(parts)
        stop = bool(decision.stop[j])
        words = _action(cur, decision.next_dose[j], stop, decision.mtd[j], labels)
        rows.append(
            _node_row(
                node_id,
                0,
                1,
                "pending",
                ", ".join(parts),
                step,
                words,
                decision.next_dose[j],
                stop,
                decision.mtd[j],
                labels,
            )
        )
        frontier.append((node_id, picked.n[j], picked.y[j], decision.next_dose[j], stop, step))
        node_id += 1
    return rows, frontier, node_id


def _node_row(
    node: int,
    parent: int | None,
    cohort: int,
    dose: str | None,
    dlt: str | None,
    path: str,
    decision: str,
    next_dose: float,
    stop: bool,
    mtd: float,
    labels: Sequence[str],
) -> dict[str, Any]:
    return {
        "node": node,
        "parent": parent,
        "cohort": cohort,
        "dose": dose,
        "dlt": dlt,
        "path": path,
        "decision": decision,
        "next_dose": None if stop or np.isnan(next_dose) else labels[int(next_dose)],
        "stop": stop,
        "mtd": None if np.isnan(mtd) else labels[int(mtd)],
    }
