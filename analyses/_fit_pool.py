"""Independent model fits run side by side in worker processes.

The interim's models share no parameter, so they can be sampled at the same time, one
process per core. Each fit keeps its own seed (a child of the analysis seed), so its
draws are the same in a worker as in this process: only the wall time changes.

PyTensor compiles C code under one lock per compile directory, which would make the
workers compile one at a time. Worker k therefore compiles into a directory of its own,
the usual one with ``-worker<k>`` appended, and fits go to workers by a fixed rule
(:func:`assign`), so that a later run of the same analysis finds its compiled modules
again. Each worker also makes a precompiled header for its modules
(:mod:`dartnk.analyses._compile_header`), which cuts the compiler's time per module, and
draws the report figures a task asks for right after its fit
(:mod:`dartnk.analyses._fit_figures`), while the other workers still sample.

A worker is a fresh interpreter (``python -m dartnk.analyses._fit_pool``). It sets its
compile directory in ``PYTENSOR_FLAGS`` before PyTensor loads (PyTensor reads it once),
loads PyMC, then takes its pickled tasks on standard input and writes each result,
length-prefixed, to standard output as soon as it is done. Unlike ``multiprocessing``,
this never re-runs the caller's main script, so a script calling the interim at top level
works unchanged. :func:`prestart` starts workers early, so that their start-up overlaps
with reading and validating the data.
"""

from __future__ import annotations

import atexit
import importlib
import os
import pickle
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, BinaryIO

from ._compile_header import use_precompiled_header
from ._fit_figures import FigureTask, draw_figures

__all__ = [
    "INTERIM_MODELS",
    "FitOutcome",
    "FitTask",
    "assign",
    "default_workers",
    "prestart",
    "run_fits",
    "worker_flags",
]

INTERIM_MODELS: tuple[str, ...] = ("toxicity", "response", "kinetics", "manufacturing", "pfs", "os")
"""The models an interim analysis fits, in the order it reports them."""
_COST = {"kinetics": 47, "toxicity": 45, "response": 19, "os": 13, "pfs": 12, "manufacturing": 7}
"""Relative work of each fit: its seconds with a fresh plus a filled compile directory on
the embedded example (2 cores), its report figures included, so that both kinds of run
are balanced."""
_DEFAULT_FORMAT = (
    "compiledir_%(short_platform)s-%(processor)s-%(python_version)s-%(python_bitwidth)s"
)
_WORKER_ENV = "DARTNK_FIT_WORKER"
_WORKERS_ENV = "DARTNK_WORKERS"


@dataclass(frozen=True)
class FitTask:
    """One model fit: ``dartnk.models.<entry>(*args, seed=seed, progressbar=False)``.

    The entry is named rather than given, so that this process need not load the models
    before the workers start. A worker also draws ``figures`` of the fit as SVG, with the
    matplotlib ``style`` (``rcParams``) given; fits made in this process draw none.
    """

    name: str
    entry: str
    args: tuple[Any, ...]
    seed: Any
    figures: tuple[FigureTask, ...] = ()
    style: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class FitOutcome:
    """One fit done: its ``name``, the ``fit``, the ``seconds`` it took, the SVG text of
    the figures drawn where it was made (by figure id; ``None`` for an optional figure
    the fit has none of) and the seconds they took."""

    name: str
    fit: Any
    seconds: float
    figures: Mapping[str, str | None]
    figure_seconds: float


def default_workers(n_tasks: int) -> int:
    """Processes for ``n_tasks`` fits: the whole number in the environment variable
    ``DARTNK_WORKERS`` when set (1 fits here, one after another), else one per core this
    process may use; never more than one per fit.

    Raises
    ------
    ValueError
        When ``DARTNK_WORKERS`` is not a whole number >= 1.
    """
    setting = os.environ.get(_WORKERS_ENV, "").strip()
    if setting:
        if not setting.isdigit() or int(setting) < 1:
            raise ValueError(f"{_WORKERS_ENV}={setting!r}: expected a whole number >= 1")
        cores = int(setting)
    else:
        try:
            cores = len(os.sched_getaffinity(0))
        except AttributeError:
            cores = os.cpu_count() or 1
    return max(1, min(cores, n_tasks))


