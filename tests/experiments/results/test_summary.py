"""The one summary.json reader: its checks, its errors and a metric's definition."""

from __future__ import annotations

import json

import pytest

from nbasim.errors import NbasimError
from nbasim.experiments.results import summary as summary_reader
from nbasim.experiments.results.summary import ResultsError, load_summary

SUMMARY = {
    "metrics": {"roi": {"label": "return on spend", "better": "higher", "unit": "ratio"},
                "odd": {"better": "sideways"}},
    "groups": {"g": {"metrics": {"roi": {"mean": 1.5, "ci": [1.0, 2.0]}}}},
}


def test_load_summary_from_run_directory(tmp_path):
    """A run directory is read through its summary.json."""
    (tmp_path / "summary.json").write_text(json.dumps(SUMMARY))
    assert load_summary(tmp_path) == SUMMARY
    assert load_summary(tmp_path / "summary.json") == SUMMARY


@pytest.mark.parametrize(("content", "match"), [
    (None, "no such file"),
    ("{not json", "cannot read it as JSON"),
    ("[1, 2]", "not a summary.json: expected a JSON object"),
    ('{"metrics": {}}', "not a summary.json: no 'groups' key"),
    ('{"groups": {}, "runs": 1}', "no 'metrics' key"),
    ('{"metrics": {}, "groups": {"g": {"metrics": {"m": {"mean": "x", "ci": [0, 1]}}}}}',
     r"groups\['g'\]\.metrics\['m'\]\.mean: expected a finite number"),
    ('{"metrics": {}, "groups": {"g": {"metrics": {"m": {"mean": 1, "ci": [0]}}}}}',
     r"\.ci: expected \[lo, hi\]"),
    ('{"metrics": {}, "groups": {"g": []}}', r"groups\['g'\]: expected an object"),
])
def test_load_summary_errors_name_the_file(tmp_path, content, match):
    """Missing, non-JSON and non-summary files raise ResultsError naming the file.

    One `except NbasimError` (or ValueError) catches it.
    """
    path = tmp_path / "base.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(ResultsError, match=match) as info:
        load_summary(path)
    assert str(path) in str(info.value)
    assert isinstance(info.value, NbasimError) and isinstance(info.value, ValueError)


@pytest.mark.parametrize(("metric", "better", "label", "unit"), [
    ("roi", "higher", "return on spend", "ratio"),
    ("odd", "none", None, ""),       # a direction that is not allowed reads as "none"
    ("absent", "none", None, ""),    # a metric the summary does not describe
])
def test_metric_definition_is_read_from_the_summary(metric, better, label, unit):
    """Better / label / unit come from the summary's "metrics", with plain fallbacks."""
    assert summary_reader.better(SUMMARY, metric) == better
    assert summary_reader.label(SUMMARY, metric) == label
    assert summary_reader.unit(SUMMARY, metric) == unit
