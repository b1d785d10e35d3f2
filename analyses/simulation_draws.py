"""Posterior draws for the simulated interim: Beta draws by the inverse CDF read from quantile
tables, normal draws by the Box-Muller transform, both from single-precision uniforms.

A Beta(a, b) draw is Q(U) for U uniform on (0, 1), Q the Beta quantile function (inversion,
Devroye 1986, section II.2). Q is tabulated once per distinct (a, b) as a function of the
logit of U, q(t) = Q(expit t), at 1025 equally spaced t in [-12, 12], and read by linear
interpolation in t at t = logit U. On this scale both tails of q approach their limits
exponentially (Q(u) ~ c u^(1/a) = c e^(t/a) as u -> 0, and likewise at 1), so the
interpolation is uniformly accurate: at most 2e-5 in absolute value for a and b in
[0.5, 60], the range of the simulation's posteriors (a test checks this against SciPy's
``betaincinv``). The draws beyond |t| = 12 (probability 1.2e-5) are computed exactly with
``betaincinv``.

Draws are in single precision, one uniform per draw, so a trial's draws take one call of
the generator per component whatever the posteriors. The tables are kept for the life of
the process (a few hundred distinct posteriors in a run: integer counts on fixed priors).

A pair of standard normal draws is (R cos 2 pi V, R sin 2 pi V) with R = sqrt(-2 log(1 - U))
for independent uniforms U and V (Box and Muller 1958); on the grid of 2^-24, R is at most
5.77 (a tail of probability 8e-9 is cut).

References
----------
Box GEP, Muller ME (1958). A note on the generation of random normal deviates. Annals of
Mathematical Statistics 29:610-611.

Devroye L (1986). Non-Uniform Random Variate Generation. Springer, New York.
"""

from __future__ import annotations

import numpy as np
from scipy import special

__all__ = [
    "LOGIT_LIMIT",
    "TABLE_CELLS",
    "beta_draws",
    "beta_quantile_table",
    "normal_draws",
    "uniforms",
]

TABLE_CELLS = 1024
LOGIT_LIMIT = 12.0
_NODES = np.linspace(-LOGIT_LIMIT, LOGIT_LIMIT, TABLE_CELLS + 1)
_TABLES: dict[tuple[float, float], np.ndarray] = {}
_BLOCK = 1 << 15
_TOP = np.nextafter(np.float32(TABLE_CELLS), np.float32(0))
_UNIT = np.float32(2.0**-24)
_PIECE = 1 << 16


def _flat_float32(out: np.ndarray) -> np.ndarray:
    """A flat view of ``out``, which must be a C-contiguous float32 array."""
    if out.dtype != np.float32 or not out.flags.c_contiguous:
        raise ValueError(f"out must be a C-contiguous float32 array, got {out.dtype}")
    return out.reshape(-1)


