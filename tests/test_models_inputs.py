"""The edge between data cuts and models: models take data and prior objects only, the
adapters of dartnk.analyses.model_inputs build them from the trial and its protocol, the
light model modules import without PyMC, and the former kinetics names still resolve."""

import ast
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from _mcmc import PROTOCOL

from dartnk import models
from dartnk.analyses import (
    TABLES,
    blrm_prior,
    example_data,
    kinetics_prior,
    load_trial,
    manufacturing_prior,
    response_prior,
    sampling_plan,
    survival_prior,
    table_schema,
    toxicity_inputs,
)
from dartnk.analyses.model_inputs import model_inputs
from dartnk.analyses.protocol import protocol_from_dict

MODELS_SOURCE = Path(models.__file__).resolve().parent
# words the models share with the tables: their own dims, variables and option names
SHARED_WORDS = {"construct", "phase", "lots", "released", "response", "tite_weight"}
# attributes of a trial or protocol; none of them is a model's
TRIAL_ATTRIBUTES = {
    "patients",
    "tables",
    "cutoff",
    "priors",
    "sampling",
    "dlt_window",
    "construct_ids",
    "phase1",
    "pk",
    "content_hash",
    "dose_index",
}
TRIAL_NAMES = {"protocol", "trial", "protocol_of", "is_trial"}


@pytest.fixture(scope="session")
def trial():
    return load_trial(example_data())


def _column_names(trial) -> set[str]:
    names = set(trial.patients.columns)
    for table in TABLES:
        names |= set(table_schema(table).columns)
    return names - SHARED_WORDS


def _findings(path: Path, columns: set[str]) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        where = f"{path.name}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if node.value in columns:
                found.append(f"{where} column {node.value!r}")
        elif isinstance(node, ast.Attribute) and node.attr in TRIAL_ATTRIBUTES:
            found.append(f"{where} attribute .{node.attr}")
        elif isinstance(node, ast.Name) and node.id in TRIAL_NAMES:
            found.append(f"{where} name {node.id}")
        elif isinstance(node, ast.arg) and node.arg in TRIAL_NAMES:
            found.append(f"{where} argument {node.arg}")
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            if "analyses" in module:
                found.append(f"{where} import from {module}")
    return found


@pytest.mark.parametrize("path", sorted(MODELS_SOURCE.glob("*.py")), ids=lambda p: p.name)
def test_models_never_read_a_table_column_or_the_protocol(path, trial):
    assert _findings(path, _column_names(trial)) == []


def test_the_law_finds_what_it_forbids(tmp_path, trial):
    source = tmp_path / "bad.py"
    source.write_text(
        textwrap.dedent(
            """
            from dartnk.analyses import load_trial
            def f(protocol, data):
                return data.patients["dlt_status"], protocol.priors.blrm_mean
            """
        ),
        encoding="utf-8",
    )
    found = " ".join(_findings(source, _column_names(trial)))
    for word in ("dartnk.analyses", "argument protocol", ".patients", "'dlt_status'", ".priors"):
        assert word in found