def assign(names: Sequence[str], workers: int) -> list[list[int]]:
    """Tasks (indices into ``names``) per worker: longest first, each to the worker with
    the least expected work so far (ties to the lower worker), by fixed relative costs.

    The rule depends only on the names and the number of workers, so the same analysis
    sends each fit to the same worker (and its compile directory) every time.
    """
    load = [0] * workers
    out: list[list[int]] = [[] for _ in range(workers)]
    order = sorted(range(len(names)), key=lambda i: (-_COST.get(names[i], 5), i))
    for i in order:
        k = min(range(workers), key=lambda w: (load[w], w))
        out[k].append(i)
        load[k] += _COST.get(names[i], 5)
    for tasks in out:
        tasks.sort()
    return out


def worker_flags(flags: str, index: int) -> str:
    """``PYTENSOR_FLAGS`` of worker ``index``: ``-worker<index>`` appended to the compile
    directory the flags name (``compiledir``), or else to the name PyTensor forms in its
    base directory (``compiledir_format``, PyTensor's default when not set)."""
    parts = [part for part in flags.split(",") if part.strip()]
    keys = [part.split("=", 1)[0].strip() for part in parts]
    suffix = f"-worker{index}"
    for key in ("compiledir", "compiledir_format"):
        if key in keys:
            k = keys.index(key)
            parts[k] = parts[k].rstrip() + suffix
            return ",".join(parts)
    return ",".join([*parts, f"compiledir_format={_DEFAULT_FORMAT}{suffix}"])


def _fit(task: FitTask) -> tuple[Any, float]:
    entry = getattr(importlib.import_module("dartnk.models"), task.entry)
    started = time.perf_counter()
    fit = entry(*task.args, seed=task.seed, progressbar=False)
    return fit, time.perf_counter() - started


_HEADER = struct.Struct("<Q")


def _send(stream: BinaryIO, message: object) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(_HEADER.pack(len(data)))
    stream.write(data)
    stream.flush()


def _read_message(stream: BinaryIO) -> bytes | None:
    """The next length-prefixed message's pickled bytes; None at the end of the stream."""
    head = stream.read(_HEADER.size)
    if len(head) < _HEADER.size:
        return None
    (size,) = _HEADER.unpack(head)
    data = stream.read(size)
    if len(data) < size:
        return None
    return data


def _receive(stream: BinaryIO) -> Any:
    data = _read_message(stream)
    return None if data is None else pickle.loads(data)


class _Worker:
    """One worker process and, once it has tasks, a thread that collects its results.

    The thread only reads bytes: results are unpickled by the caller of :meth:`result`,
    so that the modules a fit needs (PyMC and the models) are imported in one thread,
    never by two collecting threads at once. When the thread stops early, for whatever
    reason, :meth:`result` raises rather than waits.
    """

    def __init__(self, index: int) -> None:
        self.log = tempfile.TemporaryFile()
        env = dict(os.environ, **{_WORKER_ENV: str(index)})
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "dartnk.analyses._fit_pool"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.log,
            env=env,
        )
        self.indices: list[int] = []
        self.results: dict[int, bytes] = {}
        self.done = threading.Condition()
        self.finished = False
        self.failure: BaseException | None = None
        self.reader: threading.Thread | None = None

    def start(self, tasks: list[tuple[int, FitTask]]) -> None:
        self.indices = [i for i, _ in tasks]
        assert self.process.stdin is not None
        try:
            _send(self.process.stdin, [task for _, task in tasks])
            self.process.stdin.close()
        except BrokenPipeError:
            pass
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        try:
            for index in self.indices:
                message = _read_message(self.process.stdout)
                if message is None:
                    break
                with self.done:
                    self.results[index] = message
                    self.done.notify_all()
        except BaseException as error:
            self.failure = error
        finally:
            with self.done:
                self.finished = True
                self.done.notify_all()

    def result(self, index: int) -> tuple[Any, ...]:
        with self.done:
            while index not in self.results and not self.finished:
                self.done.wait()
            data = self.results.pop(index, None)
        if data is not None:
            return pickle.loads(data)
        if self.failure is not None:
            raise RuntimeError(
                f"reading the results of a model-fitting worker failed: {self.failure!r}"
            ) from self.failure
        self.process.wait()
        self.log.seek(0)
        tail = self.log.read().decode(errors="replace")[-2000:]
        raise RuntimeError(
            f"a model-fitting worker process ended early (exit {self.process.returncode})"
            + (f":\n{tail}" if tail else "")
        )

    def close(self) -> None:
        if self.process.stdin is not None and not self.process.stdin.closed:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.reader is not None:
            self.reader.join()
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.log.close()


