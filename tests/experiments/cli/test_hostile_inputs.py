"""Hostile inputs to `nbasim run` and `nbasim ope-validate`.

The config file, its fields, the policies' parameters, the scenarios and the options.

Every case exits 2 with a message naming the field or option, prints no traceback and writes
nothing (`refused` in conftest.py). The configs are tiny (300 customers, 4 days, one seed) and
every case is refused before any cell runs.
"""

from __future__ import annotations

import pytest
from hostile import calibration, config, write


def policy(label: str, name: str | None = None, params: str = "", extra: str = "") -> str:
    """One [[policies]] table; `params` is the inside of its inline params table."""
    text = f'[[policies]]\nlabel = "{label}"\n'
    if name:
        text += f'policy = "{name}"\n'
    if params:
        text += f"params = {{{params}}}\n"
    return text + extra


def scenario(label: str = "s", extra: str = "") -> str:
    """One [[scenarios]] table with the given lines."""
    return f'[[scenarios]]\nlabel = "{label}"\n{extra}'


TOP_FIELDS = [
    ("name-missing", {"name": None}, r"field 'name': Field required"),
    ("name-with-slash", {"name": '"a/b"'}, r"field 'name' = 'a/b': String should match"),
    ("name-empty", {"name": '""'}, r"field 'name' = '': String should match"),
    ("name-a-number", {"name": "5"}, r"field 'name' = 5: Input should be a valid string"),
    ("unknown-top-key", {"custmers": "300"},
     r"field 'custmers' = 300: Extra inputs .*allowed: the keys .*customers"),
    ("customers-zero", {"customers": "0"}, r"field 'customers' = 0: .*>= 100"),
    ("customers-negative", {"customers": "-5"}, r"field 'customers' = -5: .*>= 100"),
    ("customers-text", {"customers": '"many"'}, r"field 'customers' = 'many'"),
    ("customers-fraction", {"customers": "300.5"}, r"field 'customers' = 300\.5"),
    ("customers-huge", {"customers": "3_000_000_000"},
     r"field 'customers' = 3000000000: .*<= 2000000"),
    ("customers-nan", {"customers": "nan"}, r"field 'customers' = nan: .*finite"),
    ("customers-inf", {"customers": "inf"}, r"field 'customers' = inf: .*finite"),
    ("days-zero", {"days": "0"}, r"field 'days' = 0: .*>= 3"),
    ("days-two", {"days": "2"}, r"field 'days' = 2: .*>= 3"),
    ("days-negative", {"days": "-4"}, r"field 'days' = -4"),
    ("days-huge", {"days": "99999"}, r"field 'days' = 99999: .*<= 3650"),
    ("days-text", {"days": '"four"'}, r"field 'days' = 'four'"),
    ("days-nan", {"days": "nan"}, r"field 'days' = nan: .*finite"),
    ("seeds-empty", {"seeds": "[]"}, r"seeds = \[\]: at least one"),
    ("seeds-negative", {"seeds": "[-1]"}, r"field 'seeds\.0' = -1"),
    ("seeds-repeat", {"seeds": "[0, 0]"}, r"seeds = \[0, 0\]: .*no repeats"),
    ("seeds-text", {"seeds": '"0"'}, r"field 'seeds' = '0'"),
    ("seeds-fraction", {"seeds": "[0.5]"}, r"field 'seeds\.0' = 0\.5"),
    ("holdout-zero", {"holdout": "0.0"}, r"holdout = 0\.0: an experiment needs a holdout"),
    ("holdout-one", {"holdout": "1.0"}, r"field 'holdout' = 1\.0: .*< 1"),
    ("holdout-negative", {"holdout": "-0.1"}, r"field 'holdout' = -0\.1"),
    ("holdout-nan", {"holdout": "nan"}, r"field 'holdout' = nan: .*finite"),
    ("holdout-text", {"holdout": '"ten percent"'}, r"field 'holdout' = 'ten percent'"),
    ("objective-unknown", {"objective": '"profit"'}, r"field 'objective' = 'profit'"),
    ("decision-log-unknown", {"decision_log": '"some"'}, r"field 'decision_log' = 'some'"),
    ("epochs-weekly", {"epochs": '"weekly"'}, r"field 'epochs' = 'weekly'"),
    ("baseline-not-a-label", {"baseline": '"nobody"'},
     r"baseline = 'nobody': must be one of the policy labels"),
    ("out-a-number", {"out": "5"}, r"field 'out' = 5"),
    ("ope-not-a-table", {"ope": "3"}, r"field 'ope' = 3"),
    ("name-dot-dot", {"name": '".."'}, r"field 'name' = '\.\.': String should match"),
    ("name-dot-first", {"name": '".hidden"'}, r"field 'name' = '\.hidden'"),
    ("min-gap-days-negative", {"min_gap_days": "-1"}, r"field 'min_gap_days' = -1"),
    ("min-gap-days-nan", {"min_gap_days": "nan"}, r"field 'min_gap_days' = nan"),
    ("campaign-budget-negative", {"budget": "-100.0"}, r"field 'budget' = -100\.0"),
    ("budget-period-zero", {"budget_period_days": "0"}, r"field 'budget_period_days' = 0"),
]


