"""Decision tables and dose-transition pathways (Yap et al. 2017) on the batch method."""

import matplotlib
import pytest

from dartnk.adaptive import ThreePlusThree
from dartnk.adaptive.pathways import decision_table, dose_transition_pathways

matplotlib.use("Agg")

LABELS = ("DL-1", "DL1", "DL2", "DL3", "DL4")


@pytest.fixture()
def design():
    return ThreePlusThree(5, start=1, labels=LABELS)


@pytest.mark.parametrize(
    ("n", "dlt", "decision"),
    [
        (3, 0, "escalate to DL2"),
        (3, 1, "stay at DL1"),
        (3, 2, "de-escalate to DL-1"),
        (3, 3, "de-escalate to DL-1"),
        (6, 0, "escalate to DL2"),
        (6, 1, "escalate to DL2"),
        (6, 2, "de-escalate to DL-1"),
        (6, 6, "de-escalate to DL-1"),
    ],
)
def test_three_plus_three_decision_table(design, n, dlt, decision):
    table = decision_table(design, max_n=6)
    row = table[(table.n == n) & (table.dlt == dlt)]
    assert row["decision"].item() == decision


def test_decision_table_covers_every_n_and_dlt(design):
    table = decision_table(design, max_n=6)
    assert len(table) == sum(n + 1 for n in range(1, 7))


def test_pathways_from_an_empty_arm_enumerate_every_outcome(design):
    pathways = dose_transition_pathways(design, cohorts=2)
    nodes = pathways.summary()
    assert (nodes.cohort == 1).sum() == 4
    assert (nodes.cohort == 2).sum() == 16
    assert len(pathways.leaves()) == 16
    first = nodes[nodes.cohort == 1].set_index("dlt")["decision"]
    table = decision_table(design, max_n=3).query("n == 3").set_index("dlt")["decision"]
    for k in range(4):
        assert first[f"{k}/3"] == table[k]


def test_branches_end_where_the_design_stops(design):
    pathways = dose_transition_pathways(design, [1, 1, 1, 2, 2, 2], [0, 0, 0, 1, 1, 0], cohorts=2)
    nodes = pathways.summary()
    stopped = nodes[nodes.stop]
    assert list(stopped["mtd"].fillna("none")) == ["DL1", "DL1"] + ["none"] * 4
    assert not (nodes["parent"].isin(stopped["node"])).any()


def test_an_incomplete_cohort_is_completed_first(design):
    pathways = dose_transition_pathways(design, [1, 1, 1, 2, 2, 2, 2], [0, 0, 0, 0, 1, 0, 0])
    first = pathways.summary().query("cohort == 1")
    assert list(first["dlt"]) == ["0/2", "1/2", "2/2"]
    assert list(first["decision"]) == [
        "escalate to DL3",
        "de-escalate to DL1",
        "de-escalate to DL1",
    ]


def test_pathways_plot(design):
    figure = dose_transition_pathways(design, cohorts=2).plot()
    labels = [t for t in figure.axes[0].texts if t.get_gid() == "node label"]
    assert len(labels) == 21
    assert labels[0].get_text() == "now: start at DL1"


def test_decision_table_figure_has_one_cell_per_row(design):
    from dartnk.adaptive.pathways import plot_decision_table

    table = decision_table(design, max_n=6)
    ax = plot_decision_table(table, title="3+3").axes[0]
    assert len(ax.patches) == len(table)
    assert sorted({t.get_text() for t in ax.texts}) == ["D", "E", "S"]


def test_cli_decision_table():
    from typer.testing import CliRunner

    from dartnk.analyses.cli import app

    result = CliRunner().invoke(app, ["decision-table", "--design", "3+3", "--max-n", "6"])
    assert result.exit_code == 0, result.output
    assert "escalate to DL2" in result.output
    bad = CliRunner().invoke(app, ["decision-table", "--dose", "DL9"])
    assert bad.exit_code == 2
    assert "dose level 'DL9'" in bad.output


def test_decision_table_stops_at_the_designs_limit_per_dose(design):
    table = decision_table(design)
    assert table["n"].max() == 6
    assert len(table) == sum(n + 1 for n in range(1, 7))
    with pytest.raises(ValueError, match="limit of 6 patients"):
        decision_table(design, max_n=9)


def test_cli_decision_table_of_the_3_3_by_default_and_beyond_its_limit():
    from typer.testing import CliRunner

    from dartnk.analyses.cli import app

    result = CliRunner().invoke(app, ["decision-table", "--design", "3+3"])
    assert result.exit_code == 0, result.output
    assert "de-escalate to DL-1" in result.output
    over = CliRunner().invoke(app, ["decision-table", "--design", "3+3", "--max-n", "9"])
    assert over.exit_code == 2
    assert "3+3 treats at most 6 patients at a dose" in over.output
    assert "Traceback" not in over.output
