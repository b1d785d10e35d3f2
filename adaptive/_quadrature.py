"""Fixed quadrature grids: the exact engine of the model-based designs (CRM, BLRM).

A dose-toxicity model gives the DLT rate at dose d as p_d(theta) for a parameter theta with
a normal prior. On a fixed grid of nodes theta_g with quadrature weights c_g, the posterior
of trial t is the vector of weights

    log w_t(g) = log(c_g pi(theta_g))
                 + sum_d [y_td log p_d(theta_g) + (n_td - y_td) log(1 - p_d(theta_g))]
                 + sum_k log(1 - u_tk p_{l_tk}(theta_g)),

where the last sum runs over patients still inside the DLT window without a DLT, with TITE
weight u = min(1, follow-up / window) (Cheung and Chappell 2000). The count part is linear
in the counts, so for a batch it is one matrix product (trials x (2 doses + 1)) @
((2 doses + 1) x nodes), the last row carrying the log prior; posterior expectations
sum_g w_t(g) f(theta_g) / sum_g w_t(g) are another matrix product.

Rows are shifted by their maximum before exponentiation, and a log weight below -40
(float32) or -300 (float64) is raised to that floor: the change in any expectation is
below nodes x e^-40, far under the working precision, and subnormal numbers, which the
processor handles a hundred times slower than normal ones, never reach ``exp`` or the
matrix products (functionals below e^-40 are set to zero for the same reason).

Grids are composite Gauss-Legendre rules. Panels are narrow where a posterior could be
narrow and wide where it cannot (:func:`panel_edges`); a probability P(theta < c) is an
integral with a cut inside a panel, which :func:`tail_weights` integrates with the panel's
interpolating polynomial, so that interval probabilities keep the order of the rule.

The grids of each design are measured against adaptive integration (``scipy.integrate``)
in the tests.

References
----------
Cheung YK, Chappell R (2000). Sequential designs for phase I clinical trials with
late-onset toxicities. Biometrics 56:1177-1182.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from ._base import BatchDecision
from ._state import EscalationState, PendingBatch

__all__ = [
    "BatchInputs",
    "GridPosterior",
    "ModelBatchDecision",
    "check_options",
    "frozen_array",
    "gauss_legendre",
    "panel_edges",
    "read_batch",
    "tail_weights",
]

_CHUNK_CELLS = 1 << 18
_FACTORS_PER_LOG = 4
_RESOLUTION_POINTS = 4001
_LOG_FLOOR = {np.dtype(np.float32): -40.0, np.dtype(np.float64): -300.0}


def panel_edges(
    lower: float,
    upper: float,
    scale: Callable[[np.ndarray], np.ndarray],
    *,
    kappa: float,
    breaks: Sequence[float] = (),
) -> np.ndarray:
    """Panel edges on [lower, upper]: each panel spans at most ``kappa`` local scales.

    The edges are equally spaced in u(x) = integral of 1 / (kappa scale(x)) dx, so a panel
    is about ``kappa * scale(x)`` wide at x, where ``scale(x)`` is the smallest posterior
    standard deviation the design's data could give near x. Every point of ``breaks``
    inside (lower, upper) is an edge, so an integral cut there is integrated without
    interpolation.
    """
    fine = np.linspace(lower, upper, _RESOLUTION_POINTS)
    density = 1.0 / (kappa * np.asarray(scale(fine), dtype=float))
    cumulative = np.concatenate(
        [[0.0], np.cumsum(0.5 * (density[1:] + density[:-1]) * np.diff(fine))]
    )
    cuts = np.unique(np.clip([lower, upper, *breaks], lower, upper))
    pieces = []
    for left, right in pairwise(cuts):
        u_left, u_right = np.interp([left, right], fine, cumulative)
        panels = max(1, int(np.ceil(u_right - u_left - 1e-9)))
        pieces.append(np.interp(np.linspace(u_left, u_right, panels + 1), cumulative, fine))
    edges = np.unique(np.concatenate(pieces))
    edges[0], edges[-1] = lower, upper
    return edges


def gauss_legendre(edges: np.ndarray, points: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of the composite Gauss-Legendre rule with ``points`` per panel."""
    t, w = np.polynomial.legendre.leggauss(points)
    centre = 0.5 * (edges[1:] + edges[:-1])
    half = 0.5 * (edges[1:] - edges[:-1])
    return (centre[:, None] + half[:, None] * t).ravel(), (half[:, None] * w).ravel()