@pytest.mark.parametrize(("top", "match"), [c[1:] for c in TOP_FIELDS],
                         ids=[c[0] for c in TOP_FIELDS])
def test_run_refuses_a_bad_top_level_field(top, match, home, refused):
    """A missing, unknown, mistyped, out-of-range or NaN top-level field."""
    write(home, "bad.toml", config(**top))
    refused(["run", "{home}/bad.toml", "--out", "{home}/out"], match)


POLICIES = [
    ("policies-missing", "", r"field 'policies': Field required"),
    ("policies-empty-list", "policies = []\n", r"field 'policies' = \[\]: .*at least 1 item"),
    ("scenarios-empty-list", "scenarios = []\n" + policy("random"),
     r"field 'scenarios' = \[\]: .*at least 1 item"),
    ("label-missing", '[[policies]]\npolicy = "random"\n', r"label"),
    ("label-repeated", policy("random") + policy("random"), r"labels repeat"),
    ("label-with-slash", policy("a/b", "random"), r"labels .*'/'"),
    ("label-dot-first", policy(".hidden", "random"), r"labels .*'\.'"),
    ("label-empty", policy("", "random"), r"labels"),
    ("policy-unknown", policy("magic"), r"'magic': unknown"),
    ("policy-name-a-number", '[[policies]]\nlabel = "p"\npolicy = 7\n', r"policy"),
    ("unknown-policy-key", policy("random", extra='lable = "x"\n'),
     r"'policies\.0\.lable' = 'x': Extra inputs .*allowed: the keys label, policy, params"),
    ("params-not-a-table", policy("random", extra="params = 5\n"), r"params"),
    ("linucb-alpha-negative", policy("linucb", params="alpha = -1.0"), r"policy linucb: alpha"),
    ("linucb-alpha-nan", policy("linucb", params="alpha = nan"), r"policy linucb: alpha"),
    ("linucb-alpha-inf", policy("linucb", params="alpha = inf"), r"policy linucb: alpha"),
    ("linucb-alpha-text", policy("linucb", params='alpha = "high"'), r"alpha"),
    ("linucb-unknown-param", policy("linucb", params="alfa = 1.0"), r"policy linucb: alfa"),
    ("linucb-l2-zero", policy("linucb", params="l2 = 0.0"), r"policy linucb: l2"),
    ("epsilon-greedy-explore-above-1", policy("epsilon_greedy", params="explore = 1.5"),
     r"policy epsilon_greedy: explore"),
    ("epsilon-greedy-explore-nan", policy("epsilon_greedy", params="explore = nan"),
     r"policy epsilon_greedy: explore"),
    ("lints-n-samples-zero", policy("lints", params="n_samples = 0"), r"policy lints: n_samples"),
    ("lints-n-samples-huge", policy("lints", params="n_samples = 1_000_000"),
     r"policy lints: n_samples"),
    ("lints-sigma-negative", policy("lints", params="sigma = -0.5"), r"policy lints: sigma"),
    ("vw-bits-too-many", policy("vw", params="bits = 99"), r"policy vw: bits"),
    ("vw-bits-zero", policy("vw", params="bits = 0"), r"policy vw: bits"),
    ("vw-exploration-unknown", policy("vw", params='exploration = "magic"'), r"exploration"),
    ("vw-learning-rate-nan", policy("vw", params="learning_rate = nan"),
     r"policy vw: learning_rate"),
    ("vw-unknown-param", policy("vw", params="bitz = 18"), r"policy vw: bitz"),
    ("vw-top-k-zero", policy("vw", params="top_k = 0"), r"policy vw: top_k = 0"),
    ("vw-model-missing", policy("vw", params='model = "no_such.vw"'),
     r"policy vw: model = 'no_such\.vw': .*no such model file"),
    ("vw-interactions-a-number", policy("vw", params="interactions = 5"),
     r"policy vw: interactions = 5"),
    ("arbitration-value-nan", policy("arbitration", params="values = {discount_10 = nan}"),
     r"policy arbitration: values\.discount_10 = nan"),
    ("uplift-threshold-nan", policy("uplift_two_model", params="threshold = nan"),
     r"policy uplift_two_model: threshold = nan"),
    ("oracle-unknown-param", policy("oracle", params="foo = 1"), r"policy oracle: foo = 1"),
    ("blanket-offer-not-in-catalog", policy("blanket", params='offer = "free_car"'),
     r"free_car"),
    ("blanket-channel-unknown", policy("blanket", params='channel = "pigeon"'), r"pigeon"),
    ("blanket-offer-a-number", policy("blanket", params="offer = 20"), r"policy blanket: offer"),
    ("segment-greedy-pilot-zero", policy("segment_greedy", params="pilot_decisions = 0"),
     r"policy segment_greedy: pilot_decisions"),
    ("response-model-warmup-negative", policy("response_model", params="warmup = -1"),
     r"policy response_model: warmup"),
    ("arbitration-lever-negative", policy("arbitration", params="levers = {email = -1.0}"),
     r"policy arbitration: levers"),
    ("rfm-playbook-offer-not-in-catalog",
     policy("rfm_playbook", params='playbook = {champions = {offer = "free_car"}}'),
     r"free_car"),
    ("budget-negative", policy("random", extra="budget = -5.0\n"), r"budget"),
    ("budget-nan", policy("random", extra="budget = nan\n"), r"budget"),
    ("budget-text", policy("random", extra='budget = "lots"\n'), r"budget"),
    ("policy-objective-unknown", policy("random", extra='objective = "profit"\n'),
     r"objective"),
]


