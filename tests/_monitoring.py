"""Independent references for the single-arm rules: a vectorised simulation of whole trials
and a comparison of exact operating characteristics with it in standard errors."""

from __future__ import annotations

import numpy as np

from dartnk.adaptive import SingleArmAction


def simulate(rule, p: float, trials: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Simulated trials under true rate p: the number of patients at the end and the action
    that ended each trial (CONTINUE for a trial that ran to n_max without a stop)."""
    rng = np.random.default_rng(seed)
    events = rng.random((trials, rule.n_max)) < p
    cumulative = np.concatenate([np.zeros((trials, 1), int), np.cumsum(events, axis=1)], axis=1)
    end_n = np.full(trials, rule.n_max)
    action = np.zeros(trials, dtype=int)
    active = np.ones(trials, dtype=bool)
    for look in rule.looks:
        index = np.flatnonzero(active)
        codes = rule.decide(np.full(index.size, look), cumulative[index, look])
        stopped = codes != SingleArmAction.CONTINUE
        end_n[index[stopped]] = look
        action[index[stopped]] = codes[stopped]
        active[index[stopped]] = False
    return end_n, action


def within_4_se(exact: float, draws: np.ndarray) -> tuple[bool, str]:
    """Is the simulated mean within 4 standard errors of the exact value?"""
    draws = np.asarray(draws, dtype=float)
    se = max(draws.std(ddof=1), 1.0 / draws.size) / np.sqrt(draws.size)
    mean = draws.mean()
    return abs(mean - exact) <= 4 * se, f"simulated {mean:.5f} vs exact {exact:.5f} (SE {se:.5f})"
