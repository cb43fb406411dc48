"""`nbasim calibrate-campaign`: effects measured in a past randomized test, as world settings.

The input is one row per customer of a past test: the arm the customer was randomized to
(the control arm got nothing), a 0/1 outcome (bought within the window after the send) and,
optionally, the spend in that window. For every arm against the control this module estimates
the lift in the outcome's mean and in spend, with Welch's unpooled standard error and a 95 %
Welch-t interval, then finds the offer effect that makes the world reproduce the lift.

Assumptions, also written into `campaign.json`:

- The outcome is conversion within the world's attribution window (`response.attribution_days`,
  7 days by default; `window_days` sets it to the test's window): 1 when the customer bought at
  least once in that window after the send, 0 otherwise. It must be 0/1 (true/false); an amount
  belongs in the spend column, and a NaN or empty outcome is an error, not a 0.
- Lifts are intent-to-treat: every randomized customer counts, whether or not the message
  reached them, and so does the world's blanket send (customers without consent to the channel
  or whom the message did not reach count with a lift of 0).
- The world's population stands for the tested base: the scenario's base at day 0 (alive or
  latent-dead, every lifecycle stage), or one built from a calibration (`base`). A test on one
  segment (say, lapsed customers only) is matched only on average.
- An arm named "offer:channel" got that offer through that channel once, at a send slot and in
  a wording spread evenly over the catalog's; "offer:channel:slot:wording" pins them.
- One `offer_effect` entry per offer: arms of one offer on several channels are fitted together
  by least squares, and each arm's `reproduced` says whether the world's lift under the
  settings lies in the arm's interval.
- An arm whose name maps to no catalog offer and channel (and that `--arm` does not map) is
  measured and written all the same (its lift and spend lift are worth having); it is only
  not fitted: its `action` and fit fields are null and `not_fitted` lists it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy import stats

from nbasim.experiments.data.translog import MAX_AMOUNT, DataError, Where, read_columns
from nbasim.experiments.store import atomic
from nbasim.sim import effects
from nbasim.sim.actions import SLOTS, build_catalog
from nbasim.sim.params import CHANNELS, OFFERS, WORDINGS, ParameterError, ScenarioParams, validate
from nbasim.sim.response_params import ResponseParams
from nbasim.sim.scenarios import get_scenario
from nbasim.sim.world import World

LEVEL = 0.95
_ATTRIBUTION_BOUNDS = tuple(
    getattr(m, k) for k in ("ge", "le")
    for m in ResponseParams.model_fields["attribution_days"].metadata if hasattr(m, k))
RESULT_FILE = "campaign.json"
DEFAULT_SCENARIO = "dry_cleaning_chain"
DEFAULT_CUSTOMERS = 50_000
ASSUMPTIONS = (
    "outcome: 1 when the customer bought at least once within the attribution window after the "
    "send (response.attribution_days of the world), else 0",
    "lifts are intent-to-treat over every randomized customer; the world's blanket send counts "
    "customers it cannot reach (no consent, not delivered, not opened) with a lift of 0",
    "population: the world's base at day 0 (every customer present, alive or not), standing for "
    "the tested base",
    "an arm 'offer:channel' was sent once, slot and wording spread evenly over the catalog's",
    "one offer_effect per offer: arms of one offer on several channels are fitted together",
    "spend lifts are reported, not fitted: the world's spend lift follows from the conversion "
    "lift and its baskets (world_spend_lift, gross of discounts)",
    "arms that map to no catalog offer and channel are measured, not fitted (not_fitted)",
)
NOT_FITTED = {"action": None, "offer_effect": None, "world_lift": None, "world_spend_lift": None,
              "reproduced": None, "fit": None}
"""The fit fields of an arm that maps to no catalog offer and channel."""


@dataclass(frozen=True)
class TestData:
    """A past test, one row per customer, in file order.

    Attributes:
        arm: (n,) str objects, the arm of each customer.
        outcome: (n,) float64, 0 or 1.
        spend: (n,) float64 >= 0, or None without a spend column.
    """

    arm: np.ndarray
    outcome: np.ndarray
    spend: np.ndarray | None


@dataclass(frozen=True)
class Difference:
    """Treated mean minus control mean, with Welch's standard error and interval."""

    lift: float
    se: float
    lo: float
    hi: float
    df: float