@pytest.mark.parametrize(("policies", "match"), [c[1:] for c in POLICIES],
                         ids=[c[0] for c in POLICIES])
def test_run_refuses_a_bad_policy(policies, match, home, refused):
    """A bad policy label, name, parameter or budget is refused before any cell runs."""
    write(home, "bad.toml", config(policies=policies))
    refused(["run", "{home}/bad.toml", "--out", "{home}/out"], match)


SCENARIOS = [
    ("scenario-unknown", scenario(extra='scenario = "moon_base"\n'), r"moon_base"),
    ("scenario-unknown-key", scenario(extra='scenaro = "retail_chain"\n'), r"scenaro"),
    ("override-unknown", scenario(extra="overrides = {churn_bass = 0.001}\n"), r"churn_bass"),
    ("override-wrong-type", scenario(extra='overrides = {churn_base = "high"}\n'),
     r"churn_base"),
    ("override-negative", scenario(extra="overrides = {churn_base = -1.0}\n"), r"churn_base"),
    ("override-nan", scenario(extra="overrides = {churn_base = nan}\n"), r"churn_base"),
    ("override-inf", scenario(extra="overrides = {churn_base = inf}\n"), r"churn_base"),
    ("override-response-unknown-field",
     scenario(extra="overrides = {response = {foo = 1}}\n"), r"'response\.foo' = 1"),
    ("override-response-not-a-table", scenario(extra="overrides = {response = 5}\n"),
     r"'response' = 5"),
    ("override-weekly-nan", scenario(extra="overrides = {weekly = [1, 1, 1, 1, 1, 1, nan]}\n"),
     r"'weekly\.6' = nan"),
    ("overrides-not-a-table", scenario(extra="overrides = 3\n"), r"overrides"),
    ("shock-unknown", scenario(extra='shocks = ["meteor"]\n'), r"meteor"),
    ("shock-unknown-parameter", scenario(extra='shocks = ["recession:strength=2"]\n'),
     r"strength"),
    ("shock-parameter-text", scenario(extra='shocks = ["recession:start_day=soon"]\n'),
     r"start_day"),
    ("shock-after-the-last-day", scenario(extra='shocks = ["recession:start_day=50"]\n'),
     r"starts on day 50"),
    ("shocks-not-a-list", scenario(extra="shocks = 5\n"), r"shocks"),
    ("scenario-customers-too-few", scenario(extra="customers = 10\n"), r"customers"),
    ("scenario-objective-unknown", scenario(extra='objective = "profit"\n'), r"objective"),
    ("scenario-labels-repeated", scenario("s") + scenario("s"), r"labels repeat"),
    ("calibration-missing", scenario(extra='calibration = "no_such.json"\n'),
     r"calibration.*no_such\.json"),
    ("calibration-a-directory", scenario(extra='calibration = "a_folder"\n'),
     r"calibration.*a_folder"),
    ("calibration-not-json", scenario(extra='calibration = "log.csv"\n'),
     r"calibration.*log\.csv"),
    ("calibration-not-utf8", scenario(extra='calibration = "latin1.txt"\n'),
     r"calibration.*latin1\.txt"),
    ("calibration-malformed", scenario(extra='calibration = "cal_bad.json"\n'),
     r"calibration = 'cal_bad\.json': .*a malformed calibration \(no entry 'q'\)"),
    ("calibration-r-negative", scenario(extra='calibration = "cal_r.json"\n'),
     r"'bgnbd_r' = -1\.0"),
    ("calibration-and-customers", scenario(extra='calibration = "x.json"\ncustomers = 500\n'),
     r"calibration"),
]


