"""Next-dose advice per arm from a data cut, under every design the protocol names."""

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from dartnk.adaptive import BLRM, BOIN, CRM, ThreePlusThree
from dartnk.analyses import InputError, default_protocol, example_data, load_trial
from dartnk.analyses.cli import app
from dartnk.analyses.designs import DESIGN_NAMES, build_design
from dartnk.analyses.recommendation import recommend


@pytest.fixture(scope="session")
def trial():
    return load_trial(example_data())


@pytest.mark.parametrize(
    ("name", "kind", "window"),
    [
        ("3+3", ThreePlusThree, None),
        ("CRM", CRM, None),
        ("TITE-CRM", CRM, 28),
        ("BOIN", BOIN, None),
        ("TITE-BOIN", BOIN, 28),
        ("BLRM", BLRM, None),
        ("TITE-BLRM", BLRM, 28),
    ],
)
def test_designs_take_their_numbers_from_the_protocol(name, kind, window):
    protocol = default_protocol()
    design = build_design(protocol, name)
    assert isinstance(design, kind)
    assert design.labels == protocol.dose_labels
    assert design.start == protocol.start_index
    assert design.window == window


def test_unknown_design_is_an_input_error():
    with pytest.raises(InputError, match="design 'FOO' is not one of"):
        build_design(default_protocol(), "FOO")


def test_every_arm_under_every_design(trial):
    result = recommend(trial)
    summary = result.summary()
    assert len(summary) == 3 * len(DESIGN_NAMES)
    assert list(summary["design"].unique()) == list(DESIGN_NAMES)
    assert set(summary["arm"]) == {"A", "B", "C"}
    for _, row in summary.iterrows():
        assert row["reasons"]
        assert row["wait"] == (row["action"] == "wait")
        if row["stop"] or row["wait"]:
            assert pd.isna(row["next_dose"])


def test_pending_patients_are_counted(trial):
    result = recommend(trial, ["3+3"])
    pending = result.summary().set_index("arm")["pending"]
    by_arm = trial.summary().groupby("construct")["pending"].sum()
    for arm in ("A", "B", "C"):
        assert pending[arm] <= by_arm[arm]
    assert pending.sum() > 0


def test_non_tite_designs_wait_only_when_pending_patients_could_change_the_decision(trial):
    result = recommend(trial, ["3+3", "BOIN", "CRM"])
    for arm, name, decision in result.decisions:
        if decision.wait:
            assert decision.pending_at_dose.sum() > 0, (arm, name)


def test_tite_designs_never_wait_for_pending_patients_below_their_suspension_rule(trial):
    result = recommend(trial, ["TITE-CRM"])
    assert not any(d.wait for _, _, d in result.decisions)


def test_an_arm_without_patients_starts_at_the_start_dose():
    tables = example_data()
    keep = tables["patients"]["construct"] != "C"
    ids = set(tables["patients"].loc[keep, "patient_id"])
    reduced = {name: t[t["patient_id"].isin(ids)] for name, t in tables.items()}
    result = recommend(load_trial(reduced), ["3+3", "BLRM"], arms=["C"])
    for _, _, decision in result.decisions:
        assert decision.next_dose == default_protocol().start_index
        assert np.all(decision.n_at_dose == 0)


def test_unknown_arm(trial):
    with pytest.raises(InputError, match="arm 'Z' is not a construct"):
        recommend(trial, arms=["Z"])


runner = CliRunner()


def test_cli_recommend(tmp_path):
    folder = tmp_path / "cut"
    assert runner.invoke(app, ["example-data", str(folder)]).exit_code == 0
    result = runner.invoke(app, ["recommend", str(folder), "--arm", "B"])
    assert result.exit_code == 0, result.output
    for name in DESIGN_NAMES:
        assert f"{name}: " in result.output
    assert "Arm B (EB-DART-NK02)" in result.output


def test_cli_recommend_bad_design(tmp_path):
    folder = tmp_path / "cut"
    runner.invoke(app, ["example-data", str(folder)])
    result = runner.invoke(app, ["recommend", str(folder), "--design", "FOO"])
    assert result.exit_code == 2
    assert "design 'FOO'" in result.output


@pytest.mark.parametrize("design", ["3+3", "BOIN", "CRM", "BLRM"])
def test_cli_pathways(design):
    result = runner.invoke(app, ["pathways", "--design", design, "--cohorts", "2"])
    assert result.exit_code == 0, result.output
    assert "DL1 0/3 > " in result.output