def test_priors_data_inputs_and_the_tite_weight_import_without_pymc():
    code = textwrap.dedent(
        """
        import sys
        import dartnk.models as m
        names = ("BLRMPrior", "tite_weight", "ToxicityInputs", "DLTData", "SamplingPlan",
                 "KineticsPrior", "BetaPrior", "SurvivalData", "ModelInputSource", "Gates")
        for name in names:
            getattr(m, name)
        from dartnk.analyses import example_data, load_trial
        inputs = load_trial(example_data()).model_inputs("toxicity")
        assert isinstance(inputs, m.ToxicityInputs)
        heavy = sorted(k for k in ("pymc", "pytensor", "arviz") if k in sys.modules)
        print(",".join(heavy) or "none")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.strip() == "none"


# --- the priors come from the protocol, with no second copy of its numbers -------------------


def _protocol_with(**priors):
    data = PROTOCOL.model_dump(mode="json")
    data["priors"] |= priors
    return protocol_from_dict(data)


OTHER = _protocol_with(
    blrm_mean=[-1.2, 0.3],
    blrm_sd=[1.5, 0.8],
    blrm_corr=-0.2,
    exnex_tau_scale=[0.4, 0.2],
    exnex_weight=0.6,
    response_logit_mean=-1.0,
    response_logit_sd=1.2,
    response_tau_scale=0.7,
    response_dose_slope_sd=0.5,
    kinetics_mean=[2.5, 4.0],
    kinetics_sd=[1.0, 1.2],
    kinetics_slope_sd=0.8,
    kinetics_tau_scale=0.3,
    kinetics_sigma_scale=0.9,
    manufacturing_beta=[2.0, 0.5],
    survival_log_scale=[5.0, 1.0],
    survival_log_shape=[0.1, 0.4],
)


@pytest.mark.parametrize("protocol", [PROTOCOL, OTHER], ids=["embedded", "other"])
@pytest.mark.parametrize(
    ("adapter", "fields"),
    [
        (
            blrm_prior,
            {
                "mean": "blrm_mean",
                "sd": "blrm_sd",
                "corr": "blrm_corr",
                "tau_scale": "exnex_tau_scale",
                "weight": "exnex_weight",
            },
        ),
        (
            response_prior,
            {
                "logit_mean": "response_logit_mean",
                "logit_sd": "response_logit_sd",
                "tau_scale": "response_tau_scale",
                "dose_slope_sd": "response_dose_slope_sd",
            },
        ),
        (
            kinetics_prior,
            {
                "mean": "kinetics_mean",
                "sd": "kinetics_sd",
                "slope_sd": "kinetics_slope_sd",
                "tau_scale": "kinetics_tau_scale",
                "sigma_scale": "kinetics_sigma_scale",
            },
        ),
        (survival_prior, {"log_scale": "survival_log_scale", "log_shape": "survival_log_shape"}),
        (manufacturing_prior, {"pair": "manufacturing_beta"}),
    ],
    ids=["blrm", "response", "kinetics", "survival", "manufacturing"],
)
def test_each_prior_is_the_protocols(protocol, adapter, fields):
    prior = adapter(protocol)
    for field, key in fields.items():
        expected = getattr(protocol.priors, key)
        value = getattr(prior, field)
        assert np.allclose(value, expected), (field, value, expected)


def test_a_single_arm_blrm_prior_needs_mean_and_sd_only():
    prior = models.BLRMPrior(mean=(-0.85, 0.0), sd=(2.0, 1.0), corr=0.5)
    np.testing.assert_allclose(prior.covariance, [[4.0, 1.0], [1.0, 1.0]])
    prior.require("single arm")
    with pytest.raises(TypeError):
        models.BLRMPrior(mean=(-0.85, 0.0))
    with pytest.raises(ValueError, match="exnex BLRM needs prior tau_scale and weight"):
        prior.require("exnex")
    with pytest.raises(ValueError, match="exchangeable BLRM needs prior tau_scale"):
        prior.require("exchangeable")
    with pytest.raises(ValueError, match=r"correlation 1\.0"):
        models.BLRMPrior(mean=(0.0, 0.0), sd=(1.0, 1.0), corr=1.0)


def test_a_fit_without_the_hierarchy_settings_says_what_it_needs(trial):
    inputs = replace(toxicity_inputs(trial), prior=models.BLRMPrior(mean=(0, 0), sd=(1, 1)))
    with pytest.raises(ValueError, match="exnex BLRM needs prior tau_scale and weight"):
        models.fit_toxicity(inputs, "exnex", draws=10, tune=10)


def test_the_sampling_plan_is_the_protocols(trial):
    plan = sampling_plan(PROTOCOL)
    sampling = PROTOCOL.sampling
    assert plan.protocol_hash == PROTOCOL.content_hash
    assert (plan.settings.chains, plan.settings.draws, plan.settings.tune) == (
        sampling.chains,
        sampling.draws,
        sampling.tune,
    )
    assert plan.settings.retry_target_accept == tuple(sampling.retry_target_accept)
    assert (plan.gates.max_rhat, plan.gates.min_ess_bulk) == (
        sampling.max_rhat,
        sampling.min_ess_bulk,
    )
    arguments = plan.arguments({"draws": 50, "seed": 3})
    assert arguments["settings"].draws == 50 and arguments["settings"].tune == sampling.tune
    assert arguments["seed"] == 3 and arguments["protocol_hash"] == PROTOCOL.content_hash
    with pytest.raises(TypeError, match=r"unexpected keyword argument\(s\) \['draw'\]"):
        plan.arguments({"draw": 50})


# --- the data cut converts once, at the edge ---------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "options"),
    [
        ("toxicity", {}),
        ("crm", {"construct": "B"}),
        ("response", {}),
        ("kinetics", {}),
        ("manufacturing", {}),
        ("survival", {"endpoint": "os"}),
    ],
)
def test_a_data_cut_is_a_model_input_source(trial, kind, options):
    assert isinstance(trial, models.ModelInputSource)
    inputs = trial.model_inputs(kind, **options)
    assert isinstance(inputs, models.MODEL_KINDS[kind])
    assert inputs.plan == sampling_plan(trial.protocol)


def _per_cell(patients: pd.DataFrame, mask: pd.Series, data) -> np.ndarray:
    """Patients of ``mask`` per construct and dose, counted by pandas."""
    table = patients[mask].groupby(["construct", "dose_index"]).size()
    doses = range(len(data.dose_labels))
    return np.array([[table.get((c, d), 0) for d in doses] for c in data.constructs])


def test_dlt_data_counts_the_patients_by_status(trial):
    data = trial.model_inputs("toxicity").data
    patients = trial.patients
    status = patients["dlt_status"]
    np.testing.assert_array_equal(data.dlt, _per_cell(patients, status == "DLT", data))
    complete = status.isin(("DLT", "no DLT"))
    np.testing.assert_array_equal(data.n, _per_cell(patients, complete, data))
    np.testing.assert_array_equal(data.pending, _per_cell(patients, status == "pending", data))
    pending = patients[status == "pending"]
    assert data.pending.sum() > 0
    np.testing.assert_allclose(np.sort(data.pending_weight), np.sort(pending["tite_weight"]))


def test_response_data_are_the_trials_counts(trial):
    data = trial.model_inputs("response").data
    table = data.counts()
    by_arm = trial.by_arm_dose.set_index(["construct", "dose_level"])
    by_arm = by_arm.loc[list(zip(table["construct"], table["dose"], strict=True))]
    np.testing.assert_array_equal(table["n"], by_arm["response_evaluable"])
    np.testing.assert_array_equal(table["responders"], by_arm["responders"])


def test_selection_options_go_to_the_data_cut_and_not_with_a_bundle(trial):
    phase1 = model_inputs(trial, "toxicity", phase=1)
    evaluable = (trial.patients["phase"] == 1) & (trial.patients["dlt_status"] != "not evaluable")
    assert phase1.data.n.sum() + phase1.data.pending.sum() == evaluable.sum()
    with pytest.raises(TypeError, match="phase select the patients of a data cut"):
        models.fit_toxicity(phase1, phase=1)
    with pytest.raises(TypeError, match="model_inputs"):
        models.fit_toxicity(SimpleNamespace(patients=trial.patients, protocol=PROTOCOL))
    with pytest.raises(ValueError, match="kind = 'dose'"):
        trial.model_inputs("dose")
    with pytest.raises(ValueError, match=r"constructs \['A'\] in the data are not among"):
        trial.model_inputs("toxicity", constructs=("B", "C"))


def test_a_bundle_checks_its_constants(trial):
    inputs = toxicity_inputs(trial)
    with pytest.raises(ValueError, match="4 doses given for 5 dose labels"):
        replace(inputs, doses=inputs.doses[:4])
    with pytest.raises(ValueError, match="intervals"):
        replace(inputs, intervals=(0.4, 0.3))


def test_the_escalation_weight_is_the_tite_weight(trial):
    arm = trial.escalation_data("C")
    pending = np.isfinite(arm.followup)
    assert pending.any()
    np.testing.assert_array_equal(arm.weight[~pending], 1.0)
    u = arm.followup[pending]
    np.testing.assert_allclose(arm.weight[pending], np.minimum(1.0, u / PROTOCOL.dlt_window))
    np.testing.assert_array_equal(arm.weight[pending], models.tite_weight(u, PROTOCOL.dlt_window))


# --- kinetics names ---------------------------------------------------------------------------


def test_former_kinetics_names_are_the_new_objects():
    from dartnk import analyses
    from dartnk.analyses import derive

    assert models.fit_expansion is models.fit_kinetics
    assert models.ExpansionFit is models.KineticsFit
    assert models.ExpansionData is models.KineticsData
    assert models.ExpansionPrior is models.KineticsPrior
    assert analyses.expansion_summary is analyses.kinetics_summary
    assert derive.Expansion is derive.Kinetics


def test_the_selection_component_and_the_priors_are_named_kinetics():
    assert "kinetics" in PROTOCOL.selection.weights
    assert "kinetics" in PROTOCOL.selection.desirability
    assert "expansion" not in PROTOCOL.selection.weights
    assert tuple(PROTOCOL.priors.kinetics_mean) == (3.0, 4.5)
    assert not any(name.startswith("expansion") for name in type(PROTOCOL.priors).model_fields)