def tail_weights(edges: np.ndarray, points: int, cuts: np.ndarray) -> np.ndarray:
    """Quadrature weights for the integral from each cut to the last edge.

    Panels above the cut keep their Gauss-Legendre weights; the panel holding the cut gets
    the integrals over [cut, panel end] of its Lagrange basis polynomials, so the rule
    stays exact for polynomials of degree < ``points`` on every panel. Cuts outside the
    edges give all or nothing.

    Returns
    -------
    ndarray, shape (len(cuts), panels * points)
    """
    cuts = np.asarray(cuts, dtype=float)
    t, w = np.polynomial.legendre.leggauss(points)
    basis = np.linalg.inv(np.vander(t, points, increasing=True))
    antiderivative = basis / np.arange(1, points + 1)[:, None]
    centre = 0.5 * (edges[1:] + edges[:-1])
    half = 0.5 * (edges[1:] - edges[:-1])
    n_panels = centre.size
    panel = np.clip(np.searchsorted(edges, cuts, side="right") - 1, 0, n_panels - 1)
    tau = np.clip((cuts - centre[panel]) / half[panel], -1.0, 1.0)
    powers = tau[:, None] ** np.arange(1, points + 1)
    partial = half[panel, None] * ((1.0 - powers) @ antiderivative)
    full = half[:, None] * w
    above = np.arange(n_panels)[None, :] > panel[:, None]
    weights = np.where(above[:, :, None], full[None, :, :], 0.0)
    weights[np.arange(cuts.size), panel] = partial
    weights[cuts <= edges[0]] = full
    weights[cuts >= edges[-1]] = 0.0
    return weights.reshape(cuts.size, n_panels * points)


