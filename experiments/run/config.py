"""Experiment configs: a TOML file validated once into frozen, typed objects.

```toml
name = "quickstart"
customers = 3000
days = 45
seeds = [0, 1, 2]
baseline = "blanket"            # the policy label others are compared against
currency = "EUR"                # optional: how the report and plots label money

[[scenarios]]                   # optional; default: one variant, dry_cleaning_chain
label = "base"
scenario = "dry_cleaning_chain"
overrides = {churn_base = 0.0004}
shocks = ["recession:start_day=20"]
customers = 10000               # optional: this variant's base size (default: the config's)

[[policies]]
label = "blanket"
policy = "blanket"              # registry name (default: the label)
params = {offer = "discount_20", channel = "email", slot = "evening", wording = "urgency"}
budget = 2000.0                 # optional: wrap in `paced` with this budget for the run

[[segment_caps]]                # optional contact rules per RFM segment and per offer:
segment = "champions"           # a champion gets at most 1 contact day in any 14 days
messages = 1
days = 14

[[suppress]]                    # no discount reaches a champion
segment = "champions"
offers = ["discount_10", "discount_20"]

[[offer_caps]]                  # discount_20 at most twice in any 30 days per customer
offer = "discount_20"
messages = 2
days = 30
```

The contact policy (`max_per_7_days`, `min_gap_days`, `budget`, `budget_period_days`) and the
rules per segment and offer (`segment_caps`, `suppress`, `offer_caps`, each empty by default;
`sim.offer_rules`) are `sim.constraints.ContactRules` fields, read here and by the environments
alike.

A bad config stops before any work with a `ParameterError` naming the field, the value and
what is allowed.

A run's own `config.toml` (the config as run) reads back as the same config: its `[versions]`
table, the package versions the run recorded (`experiments.run.versions`), is a record, not
a setting, and is set aside when the config is read.
"""

from __future__ import annotations

import tomllib
import unicodedata
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from nbasim.envs.setup import OBJECTIVES, WINDOW_OBJECTIVES, CampaignSettings
from nbasim.errors import NbasimError
from nbasim.sim.params import FrozenModel, NonNegative, ParameterError, validate
from nbasim.sim.scenarios import get_scenario
from nbasim.sim.shocks import parse_shock
from nbasim.sim.slates import MAX_SLATE

CURRENCY_CHARS = 8
"""Longest currency label."""
CURRENCY_ALLOWED = (f'"" (money is labelled "money"), or 1 to {CURRENCY_CHARS} letters or '
                    'currency symbols (at most one "$"), e.g. "EUR", "USD", "€", "$", "units"')
"""What the `currency` key allows, as its error says."""

Customers = Annotated[int, Field(ge=100, le=2_000_000)]
"""Customers in all (the day-0 base plus newcomers), as an experiment may have them."""


class ScenarioVariant(FrozenModel):
    """One world the policies are run in."""

    label: str = "base"
    """Name of the variant in results."""
    scenario: str = "dry_cleaning_chain"
    """Scenario name (see `nbasim scenarios`)."""
    overrides: dict[str, object] = Field(default_factory=dict)
    """Scenario field overrides."""
    shocks: tuple[str, ...] = ()
    """Shocks, NAME or NAME:key=value,..."""
    objective: Literal[OBJECTIVES] | None = None
    """Reward objective in this variant (default: the config's)."""
    calibration: Path | None = None
    """A calibration.json (`nbasim calibrate`): the base's BG/NBD and Gamma-Gamma parameters,
    size and age structure on this scenario's stores and catalog (its size replaces
    `customers`; `overrides` still apply on top)."""
    customers: Customers | None = None
    """Customers in this variant (default: the config's), e.g. one variant per base size to
    see how a policy's results scale; not with a calibration, which sets the size."""

    @model_validator(mode="after")
    def _one_size(self) -> ScenarioVariant:
        if self.customers is not None and self.calibration is not None:
            raise ValueError(f"scenario {self.label!r}: customers = {self.customers} and a "
                             "calibration, which sets the size itself; give one of them")
        return self


class PolicySpec(FrozenModel):
    """One policy of the experiment."""

    label: str
    """Name of the policy in results (unique)."""
    policy: str | None = None
    """Registry name (see `nbasim policies`); default: the label."""
    params: dict[str, object] = Field(default_factory=dict)
    """Keyword parameters of the policy."""
    budget: NonNegative | None = None
    """Wrap the policy in budget pacing with this much money for the whole run."""
    objective: Literal[OBJECTIVES] | None = None
    """The reward this policy learns from (default: its own, as `causal_*` learn "uplift_opened";
    else the variant's, else the config's). The world is the same whatever the objective."""

    @property
    def name(self) -> str:
        """The registry name."""
        return self.policy or self.label

    @property
    def slate_size(self) -> int:
        """Offers per message its cells send: its params' `top_k` when an integer > 1, else 1."""
        k = self.params.get("top_k")
        return k if isinstance(k, int) and not isinstance(k, bool) and k > 1 else 1


