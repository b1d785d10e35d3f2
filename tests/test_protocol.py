"""The protocol as validated data: defaults, rejection of bad settings, stable hash."""

import copy

import pytest
import yaml

from dartnk.analyses import ProtocolError, default_protocol, load_protocol
from dartnk.analyses.protocol import protocol_from_dict


@pytest.fixture(scope="session")
def base() -> dict:
    return default_protocol().to_dict()


def test_defaults_follow_the_design():
    p = default_protocol()
    assert p.construct_ids == ("A", "B", "C")
    assert [c.antigens for c in p.constructs] == [
        ("DLL3", "CD56"),
        ("DLL3", "GD2"),
        ("CD56", "GD2"),
    ]
    assert p.dose_labels == ("DL-1", "DL1", "DL2", "DL3", "DL4")
    assert p.doses == (5e7, 1e8, 3e8, 1e9, 2e9)
    assert p.start_index == 1
    assert p.dose_levels[0].deescalation_only
    assert p.dlt_window == 28
    assert p.phase1.cohort_size == 3
    assert p.toxicity.target == 0.30
    assert (p.toxicity.underdose_below, p.toxicity.overdose_from, p.toxicity.ewoc) == (
        0.16,
        0.33,
        0.25,
    )
    assert p.selection.weights == {
        "safety": 0.35,
        "efficacy": 0.30,
        "kinetics": 0.20,
        "manufacturability": 0.15,
    }
    assert (p.expansion.n_max, p.expansion.p0, p.expansion.p1) == (20, 0.15, 0.35)


def _set(data: dict, path: str, value) -> dict:
    data = copy.deepcopy(data)
    keys = path.split(".")
    node = data
    for key in keys[:-1]:
        node = node[int(key)] if isinstance(node, list) else node[key]
    last = keys[-1]
    if isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("toxicity.target", 1.2, "toxicity.target = 1.2"),
        ("toxicity.target", 0.0, "toxicity.target = 0.0"),
        ("toxicity.overdose_from", 0.25, "underdose_below <= target < overdose_from"),
        ("selection.weights.safety", 0.5, "sum to 1, they sum to 1.15"),
        ("dose_levels.2.cells_per_infusion", 5e7, "dose_levels.2.cells_per_infusion"),
        ("dose_levels.3.cells_per_infusion", -1.0, "dose_levels.3.cells_per_infusion = -1.0"),
        ("constructs.1.antigens", ["DLL3", "HER2"], "['HER2'] not among the declared antigens"),
        ("constructs.0.antigens", ["DLL3", "DLL3"], "two different antigens"),
        ("constructs.2.id", "A", "duplicate construct id"),
        ("start_dose", "DL9", "start_dose: 'DL9' is not a dose level"),
        ("start_dose", "DL-1", "de-escalation only"),
        ("phase1.crm.skeleton", [0.1, 0.2, 0.3], "3 values for 5 dose levels"),
        ("phase1.crm.skeleton", [0.05, 0.2, 0.1, 0.3, 0.4], "skeleton must increase"),
        ("phase1.cohort_size", 0, "phase1.cohort_size = 0"),
        ("phase1.design", "rolling_six", "phase1.design = 'rolling_six'"),
        ("phase1.boin.p_saf", 0.35, "p_saf: 0.35 must be below the target 0.3"),
        ("expansion.p1", 0.1, "p1 must exceed p0"),
        ("expansion.n_max", 25, "differs from phase2.n_patients"),
        ("schedule.infusion_days", [0, 14, 7], "infusion_days must start at 0 and increase"),
        ("schedule.dlt_window_days", 0, "schedule.dlt_window_days = 0"),
        ("assignment.hscore_threshold", 400, "assignment.hscore_threshold = 400"),
        ("dlt.grade2_categories", ["CRS", "rash"], "unknown AE categories ['rash']"),
        ("pk.blq_policy", "zero", "pk.blq_policy = 'zero'"),
        ("sampling.max_rhat", 0.99, "sampling.max_rhat = 0.99"),
        ("priors.blrm_corr", 1.0, "priors.blrm_corr = 1.0"),
        ("priors.expansion_mean", [3.0, 4.5], "['expansion_mean'] are now named ['kinetics_mean']"),
    ],
)
def test_impossible_values_name_key_and_value(base, path, value, expected):
    with pytest.raises(ProtocolError) as info:
        protocol_from_dict(_set(base, path, value), source="trial.yaml")
    assert expected in str(info.value)
    assert str(info.value).startswith("trial.yaml")


def test_unknown_keys_are_rejected(base):
    data = _set(base, "toxicity.targte", 0.25)
    with pytest.raises(ProtocolError, match=r"toxicity\.targte: unknown key \(value 0\.25\)"):
        protocol_from_dict(data)


def test_missing_required_key(base):
    data = copy.deepcopy(base)
    del data["priors"]
    with pytest.raises(ProtocolError, match="priors: required key is missing"):
        protocol_from_dict(data)


def test_every_problem_is_listed(base):
    data = _set(_set(base, "toxicity.target", 2.0), "pk.blq_policy", "zero")
    with pytest.raises(ProtocolError) as info:
        protocol_from_dict(data)
    assert len(info.value.problems) == 2


def test_hash_is_stable_across_formatting(tmp_path, base):
    shuffled = dict(reversed(list(base.items())))
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(shuffled, default_flow_style=True))
    assert load_protocol(path).content_hash == default_protocol().content_hash


def test_hash_changes_with_content(base):
    other = protocol_from_dict(_set(base, "toxicity.ewoc", 0.2))
    assert other.content_hash != default_protocol().content_hash


def test_yaml_round_trip(tmp_path):
    p = default_protocol()
    path = tmp_path / "p.yaml"
    path.write_text(p.to_yaml())
    assert load_protocol(path) == p


@pytest.mark.parametrize(
    ("text", "expected"),
    [("a: [1, 2", "not valid YAML"), ("- 1\n- 2\n", "expected a mapping")],
)
def test_unreadable_files(tmp_path, text, expected):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ProtocolError, match=expected):
        load_protocol(path)


def test_missing_file(tmp_path):
    with pytest.raises(ProtocolError, match="cannot read protocol file"):
        load_protocol(tmp_path / "absent.yaml")


def test_protocol_is_immutable():
    p = default_protocol()
    with pytest.raises(Exception, match="frozen"):
        p.name = "other"


def test_summary_lists_every_setting():
    summary = default_protocol().summary()
    assert {"toxicity.target", "constructs.1.antigens", "selection.weights.safety"} <= set(
        summary["key"]
    )


def test_selection_components_keep_one_order_whatever_the_file_order(base):
    """A protocol read back from a report's manifest (keys sorted) orders the selection
    components as the default does: the weight draws of the sensitivity analysis follow
    that order, so a rerun would otherwise draw other weights."""
    shuffled = copy.deepcopy(base)
    for key in ("weights", "desirability"):
        shuffled["selection"][key] = dict(sorted(shuffled["selection"][key].items()))
    assert list(shuffled["selection"]["weights"]) != list(base["selection"]["weights"])
    protocol = protocol_from_dict(shuffled)
    expected = ["safety", "efficacy", "kinetics", "manufacturability"]
    assert list(protocol.selection.weights) == expected
    assert list(protocol.selection.desirability) == expected
    assert protocol.content_hash == default_protocol().content_hash