@dataclass(frozen=True, eq=False)
class GridPosterior:
    """A posterior on fixed nodes, for batches of trials.

    The arrays' floating type is the engine's working precision (float64 for the CRM,
    whose grid is held to 1e-6; float32 halves the work of the BLRM, held to 1e-3).

    Attributes
    ----------
    log_prior : ndarray, shape (nodes,)
        log(quadrature weight x prior density) at each node.
    log_p, log_q : ndarray, shape (nodes, doses)
        log p_d and log(1 - p_d) at each node, both finite.
    q : ndarray, shape (nodes, doses)
        1 - p_d, accurate where p_d is close to 1.
    """

    log_prior: np.ndarray
    log_p: np.ndarray
    log_q: np.ndarray
    q: np.ndarray

    def __post_init__(self) -> None:
        count_matrix = np.concatenate(
            [self.log_p, self.log_q, self.log_prior[:, None]], axis=1
        ).T.copy()
        count_matrix.flags.writeable = False
        object.__setattr__(self, "_count_matrix", count_matrix)
        object.__setattr__(self, "_q_by_dose", np.ascontiguousarray(self.q.T))

    @property
    def nodes(self) -> int:
        return int(self.log_prior.size)

    @property
    def dtype(self) -> np.dtype:
        return self.log_prior.dtype

    def weights(
        self, n: np.ndarray, y: np.ndarray, pending: PendingBatch | None = None
    ) -> np.ndarray:
        """Normalised posterior weights (float64), shape (trials, nodes)."""
        log_w = self._shifted(self._log_weights(np.asarray(n), np.asarray(y), pending))
        w = np.exp(log_w).astype(float)
        return w / w.sum(axis=1, keepdims=True)

    def expect(
        self,
        n: np.ndarray,
        y: np.ndarray,
        functionals: np.ndarray,
        pending: PendingBatch | None = None,
    ) -> np.ndarray:
        """Posterior expectations of ``functionals`` (nodes, k) for each trial: (trials, k).

        Identical trial states are evaluated once (exactly: the same rows give the same
        numbers). Trials are processed in chunks that fit in cache. A product of pending
        factors that underflows gives a node weight of zero, which is its value to working
        precision; every grid holds nodes where the DLT rates are small, so no trial loses
        all its nodes.
        """
        n = np.asarray(n, dtype=np.int64)
        y = np.asarray(y, dtype=np.int64)
        key = [n, y]
        if pending is not None:
            weight = np.where(pending.mask, pending.weight, 0.0)
            level = np.where(weight > 0, pending.level, 0)
            pending = PendingBatch(level=level, weight=weight, mask=weight > 0)
            key += [level, weight.view(np.int64)]
        if n.shape[0] == 1:
            unique, inverse = np.zeros(1, dtype=np.int64), np.zeros(1, dtype=np.int64)
        else:
            unique, inverse = _unique_rows(np.concatenate(key, axis=1))
        trials = unique.size
        n, y = n[unique], y[unique]
        if pending is not None:
            pending = _pending_rows(pending, unique)
        augmented = np.concatenate(
            [np.ones((self.nodes, 1)), functionals], axis=1, dtype=self.dtype
        )
        tiny = np.exp(_LOG_FLOOR[self.dtype])
        augmented[np.abs(augmented) < tiny] = 0.0
        out = np.empty((trials, augmented.shape[1]), dtype=self.dtype)
        chunk = max(16, _CHUNK_CELLS // self.nodes)
        for start in range(0, trials, chunk):
            rows = slice(start, min(start + chunk, trials))
            sub = None if pending is None else _pending_rows(pending, rows)
            log_w = self._shifted(self._log_weights(n[rows], y[rows], sub))
            np.exp(log_w, out=log_w)
            np.matmul(log_w, augmented, out=out[rows])
        out = out.astype(float)
        return (out[:, 1:] / out[:, :1])[inverse]

    def _shifted(self, log_w: np.ndarray) -> np.ndarray:
        """Rows shifted to a maximum of 0 and raised to the floor."""
        log_w -= log_w.max(axis=1, keepdims=True)
        return np.maximum(log_w, _LOG_FLOOR[self.dtype], out=log_w)

    def _log_weights(
        self, n: np.ndarray, y: np.ndarray, pending: PendingBatch | None
    ) -> np.ndarray:
        ones = np.ones((y.shape[0], 1), dtype=y.dtype)
        counts = np.concatenate([y, n - y, ones], axis=1).astype(self.dtype)
        log_w = counts @ self._count_matrix
        if pending is None:
            return log_w
        weight = np.where(pending.mask, pending.weight, 0.0).astype(self.dtype)
        level = np.where(weight > 0, pending.level, 0)
        active = np.flatnonzero((weight > 0).any(axis=0))
        product = np.empty_like(log_w)
        factor = np.empty_like(log_w)
        for j, k in enumerate(active):
            u = weight[:, k, None]
            target = product if j % _FACTORS_PER_LOG == 0 else factor
            np.take(self._q_by_dose, level[:, k], axis=0, out=target)
            target *= u
            target += 1 - u
            if target is factor:
                product *= factor
            if j % _FACTORS_PER_LOG == _FACTORS_PER_LOG - 1 or j == active.size - 1:
                with np.errstate(divide="ignore"):
                    log_w += np.log(product, out=product)
        return log_w


def _pending_rows(pending: PendingBatch, rows: np.ndarray | slice) -> PendingBatch:
    return PendingBatch(
        level=pending.level[rows], weight=pending.weight[rows], mask=pending.mask[rows]
    )


def _unique_rows(key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the first of each distinct row, and the map back to every row."""
    key = np.ascontiguousarray(key)
    rows = key.view(np.dtype((np.void, key.dtype.itemsize * key.shape[1]))).ravel()
    _, first, inverse = np.unique(rows, return_index=True, return_inverse=True)
    return first, inverse.ravel()


@dataclass(frozen=True)
class BatchInputs:
    """What the model-based rules read from a state.

    Attributes
    ----------
    n, y : ndarray of int, shape (trials, doses)
        Patients with known outcome and their DLTs.
    current : ndarray of int, shape (trials,)
    pending : PendingBatch or None
        Pending patients with their TITE weights (TITE designs only).
    last_cohort_dlt : ndarray of bool, shape (trials,)
    tried : ndarray of bool, shape (trials, doses)
        Doses given to at least one patient (outcome known or pending).
    highest_tried : ndarray of int, shape (trials,)
        Highest dose tried, -1 when no patient has been treated.
    total : ndarray of int, shape (trials,)
        Patients treated, pending ones included.
    """

    n: np.ndarray
    y: np.ndarray
    current: np.ndarray
    pending: PendingBatch | None
    last_cohort_dlt: np.ndarray
    tried: np.ndarray
    highest_tried: np.ndarray
    total: np.ndarray


def read_batch(state: EscalationState, *, tite: bool) -> BatchInputs:
    """The arrays a model-based rule reads from ``state``; pending patients enter the
    likelihood only for a TITE design (``tite``)."""
    n_doses = state.n_doses
    treated = state.treated
    tried = treated > 0
    highest = np.where(tried.any(axis=1), n_doses - 1 - np.argmax(tried[:, ::-1], axis=1), -1)
    has_pending = tite and state.pending.mask.shape[1] > 0
    return BatchInputs(
        n=state.n,
        y=state.y,
        current=state.current,
        pending=state.pending if has_pending else None,
        last_cohort_dlt=state.last_cohort_dlt,
        tried=tried,
        highest_tried=highest,
        total=treated.sum(axis=1),
    )


@dataclass(frozen=True, eq=False)
class ModelBatchDecision(BatchDecision):
    """Batch decisions of a model-based design: subclasses add per-trial posterior arrays
    (and ``pending``, the pending patients the decision weighed), kept by :meth:`take`."""


def frozen_array(values: np.ndarray | Sequence[float], dtype: type = np.float64) -> np.ndarray:
    """A read-only copy."""
    out = np.array(values, dtype=dtype)
    out.flags.writeable = False
    return out


def check_options(
    n_doses: int, *, window: float | None, start: int, max_n: int | None, cohort_size: int
) -> tuple[float | None, int, int | None, int]:
    """Validate the options every model-based design shares; return them normalised."""
    if window is not None and (not np.isfinite(window) or window <= 0):
        raise ValueError(f"window {window} must be a positive number of days (the DLT window)")
    if int(start) != start or not 0 <= start < n_doses:
        raise ValueError(f"start dose {start} is outside 0..{n_doses - 1} (0-based)")
    if max_n is not None and (int(max_n) != max_n or max_n < 1):
        raise ValueError(f"max_n {max_n} must be a positive whole number of patients")
    if isinstance(cohort_size, bool) or int(cohort_size) != cohort_size or cohort_size < 1:
        raise ValueError(f"cohort_size {cohort_size} must be a positive whole number")
    return (
        None if window is None else float(window),
        int(start),
        None if max_n is None else int(max_n),
        int(cohort_size),
    )
