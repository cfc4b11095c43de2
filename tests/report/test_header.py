"""The report opens with the settings and provenance a reader needs, then the named warnings, then the verdict;
every number is there too, collapsed behind <details>."""

import html
import json


def test_the_report_header_states_settings_provenance_and_warnings(quick_run):
    out, _ = quick_run
    page = (out / "report.html").read_text()
    s = json.loads((out / "summary.json").read_text())
    assert page.index('id="settings"') < page.index('id="warnings"') < page.index('id="verdict"')
    text = html.unescape(page)
    prov = s["provenance"]["record"]
    for fact in (f"α = {s['config']['train']['lr']:g}", f"B = {s['config']['train']['batch_size']}",
                 f"sampler {s['config']['train']['seed']}, initialisation {s['config']['model_seed']}",
                 f"torch {prov['torch']}", f"{prov['torch_threads']} torch threads", prov["date"],
                 f"{s['burn_in']['epochs']} epochs to the window"):
        assert fact in text, fact
    for w in s["warnings"]:
        assert f"<b>{w['name']}</b>" in page
    assert "<details><summary>every number of this page (JSON)</summary>" in page


def test_the_summary_config_is_complete(quick_run):
    """Every training setting, defaults included — not only those the preset or TOML file named."""
    from dataclasses import fields

    from sgdpotential.dynamics.training import TrainConfig

    out, _ = quick_run
    s = json.loads((out / "summary.json").read_text())
    assert set(s["config"]["train"]) == {f.name for f in fields(TrainConfig)}
