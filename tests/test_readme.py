"""The README's Python example runs as printed."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def test_python_example_runs(capsys):
    block = re.search(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert block is not None
    exec(compile(block.group(1), "README.md", "exec"), {})
    printed = capsys.readouterr().out
    assert "treat next cohort at" in printed or "stop" in printed or "wait" in printed
    assert "3+3 exact operating characteristics" in printed


@pytest.mark.slow
def test_models_example_runs(capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    models_block = next(block for block in blocks if "fit_toxicity" in block)
    exec(compile(models_block, "README.md", "exec"), {})
    printed = capsys.readouterr().out
    assert "Diagnostics: passed" in printed
    assert "prob_target" in printed and "median" in printed


def test_quickstart_has_exactly_two_commands():
    text = README.read_text(encoding="utf-8")
    quickstart = text.split("## Quickstart", 1)[1].split("## ", 1)[0]
    commands = re.search(r"```bash\n(.*?)```", quickstart, re.S).group(1).strip().splitlines()
    assert len(commands) == 2
    assert commands[0].endswith("dartnk demo")
    assert commands[1].endswith("pytest")


@pytest.mark.slow
def test_interim_example_runs(capsys, monkeypatch, tmp_path):
    """The interim example, with short chains (the protocol's sampling settings otherwise)."""
    from _mcmc import short_protocol_settings

    from dartnk.analyses import trial as trial_module
    from dartnk.analyses.protocol import protocol_from_dict

    quick = protocol_from_dict(short_protocol_settings())
    monkeypatch.setattr(trial_module, "default_protocol", lambda: quick)
    monkeypatch.chdir(tmp_path)
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    block = next(block for block in blocks if "interim(" in block)
    exec(compile(block, "README.md", "exec"), {})
    printed = capsys.readouterr().out
    assert "candidate_dose" in printed and "prob_best" in printed
    assert (tmp_path / "interim.html").is_file()
