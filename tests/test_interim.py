"""The interim analysis: candidate doses, component draws, the selection and its report,
byte-for-byte reproducibility, escaping, failed gates withheld, the command line."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from _browser import chromium, open_in_browser
from typer.testing import CliRunner

from dartnk.analyses import default_protocol, example_data, interim, load_trial
from dartnk.analyses.cli import app
from dartnk.analyses.interim_run import file_digests, reproduce_report
from dartnk.analyses.protocol import protocol_from_dict
from dartnk.reports import read_manifest, render_html, render_markdown

HOSTILE = "<script>alert(1)</script>"
runner = CliRunner()


def _protocol(*, draws: int, min_ess: int, max_rhat: float, hostile: bool = True):
    """The embedded protocol with short chains and gates that fit them; construct C's
    product named with markup, to test escaping."""
    data = default_protocol().to_dict()
    data["sampling"].update(
        draws=draws, tune=draws, chains=2, min_ess_bulk=min_ess, max_rhat=max_rhat
    )
    if hostile:
        data["constructs"][2]["product"] = HOSTILE
    return protocol_from_dict(data)


QUICK = _protocol(draws=250, min_ess=50, max_rhat=1.1)
SHORT = _protocol(draws=60, min_ess=10, max_rhat=2.0)
FAILING = _protocol(draws=40, min_ess=100000, max_rhat=1.0001, hostile=False)


@pytest.fixture(scope="session")
def analysis():
    return interim(load_trial(example_data(), QUICK), seed=11, workers=1)


@pytest.fixture(scope="session")
def failing():
    return interim(load_trial(example_data(), FAILING), seed=3, workers=1)


@pytest.fixture(scope="session")
def document(analysis):
    return analysis.document(command=("dartnk", "test"))


@pytest.fixture(scope="session")
def html(document):
    return render_html(document)


# --- the workflow -----------------------------------------------------------------------------


def test_every_model_is_fitted_and_passes_its_gates(analysis):
    assert set(analysis.fits) == {"toxicity", "response", "kinetics", "manufacturing", "pfs", "os"}
    assert analysis.failed_models == ()
    assert not analysis.selection_withheld


def test_candidate_doses_follow_the_stated_rule(analysis):
    protocol = analysis.protocol
    intervals = analysis.fits["toxicity"].interval_probabilities().set_index(["construct", "dose"])
    for candidate in analysis.candidates:
        standard = analysis.recommendation.decision(candidate.construct, "3+3")
        if candidate.source == "3+3 MTD":
            assert candidate.dose == standard.mtd
            continue
        assert candidate.source == "BLRM estimate"
        data = analysis.trial.escalation_data(candidate.construct)
        rows = intervals.loc[candidate.construct].reindex(list(protocol.dose_labels))
        tried = np.bincount(data.level, minlength=5) > 0
        ok = tried & (rows["prob_over"].to_numpy() < protocol.toxicity.ewoc)
        best = np.argmax(np.where(ok, rows["prob_target"].to_numpy(), -1))
        assert candidate.dose == best
        assert candidate.prob_over < protocol.toxicity.ewoc


def test_components_are_the_models_draws_at_the_candidate_dose(analysis):
    protocol = analysis.protocol
    components = analysis.components
    assert set(components.data_vars) == set(protocol.selection.weights)
    n = analysis.fits["toxicity"].posterior.sizes
    assert components.sizes["draw"] == n["chain"] * n["draw"]
    for c, candidate in enumerate(analysis.candidates):
        label = protocol.dose_labels[candidate.dose]
        ptox = analysis.fits["toxicity"].ptox().sel(construct=candidate.construct, dose=label)
        np.testing.assert_array_equal(
            components["safety"].isel(construct=c).to_numpy(), ptox.to_numpy().ravel()
        )
        orr = analysis.fits["response"].orr().sel(construct=candidate.construct)
        assert float(components["efficacy"].isel(construct=c).mean()) == pytest.approx(
            float(orr.mean())
        )


def test_the_selection_uses_the_protocol_numbers(analysis):
    settings = analysis.protocol.selection
    selection = analysis.selection
    assert dict(selection.weights) == dict(settings.weights)
    assert selection.prob_best_threshold == settings.prob_best_threshold
    score = np.zeros(analysis.components.sizes["draw"])
    for name, weight in settings.weights.items():
        worst, best = settings.desirability[name].worst, settings.desirability[name].best
        x = analysis.components[name].isel(construct=0).to_numpy()
        score += weight * np.clip((x - worst) / (best - worst), 0, 1)
    np.testing.assert_allclose(selection.score.isel(construct=0).to_numpy(), score)
    assert analysis.sensitivity.kappa == 50


def test_a_construct_without_data_for_a_model_takes_its_prior_draws_and_is_flagged():
    tables = example_data()
    pk = tables["pk"]
    c_patients = set(tables["patients"].loc[tables["patients"]["construct"] == "C", "patient_id"])
    tables["pk"] = pk[~pk["patient_id"].isin(c_patients)]
    result = interim(load_trial(tables, SHORT), seed=4, workers=1)
    assert ("kinetics", "C") in result.prior_components
    assert any("has no kinetics data" in text for _, text in result.flags)
    prior = result.fits["kinetics"].prior["mean_log10"].sel(endpoint="log10_auc", construct="C")
    drawn = result.components["kinetics"].sel(construct="C").to_numpy()
    assert set(np.unique(drawn)) <= set(np.unique(prior.to_numpy()))


def test_a_fit_failing_its_gates_is_flagged_and_its_decisions_withheld(failing):
    assert set(failing.failed_models) >= {"toxicity", "response", "kinetics", "manufacturing"}
    assert failing.selection_withheld and failing.selected is None
    assert failing.decision.startswith("selection withheld")
    errors = [text for level, text in failing.flags if level == "error"]
    assert any(
        "toxicity model" in text and "failed its diagnostic gates" in text for text in errors
    )
    assert all(c.dose is None or c.source == "3+3 MTD" for c in failing.candidates), (
        "BLRM estimates are withheld"
    )
    text = render_html(failing.document())
    top = text[: text.index('id="decisions"')]
    assert "failed its diagnostic gates" in top and "withheld" in top


# --- the report ---------------------------------------------------------------------------------


def test_the_report_is_decisions_first_and_complete(html):
    order = [m.group(1) for m in re.finditer(r"<!-- dartnk:section ([a-z0-9-]+) -->", html)]
    assert order[0] == "decisions"
    for section in (
        "enrolment",
        "dlt-listing",
        "dose-toxicity-model",
        "construct-selection",
        "response-model",
        "kinetics-model",
        "manufacturing-model",
        "survival",
        "diagnostics",
        "manifest",
    ):
        assert section in order
    assert html.count("<svg") >= 7


def test_user_text_is_escaped(html, document):
    assert HOSTILE not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    markdown = render_markdown(document)
    outside_code = re.sub(r"```.*?```", "", markdown, flags=re.S)
    assert HOSTILE not in outside_code


def test_the_manifest_holds_hashes_protocol_seeds_and_versions(html, analysis):
    manifest = read_manifest(html)
    assert manifest["protocol_hash"] == analysis.protocol.content_hash
    assert manifest["seeds"]["root"] == 11
    for name in ("python", "dartnk", "numpy", "pymc", "pytensor", "arviz", "pandas"):
        assert name in manifest["versions"]
    assert all(re.fullmatch(r"[0-9a-f]{64}", v) for v in manifest["inputs"].values())
    assert manifest["command"] == ["dartnk", "test"]


def test_rendering_twice_gives_identical_bytes(document, html):
    assert render_html(document) == html
    assert render_markdown(document) == render_markdown(document)


@pytest.mark.skipif(chromium() is None, reason="Debian's chromium is not installed")
def test_the_report_in_a_browser(html, tmp_path):
    page = tmp_path / "report.html"
    page.write_text(html, encoding="utf-8")
    run = open_in_browser(page, workdir=tmp_path, screenshot=tmp_path / "report.png")
    assert run.dom.count("<svg") == html.count("<svg")
    assert 'id="decisions"' in run.dom and 'id="manifest"' in run.dom
    assert not [u for u in run.requested_urls if not u.startswith(("file:", "data:"))]
    assert run.screenshot.stat().st_size > 10_000


# --- the command line ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def cut(tmp_path_factory):
    folder = tmp_path_factory.mktemp("interim")
    data = folder / "cut"
    assert runner.invoke(app, ["example-data", str(data)]).exit_code == 0
    protocol = folder / "quick.yaml"
    protocol.write_text(yaml.safe_dump(SHORT.to_dict(), sort_keys=False))
    report = folder / "report.html"
    result = runner.invoke(
        app, ["interim", str(data), "-o", str(report), "--protocol", str(protocol), "--seed", "5"]
    )
    assert result.exit_code == 0, result.output
    return data, report, result


@pytest.mark.slow
def test_interim_command_writes_the_report_and_prints_the_decisions(cut):
    data, report, result = cut
    assert report.is_file()
    assert "Construct selection:" in result.output
    assert f"report: {report}" in result.output
    manifest = read_manifest(report.read_text(encoding="utf-8"))
    assert manifest["inputs"] == file_digests(data)
    assert manifest["command"][:2] == ["dartnk", "interim"]


@pytest.mark.slow
def test_reproduce_matches_the_report_byte_for_byte(cut):
    """A second analysis of the same files and seed, with the protocol read back from the
    manifest (its keys sorted, the file's not), renders the same bytes."""
    _, report, _ = cut
    result = runner.invoke(app, ["reproduce", str(report)])
    assert result.exit_code == 0, result.output
    assert "reproduced byte for byte" in result.output


@pytest.mark.slow
def test_reproduce_names_a_changed_input_file(cut, tmp_path):
    data, report, _ = cut
    changed = tmp_path / "changed"
    changed.mkdir()
    for path in Path(data).iterdir():
        (changed / path.name).write_bytes(path.read_bytes())
    events = changed / "adverse_events.csv"
    events.write_text(events.read_text() + "\n", encoding="utf-8")
    outcome = reproduce_report(report, data=changed, progress=lambda _: None)
    assert not outcome.reproduced
    assert outcome.differences[0].startswith("input adverse_events.csv")
    result = runner.invoke(app, ["reproduce", str(report), "--data", str(changed)])
    assert result.exit_code == 1


@pytest.mark.slow
def test_reproduce_names_the_section_that_differs(cut, tmp_path):
    _, report, _ = cut
    text = report.read_text(encoding="utf-8")
    start = text.index("<!-- dartnk:section enrolment -->")
    tampered = text[:start] + text[start:].replace("<td", '<td data-x="1"', 1)
    copy = tmp_path / "tampered.html"
    copy.write_text(tampered, encoding="utf-8")
    outcome = reproduce_report(copy, data=None, progress=lambda _: None)
    assert not outcome.reproduced
    assert "section enrolment differs" in outcome.differences


def test_reproduce_on_bad_input_exits_2(tmp_path):
    missing = runner.invoke(app, ["reproduce", str(tmp_path / "nothing.html")])
    assert missing.exit_code == 2 and "no such report" in missing.output
    plain = tmp_path / "plain.html"
    plain.write_text("<!DOCTYPE html><html></html>", encoding="utf-8")
    assert runner.invoke(app, ["reproduce", str(plain)]).exit_code == 2


def test_interim_refuses_another_report_format(tmp_path):
    folder = tmp_path / "cut"
    runner.invoke(app, ["example-data", str(folder)])
    result = runner.invoke(app, ["interim", str(folder), "-o", str(tmp_path / "r.pdf")])
    assert result.exit_code == 2 and "must end in .html or .md" in result.output