_WAITING: list[_Worker] = []


def prestart(workers: int) -> None:
    """Start ``workers`` worker processes now, for the next :func:`run_fits` with as many
    workers to use; nothing when ``workers`` < 2. Workers left unused are stopped when
    this process exits."""
    for index in range(len(_WAITING), int(workers) if workers >= 2 else 0):
        _WAITING.append(_Worker(index))


def _stop_waiting() -> None:
    """Stop the started workers that were given no task (they hold no work: killed)."""
    while _WAITING:
        worker = _WAITING.pop()
        worker.process.kill()
        worker.close()


atexit.register(_stop_waiting)


def _workers(n: int) -> list[_Worker]:
    if len(_WAITING) != n:
        _stop_waiting()
        prestart(n)
    pool = list(_WAITING)
    _WAITING.clear()
    return pool


def run_fits(tasks: Sequence[FitTask], *, workers: int | None = None) -> Iterator[FitOutcome]:
    """Run every fit and yield its :class:`FitOutcome` in the order of ``tasks``.

    Parameters
    ----------
    tasks : sequence of FitTask
    workers : int, optional
        Worker processes; ``None`` takes :func:`default_workers`. With 1 the fits run in
        this process, one after another.

    Raises
    ------
    Exception
        What a fit raised, re-raised here with its worker's traceback as a note.
    """
    n = default_workers(len(tasks)) if workers is None else int(workers)
    if n < 1:
        raise ValueError(f"workers = {workers}: expected a whole number >= 1")
    n = min(n, len(tasks))
    if n <= 1:
        for task in tasks:
            fit, seconds = _fit(task)
            yield FitOutcome(task.name, fit, seconds, {}, 0.0)
        return
    plan = assign([task.name for task in tasks], n)
    owner = {i: k for k, indices in enumerate(plan) for i in indices}
    pool = _workers(n)
    try:
        for worker, indices in zip(pool, plan, strict=True):
            worker.start([(i, tasks[i]) for i in indices])
        for i, task in enumerate(tasks):
            message = pool[owner[i]].result(i)
            if message[0] == "error":
                _, error, trace = message
                error.add_note(f"raised in the worker process fitting {task.name}:\n{trace}")
                raise error
            _, fit, seconds, figures, figure_seconds = message
            yield FitOutcome(task.name, fit, float(seconds), figures, float(figure_seconds))
    finally:
        for worker in pool:
            worker.close()


def _serve() -> None:
    """Worker main: set the compile directory, load PyMC without numba (see below), make
    the precompiled header (:mod:`dartnk.analyses._compile_header`), then fit each task
    read from standard input in order, draw its figures and write each result to standard
    output (printing goes to standard error); then exit at once, without the
    interpreter's teardown, which the caller would otherwise wait for.

    A worker never runs numba code: PyTensor compiles the models to C, and ArviZ, which
    PyMC loads, only uses numba when it can import it, compiling a kernel as it loads
    (about 0.9 s of a worker's start, the workers' start being on the critical path of
    an analysis). Its statistics are computed with NumPy in every process
    (:func:`dartnk.models._arviz.posterior_table`), so they are the same here.
    """
    index = int(os.environ.get(_WORKER_ENV, "0"))
    os.environ["PYTENSOR_FLAGS"] = worker_flags(os.environ.get("PYTENSOR_FLAGS", ""), index)
    channel = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    sys.modules.setdefault("numba", None)
    importlib.import_module("dartnk.models._sampling")
    use_precompiled_header()
    tasks = _receive(sys.stdin.buffer) or []
    for task in tasks:
        try:
            fit, seconds = _fit(task)
            figures, figure_seconds = draw_figures(fit, task.figures, style=task.style)
            _send(channel, ("fit", fit, seconds, figures, figure_seconds))
        except Exception as error:
            _send(channel, ("error", error, traceback.format_exc()))
    channel.close()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    _serve()