# ---------------------------------------------------------------------------------- reading
def read_test(path: str | Path, arm_col: str, outcome_col: str, spend_col: str | None = None,
              sep: str = ",") -> TestData:
    """Read and check a past test from CSV (any suffix but Parquet's) or Parquet.

    Raises:
        DataError: the file is missing, empty or unreadable, has no rows, lacks a column (the
            message lists the columns found), or has an empty arm, an outcome that is empty,
            NaN or not 0/1, or a spend that is empty, NaN, infinite, negative or above
            `translog.MAX_AMOUNT` (the message shows the row).
    """
    wanted = {"arm": arm_col, "outcome": outcome_col}
    if spend_col is not None:
        wanted["spend"] = spend_col
    table, where = read_columns(path, wanted, sep, text=("arm",), kind="file of a test",
                                rows="one row per customer")
    arm = _arms(table.column(arm_col), arm_col, where)
    outcome = _numbers(table.column(outcome_col), f"outcome column {outcome_col!r}", where,
                       binary=True)
    spend = None if spend_col is None else _numbers(
        table.column(spend_col), f"spend column {spend_col!r}", where, binary=False)
    return TestData(arm, outcome, spend)


def _first(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def _arms(col: pa.ChunkedArray, name: str, where: Where) -> np.ndarray:
    text = col if pa.types.is_string(col.type) else pc.cast(col, pa.string())
    values = text.to_numpy(zero_copy_only=False).astype(object)
    empty = np.array([v is None or not str(v).strip() for v in values])
    if empty.any():
        raise DataError(f"{where.row(_first(empty))}: arm column {name!r} is empty "
                        "(every customer needs the arm they were randomized to)")
    return np.array([str(v).strip() for v in values], dtype=object)


def _numbers(col: pa.ChunkedArray, what: str, where: Where, binary: bool) -> np.ndarray:
    allowed = "0 or 1 (bought within the window or not; amounts belong in the spend column)" \
        if binary else (f"a number from 0 to {MAX_AMOUNT:g} (write 0 for customers who spent "
                        "nothing)")
    if col.null_count:
        i = _first(np.asarray(pc.is_null(col).to_numpy(zero_copy_only=False)))
        raise DataError(f"{where.row(i)}: {what} is empty or NaN; allowed: {allowed}")
    if pa.types.is_boolean(col.type):
        col = pc.cast(col, pa.float64())
    if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
        values = col.to_numpy(zero_copy_only=False)
        for i, v in enumerate(values):
            try:
                float(v)
            except (TypeError, ValueError):
                raise DataError(f"{where.row(i)}: {what} has {v!r}, which is not a "
                                f"number; allowed: {allowed}") from None
        col = pc.cast(col, pa.float64())
    x = col.to_numpy().astype(np.float64)
    bad = ~np.isin(x, (0.0, 1.0)) if binary else ~np.isfinite(x) | (x < 0) | (x > MAX_AMOUNT)
    if bad.any():
        i = _first(bad)
        raise DataError(f"{where.row(i)}: {what} has {float(x[i])!r}; allowed: "
                        f"{allowed} ({int(bad.sum())} such rows)")
    return x


# ------------------------------------------------------------------------------- statistics
def welch(treated: np.ndarray, control: np.ndarray, level: float = LEVEL) -> Difference:
    """Difference in means with Welch's unpooled standard error and t interval.

    se = sqrt(s_t^2 / n_t + s_c^2 / n_c) with sample variances (ddof 1); the interval is
    lift +- t_{(1 + level) / 2, df} x se with the Welch-Satterthwaite df (a point when se = 0).

    Args:
        treated: (n_t,) outcomes of the arm, n_t >= 2.
        control: (n_c,) outcomes of the control, n_c >= 2.
        level: coverage of the interval.
    """
    n_t, n_c = treated.size, control.size
    v_t, v_c = treated.var(ddof=1) / n_t, control.var(ddof=1) / n_c
    lift = float(treated.mean() - control.mean())
    se = float(np.sqrt(v_t + v_c))
    if se == 0:
        return Difference(lift, 0.0, lift, lift, float("inf"))
    df = float((v_t + v_c) ** 2 / (v_t ** 2 / (n_t - 1) + v_c ** 2 / (n_c - 1)))
    half = float(stats.t.ppf((1 + level) / 2, df)) * se
    return Difference(lift, se, lift - half, lift + half, df)


def arm_lifts(data: TestData, control: str) -> dict[str, dict]:
    """Per arm other than `control`: lift, se, ci (and spend_*), n, df, means.

    Raises:
        DataError: the control is not in the data (the message lists the arms found), no other
            arm is, or an arm has fewer than 2 customers.
    """
    names, counts = np.unique(data.arm.astype(str), return_counts=True)
    found = ", ".join(f"{a!r} ({c})" for a, c in zip(names.tolist(), counts.tolist(),
                                                      strict=True))
    if control not in names:
        raise DataError(f"control arm {control!r} is not in the data; the arms found (with "
                        f"customers) are {found}")
    if names.size < 2:
        raise DataError(f"only the control arm {control!r} is in the data: nothing to compare")
    small = [a for a, c in zip(names.tolist(), counts.tolist(), strict=True) if c < 2]
    if small:
        raise DataError(f"arm {small[0]!r} has fewer than 2 customers: a standard error needs "
                        f"at least 2 per arm; the arms found are {found}")
    is_control = data.arm == control
    out = {}
    for name in names.tolist():
        if name == control:
            continue
        mine = data.arm == name
        d = welch(data.outcome[mine], data.outcome[is_control])
        row = {"lift": d.lift, "se": d.se, "ci": [d.lo, d.hi], "df": d.df,
               "rate": float(data.outcome[mine].mean()), "n": int(mine.sum())}
        if data.spend is not None:
            s = welch(data.spend[mine], data.spend[is_control])
            row |= {"spend_lift": s.lift, "spend_se": s.se, "spend_ci": [s.lo, s.hi],
                    "spend": float(data.spend[mine].mean())}
        else:
            row |= {"spend_lift": None, "spend_se": None, "spend_ci": None, "spend": None}
        out[name] = row
    return out


# --------------------------------------------------------------------------- arms -> world
def allowed_arms() -> str:
    """What an arm name or mapping may say, for error messages."""
    return (f"'offer:channel' or 'offer:channel:slot:wording' with offer one of "
            f"{', '.join(OFFERS[1:])}; channel one of {', '.join(CHANNELS)}; slot one of "
            f"{', '.join(SLOTS)} or *; wording one of {', '.join(WORDINGS)} or *")


def parse_arm_map(items: Sequence[str]) -> dict[str, str]:
    """Turn `ARM=offer:channel` items (a repeatable CLI option) into an arms mapping.

    Raises:
        ParameterError: an item without '=' or with an empty side.
    """
    out = {}
    for item in items:
        name, eq, action = str(item).partition("=")
        if not eq or not name.strip() or not action.strip():
            raise ParameterError(f"--arm {item!r}: expected ARM=offer:channel, e.g. "
                                 "--arm promo_a=discount_20:email")
        out[name.strip()] = action.strip()
    return out


def match_arms(names: Sequence[str], arms: Mapping[str, str] | None = None
               ) -> dict[str, effects.Arm]:
    """The catalog offer and channel of each arm, by the `arms` mapping or by its own name.

    An arm without a mapping whose name names no catalog offer and channel is left out (its
    lift is measured, not fitted).

    Raises:
        DataError: a mapping entry that names no offer and channel, or one for an arm not in
            the data; the message lists what is allowed.
    """
    arms = dict(arms or {})
    unknown = [k for k in arms if k not in names]
    if unknown:
        raise DataError(f"arm mapping names {unknown[0]!r}, which is not an arm of the data; "
                        f"the arms found are {', '.join(map(repr, names))}")
    out = {}
    for name in names:
        text = arms.get(name, name)
        arm = effects.parse_arm(text)
        if arm is None and name in arms:
            raise DataError(f"arm {name!r} mapped to {text!r} matches no catalog offer and "
                            f"channel; allowed: {allowed_arms()} (map an arm with "
                            "ARM=offer:channel)")
        if arm is not None:
            out[name] = arm
    return out


def fit_settings(lifts: Mapping[str, dict], matched: Mapping[str, effects.Arm],
                 params: ScenarioParams, customers: int = DEFAULT_CUSTOMERS, seed: int = 0,
                 ) -> tuple[dict, dict[str, dict]]:
    """Offer effects under which blanket sends of the arms reproduce their measured lifts.

    Builds `params`' world of `customers` on `seed`, takes its base after day 0 and, offer by
    offer, solves for `offer_effect` with `effects.fit_offer_effect`.

    Args:
        lifts: per arm, at least "lift" and "se" (from `arm_lifts`).
        matched: per arm, its catalog offer and channel (from `match_arms`).
        params: the world's parameters (every other setting kept).
        customers: size of the simulated base.
        seed: its seed.

    Returns:
        (offer_effect as a list in `OFFERS` order, per arm: action, offer_effect, world_lift,
        world_spend_lift, reproduced, fit).
    """
    if not lifts:  # no arm maps to the catalog: nothing to fit
        return list(params.response.offer_effect), {}
    world = World(params, customers, params.response.attribution_days + 2, seed)
    world.step()
    base = world.customers_for_response(np.arange(world.n_present))
    catalog = build_catalog()
    up = world.mods.channel_up[world.today]
    rp = params.response
    offer_effect = list(rp.offer_effect)
    per_arm: dict[str, dict] = {}
    for offer in sorted({matched[a].offer for a in lifts}):
        names = [a for a in lifts if matched[a].offer == offer]
        targets = [effects.Target(effects.arm_actions(catalog, matched[a]), lifts[a]["lift"],
                                  lifts[a]["se"]) for a in names]
        fit = effects.fit_offer_effect(base, catalog, rp, offer, targets, up)
        offer_effect[offer] = fit.offer_effect
        for a, lift, spend in zip(names, fit.lifts.tolist(), fit.spend_lifts.tolist(),
                                  strict=True):
            lo, hi = lifts[a]["ci"]
            per_arm[a] = {"action": matched[a].label(), "offer_effect": fit.offer_effect,
                          "world_lift": lift, "world_spend_lift": spend,
                          "reproduced": bool(lo <= lift <= hi), "fit": fit.method}
    return offer_effect, per_arm


def apply_settings(overrides: Mapping[str, object] | None, settings: Mapping[str, object]
                   ) -> dict[str, object]:
    """Scenario overrides with `settings` (the "settings" of campaign.json) layered on top.

    The "response" dicts are merged key by key, so other response overrides are kept; pass the
    result to `get_scenario(name, ...)`.
    """
    out = dict(overrides or {})
    for key, value in settings.items():
        if key == "response" and isinstance(out.get("response"), Mapping):
            out["response"] = {**out["response"], **value}
        else:
            out[key] = value
    return out


# ---------------------------------------------------------------------------------- command
def check_window(window_days: object, name: str = "window_days") -> None:
    """Refuse an outcome window the world's attribution window cannot take (None: the world's).

    Raises:
        ParameterError: naming `name` (the option as the caller knows it), the value and the
            allowed days.
    """
    if window_days is None:
        return
    lo, hi = _ATTRIBUTION_BOUNDS
    if isinstance(window_days, bool) or not isinstance(window_days, int | np.integer) \
            or not lo <= window_days <= hi:
        said = f"{name} {window_days!r}" if name.startswith("--") else f"{name} = {window_days!r}"
        raise ParameterError(f"{said}: must be a whole number of days from "
                             f"{lo} to {hi} (the test's outcome window, which becomes the "
                             "world's attribution window)")


def default_out(path: str | Path) -> Path:
    """results/calibrate-campaign/<file stem> (".csv.gz" and the like stripped whole)."""
    name = Path(path).name
    return Path("results") / "calibrate-campaign" / (name.split(".", 1)[0] or name)


def check_target(out: Path) -> None:
    """Refuse an `out` that is a file, or a non-empty directory not written by this command."""
    atomic.check_target(out, RESULT_FILE, "a calibrate-campaign result")


def calibrate_campaign(
    path: str | Path,
    arm_col: str,
    control: str,
    outcome_col: str,
    spend_col: str | None = None,
    sep: str = ",",
    out: str | Path | None = None,
    arms: Mapping[str, str] | None = None,
    *,
    scenario: str = DEFAULT_SCENARIO,
    overrides: Mapping[str, object] | None = None,
    base: ScenarioParams | None = None,
    customers: int = DEFAULT_CUSTOMERS,
    seed: int = 0,
    window_days: int | None = None,
) -> tuple[dict, Path]:
    """Measure each arm's lift over control and fit the world's offer effects to it.

    Everything is checked before any work and nothing is written on an error; `campaign.json`
    is staged and renamed into place.

    Args:
        path: the test, one row per customer (CSV, or Parquet by suffix .parquet / .pq).
        arm_col: column of the arm each customer was randomized to.
        control: the arm that got nothing.
        outcome_col: column of the 0/1 outcome (bought within the window).
        spend_col: optional column of spend in the window (>= 0).
        sep: CSV separator.
        out: results directory [default: results/calibrate-campaign/<file stem>].
        arms: arm name -> "offer:channel[:slot[:wording]]" for arms whose names are not.
        scenario: the world the settings are for (ignored with `base`).
        overrides: its scenario overrides (a calibrated population's, for instance).
        base: the world's parameters, when built otherwise (say from a calibration); the
            settings are then meant for it.
        customers: size of the simulated base the blanket sends reach.
        seed: its seed.
        window_days: the test's outcome window in days, when it differs from the world's
            attribution window; written into the settings as response.attribution_days.

    Returns:
        (the result as written, the results directory).

    Raises:
        DataError: bad data (see `read_test`, `arm_lifts`, `match_arms`).
        ParameterError: a bad scenario, override, size, seed, window or `out`.
    """
    target = Path(out) if out is not None else default_out(path)
    check_target(target)
    if isinstance(customers, bool) or not isinstance(customers, int | np.integer) \
            or customers < 100:
        raise ParameterError(f"customers = {customers!r}: must be an integer >= 100")
    given = dict(overrides or {})
    response_given = given.get("response", {})
    if not isinstance(response_given, Mapping):
        raise ParameterError(f"scenario override 'response' = {response_given!r}: must be a "
                             "table of response fields")
    check_window(window_days)
    extra = {} if window_days is None else {"attribution_days": window_days}
    if base is None:
        params = get_scenario(scenario, apply_settings(given, {"response": extra}))
    elif extra:
        params = validate(ScenarioParams, base.model_dump() | {
            "response": base.response.model_dump() | extra}, "scenario")
    else:
        params = base
    data = read_test(path, arm_col, outcome_col, spend_col, sep)
    lifts = arm_lifts(data, control)
    matched = match_arms(list(lifts), arms)
    not_fitted = [a for a in lifts if a not in matched]
    offer_effect, fitted = fit_settings({a: lifts[a] for a in matched}, matched, params,
                                        int(customers), seed)
    # The response fields the world was given (a window, a user's own), then the fitted effects.
    rp = params.response
    settings = {"response": rp.model_dump(mode="json", include=rp.model_fields_set)
                | {"offer_effect": offer_effect}}
    is_control = data.arm == control
    result = {
        "arms": {a: lifts[a] | fitted.get(a, NOT_FITTED) for a in lifts},
        "not_fitted": not_fitted,
        "control": {"name": control, "n": int(is_control.sum()),
                    "rate": float(data.outcome[is_control].mean()),
                    "spend": None if data.spend is None else float(
                        data.spend[is_control].mean())},
        "settings": settings,
        "world": {"scenario": params.name if base is not None else scenario,
                  "overrides": given if base is None else None,
                  "customers": int(customers), "seed": seed,
                  "attribution_days": params.response.attribution_days, "level": LEVEL},
        "source": {"file": str(path), "rows": int(data.arm.size), "arm_col": arm_col,
                   "outcome_col": outcome_col, "spend_col": spend_col},
        "assumptions": list(ASSUMPTIONS),
    }
    with atomic.staged_dir(target) as stage:
        atomic.write_json(stage / RESULT_FILE, result)
    return result, target
