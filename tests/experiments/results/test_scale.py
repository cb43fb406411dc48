"""`plots/scale.png`: a metric per customer against the base size of the scenario variants."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
import tomli_w

from nbasim.experiments.results.report import scale_figure as sf
from nbasim.experiments.results.report.draw import draw, scale_lines, variant_sizes
from nbasim.experiments.results.report.load import load_run
from nbasim.experiments.results.report.page import render_html
from nbasim.experiments.run import config, sweep
from nbasim.experiments.run.metrics import definitions

VALUE, MARGIN = "true_incremental_value", "true_incremental_margin"

# A real run: the same world at two base sizes.
SCALE = {"name": "scale", "customers": 300, "days": 5, "seeds": [0, 1], "holdout": 0.1,
         "baseline": "no_action",
         "scenarios": [{"label": "small"}, {"label": "large", "customers": 600}],
         "policies": [{"label": "no_action"}, {"label": "rfm_playbook"}]}


def write_run(root: Path, scenarios: list[dict], metrics: dict[tuple[str, str], dict],
              customers: int = 1000) -> Path:
    """A run directory of summary.json and config.toml only (no tables).

    Args:
        root: where to put it.
        scenarios: the config's `[[scenarios]]`.
        metrics: (policy, scenario label) -> metric -> (mean, lo, hi).
        customers: the config's top-level size.
    """
    run = root / "run"
    run.mkdir()
    groups = {f"{p} @ {s}": {"policy": p, "scenario": s, "n_seeds": 3, "metrics": {
        m: {"mean": mean, "ci": [lo, hi], "per_seed": []} for m, (mean, lo, hi) in ms.items()}}
        for (p, s), ms in metrics.items()}
    (run / "summary.json").write_text(json.dumps({
        "experiment": "scale", "run_id": "run", "baseline": next(iter(groups)),
        "seeds": [0, 1, 2], "metrics": definitions(), "groups": groups}))
    (run / "config.toml").write_text(tomli_w.dumps({
        "name": "scale", "customers": customers, "days": 30, "seeds": [0, 1, 2],
        "scenarios": scenarios, "policies": [{"label": "playbook"}, {"label": "learner"}]}))
    return run


def test_points_are_the_summary_means_per_customer(tmp_path):
    """Each point is (size, mean / size, lo / size, hi / size), by size ascending."""
    run = write_run(tmp_path, [{"label": "big", "scenario": "dry_cleaning_chain"},
                               {"label": "small", "scenario": "dry_cleaning_chain",
                                "customers": 200}], {
        ("playbook", "big"): {VALUE: (500.0, 400.0, 600.0), MARGIN: (300.0, 250.0, 350.0)},
        ("learner", "big"): {VALUE: (900.0, 700.0, 1100.0)},
        ("playbook", "small"): {VALUE: (100.0, 80.0, 120.0), MARGIN: (60.0, 50.0, 70.0)},
        ("learner", "small"): {VALUE: (40.0, -20.0, 100.0), MARGIN: (-10.0, -30.0, 10.0)}})
    loaded = load_run(run)
    # "big" has no size of its own: the config's 1000.
    assert variant_sizes(loaded) == {"big": 1000, "small": 200}
    lines = scale_lines(loaded)
    got = {m: {ln.policy: ln for ln in lines[m]} for m in lines}
    assert [(ln.policy, ln.family) for ln in lines[VALUE]] == [("playbook", ""), ("learner", "")]
    # Value: playbook 100 / 200 = 0.5 and 500 / 1000 = 0.5 (intervals 80/200, 120/200 = 0.4,
    # 0.6 and 400/1000, 600/1000 = 0.4, 0.6); learner 40 / 200 = 0.2 (-20/200 = -0.1,
    # 100/200 = 0.5) and 900 / 1000 = 0.9 (0.7, 1.1): the learner overtakes at 1000.
    expected = {(VALUE, "playbook"): ([200, 1000], [0.5, 0.5], [0.4, 0.4], [0.6, 0.6]),
                (VALUE, "learner"): ([200, 1000], [0.2, 0.9], [-0.1, 0.7], [0.5, 1.1]),
                # Margin: playbook 60/200 = 0.3 (0.25, 0.35), 300/1000 = 0.3 (0.25, 0.35);
                # the learner has no margin at 1000: one point, -10/200 = -0.05 (-0.15, 0.05).
                (MARGIN, "playbook"): ([200, 1000], [0.3, 0.3], [0.25, 0.25], [0.35, 0.35]),
                (MARGIN, "learner"): ([200], [-0.05], [-0.15], [0.05])}
    for (m, p), (sizes, mean, lo, hi) in expected.items():
        ln = got[m][p]
        np.testing.assert_array_equal(ln.sizes, sizes)
        for field, want in (("mean", mean), ("lo", lo), ("hi", hi)):
            np.testing.assert_allclose(getattr(ln, field), want, rtol=1e-12, err_msg=field)
    # The figure draws exactly these points (x moved apart by the dodge factor only).
    fig = sf.scale_figure(lines, {"playbook": "C0", "learner": "C1"}, {})
    for ax, m in zip(fig.axes, (VALUE, MARGIN), strict=True):
        for container, ln in zip(ax.containers, lines[m], strict=True):
            x, y = container.lines[0].get_data()
            np.testing.assert_allclose(y, ln.mean)
            np.testing.assert_allclose(x / ln.sizes, x[0] / ln.sizes[0])
            assert abs(np.log(x[0] / ln.sizes[0])) <= np.log(sf.DODGE)
    plt.close(fig)


def test_calibrated_and_other_worlds(tmp_path):
    """A calibrated variant is left out; a variant in another world gets its own line."""
    slump = {"scenario": "dry_cleaning_chain", "shocks": ["recession"]}
    run = write_run(tmp_path, [
        {"label": "small", "scenario": "dry_cleaning_chain", "customers": 200},
        {"label": "big", "scenario": "dry_cleaning_chain"},
        {"label": "slump", "customers": 200, **slump},
        {"label": "fitted", "scenario": "dry_cleaning_chain", "calibration": "c.json"}],
        {(p, s): {VALUE: (10.0, 0.0, 20.0)} for p in ("playbook", "learner")
         for s in ("small", "big", "slump", "fitted")})
    loaded = load_run(run)
    assert variant_sizes(loaded) == {"small": 200, "big": 1000, "slump": 200}
    lines = scale_lines(loaded)[VALUE]
    # In group order (the summary's: playbook's groups first).
    assert [(ln.policy, ln.family, ln.sizes.tolist()) for ln in lines] == [
        ("playbook", "small/big", [200, 1000]), ("playbook", "slump", [200]),
        ("learner", "small/big", [200, 1000]), ("learner", "slump", [200])]


@pytest.mark.parametrize("scenarios", [
    [{"label": "a"}, {"label": "b", "customers": 1000}],  # both of the config's 1000
    [{"label": "a"}, {"label": "b", "calibration": "c.json"}],  # the calibrated one has no size
    [{"label": "a", "customers": 500}],
])
def test_one_size_draws_and_says_nothing(tmp_path, scenarios):
    """With one size among the variants there are no points, no plot and no section."""
    metrics = {(p, s["label"]): {VALUE: (10.0, 0.0, 20.0)} for p in ("playbook", "learner")
               for s in scenarios}
    loaded = load_run(write_run(tmp_path, scenarios, metrics))
    assert scale_lines(loaded) == {}
    figures = draw(loaded)
    assert "scale" not in figures
    page = render_html(loaded, figures)
    assert "Scale" not in page and "scale" not in " ".join(loaded.notes)


@pytest.fixture(scope="module")
def scale_run(tmp_path_factory) -> Path:
    """no_action and rfm_playbook on 300 and 600 customers, 5 days, two seeds."""
    return sweep.run(config.parse(SCALE), tmp_path_factory.mktemp("scale") / "run")


def test_the_run_draws_and_reports_the_scale(scale_run):
    """`nbasim run` writes plots/scale.png; report.html shows it with its caption."""
    png = scale_run / "plots" / "scale.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (scale_run / "report.html").read_text()
    assert "<h2>Scale</h2>" in page and 'alt="Scale"' in page
    assert "divided by the variant&#x27;s customers" in page


def test_the_run_points_are_its_summary_per_customer(scale_run):
    """On the real run's files: each policy's points are its summary means / 300 and / 600."""
    summary = json.loads((scale_run / "summary.json").read_text())["groups"]
    lines = scale_lines(load_run(scale_run))
    assert set(lines) == {VALUE, MARGIN}
    for m, per in lines.items():
        assert [ln.policy for ln in per] == ["no_action", "rfm_playbook"]
        for ln in per:
            np.testing.assert_array_equal(ln.sizes, [300, 600])
            means = [summary[f"{ln.policy} @ {s}"]["metrics"][m]["mean"]
                     for s in ("small", "large")]
            np.testing.assert_allclose(ln.mean, [means[0] / 300, means[1] / 600], rtol=1e-12)
    # no_action sends nothing: its true incremental value and margin are 0 at every size.
    assert all(not ln.mean.any() for per in lines.values() for ln in per
               if ln.policy == "no_action")