def uniforms(
    rng: np.random.Generator,
    shape: tuple[int, ...] | None = None,
    *,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Single-precision uniforms on [0, 1) on the grid of 2^-24, in C order, into ``out``
    (C-contiguous float32) or a new array of ``shape``.

    Each 64-bit output of the generator's bit generator gives two, its low 32 bits first:
    u = floor(w / 2^8) 2^-24 for each 32-bit half w. These are the values (and the state
    after an even count) of ``rng.random(shape, dtype=np.float32)``, taken from the raw
    outputs piece by piece (pieces of an even size, small enough to stay in cache), at
    about two thirds of the cost.
    """
    if out is None:
        out = np.empty(shape, dtype=np.float32)
    flat = _flat_float32(out)
    for start in range(0, flat.size, _PIECE):
        piece = flat[start : start + _PIECE]
        size = piece.size
        raw = rng.bit_generator.random_raw((size + 1) // 2)
        halves = raw.astype("<u8", copy=False).view("<u4")[:size]
        np.multiply(np.right_shift(halves, 8), _UNIT, out=piece, casting="unsafe")
    return out


def normal_draws(rng: np.random.Generator, *, out: np.ndarray) -> np.ndarray:
    """Standard normal draws into ``out`` (C-contiguous float32), by the Box-Muller
    transform (see the module docstring), piece by piece in C order: in each piece of up to
    2^16 entries, the first half are the cosine parts and the second half the sine parts of
    the piece's uniform pairs (the U of every pair drawn before the V)."""
    flat = _flat_float32(out)
    for start in range(0, flat.size, _PIECE):
        piece = flat[start : start + _PIECE]
        half = (piece.size + 1) // 2
        u = uniforms(rng, (2, half))
        radius = np.log1p(np.negative(u[0], out=u[0]), out=u[0])
        radius *= np.float32(-2.0)
        np.sqrt(radius, out=radius)
        angle = u[1]
        angle *= np.float32(2.0 * np.pi)
        np.multiply(radius, np.cos(angle), out=piece[:half])
        np.sin(angle, out=angle)
        angle *= radius
        piece[half:] = angle[: piece.size - half]
    return out


def beta_quantile_table(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Q(expit t) of Beta(a_i, b_i) at the table's nodes, shape (pairs, cells + 1), single
    precision; from the process's cache when made before."""
    a = np.asarray(a, dtype=float).ravel()
    b = np.asarray(b, dtype=float).ravel()
    keys = list(zip(a.tolist(), b.tolist(), strict=True))
    new = [i for i, key in enumerate(keys) if key not in _TABLES]
    if new:
        u = special.expit(_NODES)
        rows = special.betaincinv(a[new, None], b[new, None], u)
        for i, row in zip(new, rows.astype(np.float32), strict=True):
            _TABLES[keys[i]] = row
    return np.stack([_TABLES[key] for key in keys]) if keys else np.empty((0, _NODES.size))


def beta_draws(
    rng: np.random.Generator,
    a: np.ndarray,
    b: np.ndarray,
    draws: int,
    *,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """``draws`` Beta(a_i, b_i) draws per entry of ``a`` and ``b`` (one shape), shape
    (*a.shape, draws), single precision, by the inverse CDF (see the module docstring).

    The generator gives one single-precision uniform per draw, in row order; the work is
    done in blocks of rows with buffers reused from block to block. ``out`` (C-contiguous
    float32 of the result's shape) receives the draws when given.
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    shape = a.shape
    flat_a, flat_b = a.ravel(), b.ravel()
    if out is None:
        out = np.empty((*shape, draws), dtype=np.float32)
    if out.shape != (*shape, draws) or out.dtype != np.float32 or not out.flags.c_contiguous:
        raise ValueError(
            f"out must be a C-contiguous float32 array of shape {(*shape, draws)}, got "
            f"{out.dtype} {out.shape}"
        )
    rows_out = out.reshape(flat_a.size, draws)
    if flat_a.size == 0:
        return out
    pair = np.empty(flat_a.size, dtype=complex)
    pair.real, pair.imag = flat_a, flat_b
    pairs, inverse = np.unique(pair, return_inverse=True)
    table = beta_quantile_table(pairs.real, pairs.imag).ravel()
    offset = inverse.reshape(-1) * (TABLE_CELLS + 1)
    rows = max(1, _BLOCK // max(draws, 1))
    width = min(rows, flat_a.size)
    u = np.empty((width, draws), dtype=np.float32)
    t = np.empty_like(u)
    position = np.empty_like(u)
    low = np.empty_like(u)
    cell = np.empty(u.shape, dtype=np.intp)
    scale = np.float32(TABLE_CELLS / (2 * LOGIT_LIMIT))
    shift = np.float32(TABLE_CELLS / 2)
    for start in range(0, flat_a.size, rows):
        stop = min(start + rows, flat_a.size)
        n = stop - start
        uu, tt, pp, lo, cc = u[:n], t[:n], position[:n], low[:n], cell[:n]
        uniforms(rng, out=uu)
        np.subtract(np.float32(1.0), uu, out=tt)
        with np.errstate(divide="ignore"):
            np.divide(uu, tt, out=tt)
            np.log(tt, out=tt)
        np.multiply(tt, scale, out=pp)
        pp += shift
        np.clip(pp, 0, _TOP, out=pp)
        cc[...] = pp
        pp -= cc
        cc += offset[start:stop, None]
        np.take(table, cc, out=lo)
        cc += 1
        target = rows_out[start:stop]
        np.take(table, cc, out=target)
        target -= lo
        target *= pp
        target += lo
        outside = np.abs(tt, out=pp) >= LOGIT_LIMIT
        if outside.any():
            row = np.nonzero(outside)[0] + start
            exact = special.betaincinv(flat_a[row], flat_b[row], uu[outside].astype(float))
            target[outside] = exact
    return out
