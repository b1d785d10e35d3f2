"""Model fits side by side in worker processes: the same draws, diagnostics and figures as
one after another here (a worker loads no numba), the fixed assignment of fits to
workers, each worker's compile directory, errors carried back, and a caller's script
without a main guard."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from _mcmc import short_protocol_settings

from dartnk.analyses import _fit_pool, example_data, load_trial
from dartnk.analyses._fit_figures import current_style, draw_figure, fit_figures
from dartnk.analyses._fit_pool import FitTask, assign, run_fits, worker_flags
from dartnk.analyses.protocol import protocol_from_dict

NAMES = ("toxicity", "response", "kinetics", "manufacturing", "pfs", "os")


@pytest.fixture(scope="session")
def trial():
    return load_trial(example_data(), protocol_from_dict(short_protocol_settings()))


SHADED = {"axes.facecolor": "#dddddd"}


def _tasks(trial):
    seeds = np.random.SeedSequence(5).spawn(2)
    return [
        FitTask(
            "manufacturing",
            "fit_manufacturing",
            (trial,),
            seeds[0],
            fit_figures("manufacturing", ewoc=0.25),
            current_style(),
        ),
        FitTask(
            "os",
            "fit_survival",
            (trial, "os"),
            seeds[1],
            fit_figures("os", ewoc=0.25)[:1],
            {**current_style(), **SHADED},
        ),
    ]


def test_fits_in_two_workers_have_the_draws_and_figures_of_fits_made_here(trial):
    tasks = _tasks(trial)
    here = list(run_fits(tasks, workers=1))
    there = list(run_fits(tasks, workers=2))
    assert [outcome.name for outcome in there] == ["manufacturing", "os"]
    for mine, theirs in zip(here, there, strict=True):
        assert mine.name == theirs.name and theirs.seconds > 0
        a, b = mine.fit, theirs.fit
        assert a.seed == b.seed
        for variable in a.idata.posterior.data_vars:
            np.testing.assert_array_equal(
                a.idata.posterior[variable].to_numpy(), b.idata.posterior[variable].to_numpy()
            )
        assert a.passed == b.passed
        pd.testing.assert_frame_equal(a.diagnostics.summary(), b.diagnostics.summary())
        assert mine.figures == {} and mine.figure_seconds == 0.0
        assert theirs.figure_seconds > 0
    manufacturing, survival = here
    drawn = there[0].figures
    assert set(drawn) == {task.id for task in tasks[0].figures}
    for task in tasks[0].figures:
        assert drawn[task.id] == draw_figure(manufacturing.fit, task), task.id
    (task,) = tasks[1].figures
    with matplotlib.rc_context(SHADED):
        assert there[1].figures[task.id] == draw_figure(survival.fit, task)
    assert there[1].figures[task.id] != draw_figure(survival.fit, task)


def test_an_error_in_a_worker_is_raised_here_with_the_worker_traceback(trial):
    tasks = [
        FitTask("manufacturing", "fit_manufacturing", (trial,), 1),
        FitTask("os", "fit_survival", (trial, "no such endpoint"), 2),
    ]
    with pytest.raises(ValueError) as caught:
        list(run_fits(tasks, workers=2))
    notes = "\n".join(getattr(caught.value, "__notes__", []))
    assert "worker process fitting os" in notes
    assert "Traceback" in notes


def test_a_failure_reading_a_worker_is_raised_here_instead_of_waiting(trial, monkeypatch):
    def broken(stream):
        raise OSError("the pipe broke")

    monkeypatch.setattr(_fit_pool, "_read_message", broken)
    with pytest.raises(RuntimeError, match="the pipe broke"):
        list(run_fits(_tasks(trial), workers=2))


def test_assignment_is_fixed_balanced_and_covers_every_fit_once():
    for workers in (2, 3, 6):
        plan = assign(NAMES, workers)
        assert plan == assign(NAMES, workers)
        assert sorted(i for tasks in plan for i in tasks) == list(range(len(NAMES)))
        assert all(tasks == sorted(tasks) for tasks in plan)
    first = {NAMES[i] for i in assign(NAMES, 2)[0]}
    assert ("toxicity" in first) != ("kinetics" in first)


def test_each_worker_compiles_in_a_directory_of_its_own():
    assert worker_flags("floatX=float64,compiledir=/tmp/cache", 1) == (
        "floatX=float64,compiledir=/tmp/cache-worker1"
    )
    assert worker_flags("compiledir_format=mine", 0) == "compiledir_format=mine-worker0"
    default = worker_flags("", 3)
    assert default.startswith("compiledir_format=compiledir_%(short_platform)s")
    assert default.endswith("-worker3")


def test_a_script_without_a_main_guard_runs_fits_in_workers(tmp_path):
    script = tmp_path / "top_level.py"
    script.write_text(
        textwrap.dedent(
            """
            import sys
            sys.path.insert(0, sys.argv[1])
            from _mcmc import short_protocol_settings
            from dartnk.analyses import example_data, load_trial
            from dartnk.analyses._fit_pool import FitTask, run_fits
            from dartnk.analyses.protocol import protocol_from_dict

            trial = load_trial(example_data(), protocol_from_dict(short_protocol_settings()))
            tasks = [
                FitTask("manufacturing", "fit_manufacturing", (trial,), 1),
                FitTask("os", "fit_survival", (trial, "os"), 2),
            ]
            print([outcome.name for outcome in run_fits(tasks, workers=2)])
            """
        )
    )
    done = subprocess.run(
        [sys.executable, str(script), str(Path(__file__).parent)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "['manufacturing', 'os']"


def test_a_bad_worker_count_in_the_environment_exits_2_naming_it(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    from dartnk.analyses.cli import app

    monkeypatch.setenv("DARTNK_WORKERS", "two")
    done = CliRunner().invoke(app, ["demo", "-o", str(tmp_path / "report.html")])
    assert done.exit_code == 2
    assert "DARTNK_WORKERS='two'" in done.output
    assert "whole number >= 1" in done.output
    assert not (tmp_path / "report.html").exists()