@pytest.mark.parametrize(("scenarios", "match"), [c[1:] for c in SCENARIOS],
                         ids=[c[0] for c in SCENARIOS])
def test_run_refuses_a_bad_scenario(scenarios, match, home, refused):
    """A bad scenario name, override, shock, size or calibration file."""
    write(home, "cal_bad.json", calibration("gamma_gamma", value={}))
    write(home, "cal_r.json", calibration("bgnbd", "r", value=-1.0))
    write(home, "bad.toml", config(scenarios=scenarios))
    refused(["run", "{home}/bad.toml", "--out", "{home}/out"], match)


FILES = [
    ("config-missing", "{home}/no_such.toml", r"no_such\.toml: no such file"),
    ("config-a-directory", "{home}/a_folder", r"a_folder: is a directory"),
    ("config-empty", "{home}/empty.txt", r"\bname\b"),
    ("config-not-utf8", "{home}/latin1.txt", r"latin1\.txt: not UTF-8"),
    ("config-binary", "{home}/binary.bin", r"binary\.bin: not UTF-8"),
    ("config-a-csv", "{home}/log.csv", r"log\.csv: not valid TOML"),
]


@pytest.mark.parametrize("command", ["run", "ope-validate"])
@pytest.mark.parametrize(("path", "match"), [c[1:] for c in FILES], ids=[c[0] for c in FILES])
def test_a_bad_config_file_is_named(command, path, match, refused):
    """A config that is missing, a folder, empty, not UTF-8, binary or not TOML."""
    refused([command, path, "--out", "{home}/out"], match)


