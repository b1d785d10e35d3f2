"""The one sampling entry point: seeds, chains, NUTS, prior predictive, diagnostics, provenance.

Every model of :mod:`dartnk.models` is sampled by :func:`sample`. Seeds come from a
:class:`numpy.random.SeedSequence`: one child is the parent of the chains' seeds, which
``pymc.sample`` spawns one per chain (so a chain's draws do not depend on how many chains
run or on which process runs them), one seeds the prior predictive and one any
post-processing draw. The same model, data and seed give identical draws.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pymc as pm
import pytensor

from ._arviz import InferenceData, stamp
from ._diagnostics import Diagnostics, Gates, diagnose
from ._fit import Fit
from ._settings import SamplingSettings

__all__ = ["SeedPlan", "auto_progressbar", "sample", "seed_plan"]

SAMPLER = "pymc NUTS"


@dataclass(frozen=True)
class SeedPlan:
    """Seeds of one fit, all spawned from one :class:`numpy.random.SeedSequence`.

    Attributes
    ----------
    entropy : int or str
        The root seed, recorded in the results (a string when it does not fit in 63 bits
        or is a sequence of words).
    chains : numpy.random.SeedSequence
        Parent of the chains' seeds: chain k samples with child k of it (PyMC spawns
        them), so a chain's draws do not depend on how many chains run or where.
    prior : int
        Seed of the prior and prior predictive draws.
    extra : numpy.random.SeedSequence
        Seed of any draw made after sampling (e.g. EXNEX component labels).
    """

    entropy: int | str
    chains: np.random.SeedSequence
    prior: int
    extra: np.random.SeedSequence

    def chain_generator(self) -> np.random.Generator:
        """A fresh generator on :attr:`chains`, which ``pymc.sample`` spawns per chain."""
        root = self.chains
        return np.random.default_rng(
            np.random.SeedSequence(root.entropy, spawn_key=root.spawn_key, pool_size=root.pool_size)
        )


def seed_plan(seed: int | np.random.SeedSequence | None) -> SeedPlan:
    """Spawn the chains', prior and post-processing seeds from ``seed``.

    ``None`` draws a fresh root seed from the operating system, recorded in the plan.
    """
    if isinstance(seed, np.random.SeedSequence):
        root = seed
    else:
        if seed is None:
            seed = int(np.random.SeedSequence().generate_state(2, np.uint32).view(np.uint64)[0])
            seed %= 2**63
        if isinstance(seed, bool) or int(seed) != seed or seed < 0:
            raise ValueError(f"seed = {seed!r}: expected a whole number >= 0")
        root = np.random.SeedSequence(int(seed))
    chain_root, other_root = np.random.SeedSequence(
        root.entropy, spawn_key=root.spawn_key, pool_size=root.pool_size
    ).spawn(2)
    prior, extra = other_root.spawn(2)
    return SeedPlan(entropy=_label(root), chains=chain_root, prior=_int_seed(prior), extra=extra)


def _label(root: np.random.SeedSequence) -> int | str:
    entropy = root.entropy
    simple = isinstance(entropy, int | np.integer) and 0 <= int(entropy) < 2**63
    label: int | str = int(entropy) if simple else str(entropy)
    if root.spawn_key:
        label = f"{label} spawn_key {tuple(int(k) for k in root.spawn_key)}"
    return label


def _int_seed(sequence: np.random.SeedSequence) -> int:
    return int(sequence.generate_state(1, np.uint32)[0])


def auto_progressbar() -> bool:
    """True in an interactive terminal; False under CI (``CI`` set) and under pytest."""
    if os.environ.get("CI") or "PYTEST_CURRENT_TEST" in os.environ:
        return False
    stream = sys.stderr
    return bool(getattr(stream, "isatty", lambda: False)())


_QUIET_LOGGERS = ("pymc", "pytensor.tensor.blas", "pytensor.link.c.cmodule")


@contextlib.contextmanager
def _quiet(progressbar: bool) -> Iterator[None]:
    """Silence PyMC's progress logs (unless a progress bar is shown) and PyTensor's notice
    that it compiles without an external BLAS, for the duration of a fit."""
    loggers = [logging.getLogger(name) for name in _QUIET_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers[int(progressbar) :]:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*Potential.*prior predictive.*")
            warnings.filterwarnings("ignore", message=".*BLAS.*")
            warnings.filterwarnings("ignore", category=FutureWarning)
            yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def sample(
    model: pm.Model,
    *,
    settings: SamplingSettings | None = None,
    gates: Gates | None = None,
    seed: int | np.random.SeedSequence | None = None,
    progressbar: bool | None = None,
    gated: Sequence[str] | None = None,
    shown: Sequence[str] | None = None,
    name: str = "model",
    protocol_hash: str | None = None,
    prior_predictive: bool = True,
    postprocess: Callable[[InferenceData, np.random.Generator], InferenceData] | None = None,
    attrs: Mapping[str, object] | None = None,
) -> Fit:
    """Sample a PyMC model with NUTS and check the result against diagnostic gates.

    A run with too many divergent transitions is repeated with the higher target
    acceptance rates of ``settings.retry_target_accept`` (same seeds); the diagnostics
    record every earlier attempt.

    Parameters
    ----------
    model : pymc.Model
    settings : SamplingSettings, optional
        Chains, draws, tuning steps, target acceptance, processes, prior draws; defaults
        to 4 chains of 1000 draws after 1000 tuning steps, target acceptance 0.9.
    gates : Gates, optional
        R-hat < 1.01, bulk ESS > 400 and no divergences by default.
    seed : int or numpy.random.SeedSequence, optional
        Root seed; a fresh one (recorded in the results) when None.
    progressbar : bool, optional
        None shows a progress bar in an interactive terminal only, never under CI or
        pytest.
    gated : sequence of str, optional
        Posterior variables the gates apply to (all when None).
    shown : sequence of str, optional
        Variables of the default summary table (the gated ones when None).
    name : str
        Model name, recorded in the results.
    protocol_hash : str, optional
        Content hash of the protocol whose settings were used, recorded in the results.
    prior_predictive : bool, default True
        Also draw from the prior and prior predictive distributions (groups ``prior``
        and ``prior_predictive``).
    postprocess : callable, optional
        ``f(idata, rng) -> idata`` run after sampling and before the diagnostics, with a
        generator seeded from the plan (for quantities derived by simulation).
    attrs : mapping, optional
        More provenance to stamp on every group.

    Returns
    -------
    Fit
        ``idata`` (ArviZ ``InferenceData`` with ``posterior``, ``sample_stats`` and, when
        asked, ``prior`` and ``prior_predictive``, every group stamped with the package
        version, PyMC and PyTensor versions, protocol hash, seed, sampler, target
        acceptance and model name), ``diagnostics`` and
        ``passed``.

    Examples
    --------
    >>> import pymc as pm
    >>> from dartnk.models import SamplingSettings, sample
    >>> with pm.Model() as model:
    ...     mu = pm.Normal("mu", 0.0, 1.0)
    ...     y = pm.Normal("y", mu, 1.0, observed=[0.3, -0.1, 0.8])
    >>> fit = sample(model, settings=SamplingSettings(draws=500, tune=500), seed=1)
    >>> fit.passed
    True
    """
    from dartnk import __version__

    settings = settings or SamplingSettings()
    gates = gates or Gates()
    plan = seed_plan(seed)
    bar = auto_progressbar() if progressbar is None else bool(progressbar)
    ladder = [settings.target_accept]
    ladder += [v for v in settings.retry_target_accept if v > settings.target_accept]
    attempts: list[tuple[float, int]] = []
    with _quiet(bar):
        for target_accept in ladder:
            idata = pm.sample(
                draws=settings.draws,
                tune=settings.tune,
                chains=settings.chains,
                cores=min(settings.cores, settings.chains),
                target_accept=target_accept,
                random_seed=plan.chain_generator(),
                progressbar=bar,
                compute_convergence_checks=False,
                return_inferencedata=True,
                idata_kwargs={"log_likelihood": False},
                model=model,
            )
            divergences = int(idata["sample_stats"]["diverging"].sum())
            if divergences <= gates.max_divergences or target_accept == ladder[-1]:
                break
            attempts.append((target_accept, divergences))
        if prior_predictive:
            prior = pm.sample_prior_predictive(
                draws=settings.prior_draws, model=model, random_seed=plan.prior
            )
            idata.extend(prior)
    if postprocess is not None:
        idata = postprocess(idata, np.random.default_rng(plan.extra))
    stamp(
        idata,
        {
            "dartnk_version": __version__,
            "protocol_hash": protocol_hash if protocol_hash is not None else "none",
            "seed": plan.entropy,
            "sampler": SAMPLER,
            "pymc_version": pm.__version__,
            "pytensor_version": pytensor.__version__,
            "model": name,
            "target_accept": target_accept,
            **dict(attrs or {}),
        },
    )
    diagnostics: Diagnostics = diagnose(idata, gated, gates, attempts=tuple(attempts))
    return Fit(
        idata=idata,
        diagnostics=diagnostics,
        name=name,
        parameters=tuple(shown if shown is not None else (gated or ())),
        seed=plan.entropy,
        protocol_hash=protocol_hash,
    )