class OPESpec(FrozenModel):
    """`nbasim ope-validate`: estimate targets from the behaviour policy's log."""

    behaviour: str
    """Label of the logging policy (it should explore: e.g. random, or a floor)."""
    targets: tuple[str, ...] = Field(min_length=1)
    """Labels of the policies whose value is estimated from the log (run on-policy too)."""
    estimators: tuple[str, ...] = ("dm", "ips", "snips", "dr", "sndr", "switch_dr")
    """Estimators to validate."""
    n_bootstrap: Annotated[int, Field(ge=10, le=10_000)] = 200
    """Bootstrap resamples of each interval."""


class ExperimentConfig(CampaignSettings):
    """A whole experiment: worlds x policies x seeds.

    The holdout, contact policy, budget and objective are the env's `CampaignSettings`,
    declared once there; an experiment needs a holdout (> 0) to measure uplift against. The
    contact rules per segment and offer are lists of tables: `segment_caps` ({segment,
    messages, days}: at most `messages` contact days in any `days` days, 1 to 32, for a
    customer in that RFM segment), `suppress` ({segment, offers}: offers never sent to the
    segment) and `offer_caps` ({offer, messages, days}: at most `messages` sends of the offer
    to a customer in any `days` days); what they stop shows as "segment_cap", "suppressed" and
    "offer_cap" among the rejected actions.
    """

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_-][A-Za-z0-9_.-]*$")]
    """Experiment name (letters, digits, _ . -, not starting with '.', so that ".." cannot
    lead out of <out>); results go to <out>/<name>/<run-id>."""
    customers: Customers = 3000
    """Customers in all (the day-0 base plus newcomers)."""
    days: Annotated[int, Field(ge=3, le=3650)] = 45
    """Days simulated; decisions are taken every day but the last."""
    seeds: tuple[Annotated[int, Field(ge=0)], ...] = (0, 1, 2)
    """Seeds: every policy runs on each, facing the same customers and organic draws."""
    epochs: Literal["daily", "moments"] = "daily"
    """Decision epochs: 'daily' (one campaign batch a day, the CampaignDay environment) or
    'moments' (NextBestAction-v0: customers turning at-risk, the daily campaign, checkouts at
    the till and abandoned carts, each decided when it happens; a policy is asked once per
    moment, `experiments.run.moments`; objectives 'margin' and 'ltv' only)."""
    decision_log: Literal["full", "actions", "none"] = "full"
    """decisions.parquet: 'full' (with contexts), 'actions' (without), or 'none'."""
    baseline: str | None = None
    """Label of the policy the others are compared against (default: the first)."""
    out: Path = Path("results")
    """Directory under which results/<name>/<run-id> is written."""
    scenarios: tuple[ScenarioVariant, ...] = Field((ScenarioVariant(),), min_length=1)
    """World variants (at least one)."""
    policies: tuple[PolicySpec, ...] = Field(min_length=1)
    """Policies to run (at least one)."""
    ope: OPESpec | None = None
    """Off-policy validation (`nbasim ope-validate`): behaviour and target policies."""
    currency: str = ""
    """How the report and its plots label money: "" ("money"), or 1 to 8 letters or currency
    symbols, at most one "$" ("EUR", "USD", "€", "$", "units"). A label only: the simulated
    amounts are the scenario's, whatever it says."""

    @field_validator("currency")
    @classmethod
    def _currency_label(cls, value: str) -> str:
        # At most one "$": two would open matplotlib's maths mode in every money label.
        ok = len(value) <= CURRENCY_CHARS and value.count("$") <= 1 and all(
            ch.isalpha() or unicodedata.category(ch) == "Sc" for ch in value)
        if not ok:
            raise ValueError(f"not a currency label; allowed: {CURRENCY_ALLOWED}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> ExperimentConfig:
        if self.holdout <= 0:
            raise ValueError(f"holdout = {self.holdout!r}: an experiment needs a holdout to "
                             "measure uplift against; allowed 0 < holdout < 1")
        for kind, labels in (("policies", [p.label for p in self.policies]),
                             ("scenarios", [s.label for s in self.scenarios])):
            if len(set(labels)) != len(labels):
                raise ValueError(f"{kind} labels repeat: {labels}; each must be unique")
            bad = [x for x in labels if not x or "/" in x or x.startswith(".")]
            if bad:
                raise ValueError(f"{kind} labels {bad}: must be non-empty, without '/' and not "
                                 "start with '.'")
        if len(set(self.seeds)) != len(self.seeds) or not self.seeds:
            raise ValueError(f"seeds = {list(self.seeds)}: at least one, no repeats")
        labels = [p.label for p in self.policies]
        if self.ope is not None:
            for name in (self.ope.behaviour, *self.ope.targets):
                if name not in labels:
                    raise ValueError(f"ope: {name!r} is not a policy label; labels: {labels}")
        if self.baseline is not None and self.baseline not in [p.label for p in self.policies]:
            raise ValueError(f"baseline = {self.baseline!r}: must be one of the policy labels "
                             f"{[p.label for p in self.policies]}")
        return self

    @property
    def baseline_label(self) -> str:
        """The policy compared against."""
        return self.baseline or self.policies[0].label


def objective_of(cfg: ExperimentConfig, variant: ScenarioVariant,
                 policy: PolicySpec | None = None) -> str:
    """The reward a policy learns from in a variant.

    The first set of: its spec's, its class's (`causal_*` learn "uplift_opened"), the
    variant's, the config's.
    """
    from nbasim import policies

    own = None if policy is None else (
        policy.objective or policies.policy_class(policy.name).objective)
    return own or variant.objective or cfg.objective


def variant_world(variant: ScenarioVariant, days: int) -> tuple[dict, int | None]:
    """A variant's scenario overrides (its calibration's under them) and the base's size.

    The size is the calibrated base's, or None without a calibration.
    """
    if variant.calibration is None:
        return dict(variant.overrides), None
    from nbasim.experiments.data.calibrate import scenario_from_calibration

    overrides, customers = scenario_from_calibration(variant.calibration, variant.scenario, days)
    return {**overrides, **variant.overrides}, customers


def load(path: Path) -> ExperimentConfig:
    """Read and validate a config file; every scenario, shock and policy name is checked.

    Raises:
        ParameterError: a missing or unreadable file, a directory, text that is not UTF-8, a
            TOML error, or a bad field, naming it.
    """
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ParameterError(f"config {path}: no such file") from None
    except IsADirectoryError:
        raise ParameterError(f"config {path}: is a directory; give a TOML file, e.g. "
                             "experiments/configs/quickstart.toml") from None
    except UnicodeDecodeError as err:
        bad = err.object[err.start:err.start + 1]
        raise ParameterError(f"config {path}: not UTF-8 text (byte {err.start} is {bad!r}); "
                             "save it as UTF-8") from None
    except OSError as err:
        raise ParameterError(f"config {path}: cannot be read: {err.strerror or err}") from None
    except tomllib.TOMLDecodeError as err:
        raise ParameterError(f"config {path}: not valid TOML: {err}") from None
    return parse(raw, str(path))


RECORDS = ("versions",)
"""Top-level tables a run writes into its config.toml as a record; ignored when read back."""


def parse(raw: dict, where: str = "config") -> ExperimentConfig:
    """Validate a config given as a dict (see `load`); a `[versions]` record is set aside."""
    from nbasim import policies

    for key in RECORDS:
        if key in raw and not isinstance(raw[key], dict):
            raise ParameterError(f"{where} field {key!r} = {raw[key]!r}: the package versions "
                                 "a run recorded; allowed: a table of names and versions")
    cfg = validate(ExperimentConfig, {k: v for k, v in raw.items() if k not in RECORDS}, where)
    for s in cfg.scenarios:
        try:
            overrides = variant_world(s, cfg.days)[0]
        except NbasimError as err:  # a calibration file that is missing or is not one
            raise ParameterError(f"{where}: scenarios[{s.label}].calibration = "
                                 f"'{s.calibration}': {err}") from None
        get_scenario(s.scenario, overrides)
        for text in s.shocks:
            shock = parse_shock(text)
            if shock.start_day >= cfg.days:  # the world refuses it too, but only at reset
                raise ParameterError(
                    f"{where}: scenarios[{s.label}].shocks: {text!r} starts on day "
                    f"{shock.start_day}, after the run's last day; allowed: start_day from 0 to "
                    f"{cfg.days - 1} (days = {cfg.days})")
    known = policies.available()
    for p in cfg.policies:
        if p.name not in known:
            raise ParameterError(f"{where}: policies[{p.label}].policy = {p.name!r}: unknown; "
                                 f"available: {', '.join(known)}")
        _check_slates(cfg, p, where)
        for s in cfg.scenarios:
            objective = objective_of(cfg, s, p)
            if cfg.epochs == "moments" and objective in WINDOW_OBJECTIVES:
                raise ParameterError(
                    f"{where}: policies[{p.label}] learns objective {objective!r} in scenario "
                    f"{s.label!r}: a window objective, CampaignDay-v0 only; with epochs = "
                    "'moments' allowed 'margin' or 'ltv' (set the policy's objective)")
    return cfg


def _check_slates(cfg: ExperimentConfig, p: PolicySpec, where: str) -> None:
    """A policy's `top_k`, its cells' slate size: at most `MAX_SLATE`, and `slate_size` if > 1.

    A top_k that is no positive integer is left to the policy's own check.
    """
    k = p.slate_size
    if k == 1:
        return
    if k > MAX_SLATE:
        raise ParameterError(f"{where}: policies[{p.label}].params.top_k = {k!r}: allowed an "
                             f"integer 1 to {MAX_SLATE} (offers per message)")
    if cfg.slate_size > 1 and k != cfg.slate_size:
        raise ParameterError(f"{where}: policies[{p.label}].params.top_k = {k} with slate_size "
                             f"= {cfg.slate_size}: allowed {cfg.slate_size}, or leave top_k out "
                             "(every policy fills the config's slates)")