OPTIONS = [
    ("workers-zero", ["--workers", "0"], r"--workers 0"),
    ("workers-negative", ["--workers", "-3"], r"--workers -3"),
    ("workers-text", ["--workers", "two"], r"--workers"),
    ("executor-unknown", ["--executor", "foo"], r"--executor 'foo'"),
    ("out-a-file", ["--out", "{home}/a_file"], r"--out .*a_file: is a file"),
    ("out-under-a-file", ["--out", "{home}/a_file/run"], r"a_file/run"),
    ("out-a-folder-of-other-things", ["--out", "{home}/other"], r"not an experiment run"),
    ("out-a-run-of-another-config", ["--out", "{home}/another"], r"another config"),
    ("out-config-not-utf8", ["--out", "{home}/garbled"], r"config\.toml cannot be read"),
]


@pytest.mark.parametrize(("options", "match"), [c[1:] for c in OPTIONS],
                         ids=[c[0] for c in OPTIONS])
def test_run_refuses_a_bad_option(options, match, home, refused):
    """A bad --workers, --executor or --out; the folders --out names are left as they were."""
    write(home, "other", "").unlink()
    (home / "other").mkdir()
    write(home, "other/notes.txt", "mine\n")
    (home / "another").mkdir()
    write(home, "another/config.toml", config(name='"other"'))
    write(home, "another/summary.json", "{}")
    (home / "garbled").mkdir()
    write(home, "garbled/config.toml", b"\xff\xfe garbage")
    write(home, "garbled/summary.json", "{}")
    refused(["run", "{home}/good.toml", *options], match)


OPE = '[ope]\nbehaviour = "random"\ntargets = ["blanket"]\n'
TWO = policy("random") + policy("blanket") + policy("no_action")
OPE_CASES = [
    ("no-ope-table", config(policies=TWO), [], r"needs an \[ope\] table"),
    ("behaviour-not-a-label", config(policies=TWO) + OPE.replace('"random"', '"nobody"'), [],
     r"nobody"),
    ("target-not-a-label", config(policies=TWO) + OPE.replace('"blanket"', '"ghost"'), [],
     r"ghost"),
    ("targets-empty", config(policies=TWO) + OPE.replace('["blanket"]', "[]"), [], r"targets"),
    ("estimator-unknown", config(policies=TWO) + OPE + 'estimators = ["magic"]\n', [],
     r"estimators = \['magic'\]: allowed dm"),
    ("estimator-repeated", config(policies=TWO) + OPE + 'estimators = ["dm", "dm"]\n', [],
     r"estimators = \['dm', 'dm'\]: .*no repeats"),
    ("estimator-upper-case", config(policies=TWO) + OPE + 'estimators = ["DM"]\n', [],
     r"estimators = \['DM'\]: allowed dm"),
    ("estimators-empty", config(policies=TWO) + OPE + "estimators = []\n", [],
     r"estimators = \[\]: .*at least one"),
    ("n-bootstrap-too-few", config(policies=TWO) + OPE + "n_bootstrap = 5\n", [],
     r"n_bootstrap"),
    ("n-bootstrap-nan", config(policies=TWO) + OPE + "n_bootstrap = nan\n", [],
     r"n_bootstrap"),
    ("ope-unknown-key", config(policies=TWO) + OPE + "behavior = 1\n", [], r"behavior"),
    ("workers-zero", config(policies=TWO) + OPE, ["--workers", "0"], r"--workers 0"),
    ("target-parameter-not-in-catalog",
     config(policies=policy("random") + policy("no_action")
            + policy("blanket", params='offer = "free_car"')) + OPE, [], r"free_car"),
]


@pytest.mark.parametrize(("toml", "options", "match"), [c[1:] for c in OPE_CASES],
                         ids=[c[0] for c in OPE_CASES])
def test_ope_validate_refuses_a_bad_ope_table(toml, options, match, home, refused):
    """A missing or bad [ope] table, or a bad option."""
    write(home, "bad.toml", toml)
    refused(["ope-validate", "{home}/bad.toml", "--out", "{home}/out", *options], match)
