"""`nbasim calibrate`: BG/NBD and Gamma-Gamma fitted to a transaction log, written whole.

Reads the log (`experiments.data.translog`), merges a customer's purchases of one day, builds the
calibration summary up to `end`, fits both models (`sim.calibration`) and writes
`DIR/calibration.json`: the estimates with standard errors, log-likelihood and convergence
report, the counts and the period, what the log looks like (one-time buyers, frequency,
recency) and the size and age structure that `scenario_from_calibration` turns into scenario
overrides, so that `nbasim simulate --calibration` rebuilds the base as a world. When the log
runs past `end`, the classic checks of Fader, Hardie and Lee (2005) are added: weekly repeat
transactions against the model's expectation (incremental and cumulative), and the
conditional expectation of holdout transactions by
calibration frequency, as numbers in the JSON and as PNGs drawn from it.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.compute as pc  # noqa: E402
from rich.table import Table  # noqa: E402

from nbasim.errors import NbasimError  # noqa: E402
from nbasim.experiments.data.translog import (  # noqa: E402
    DataError,
    TransactionLog,
    read_log,
    today_date,
)
from nbasim.experiments.store import atomic  # noqa: E402
from nbasim.sim import calibration as cal  # noqa: E402

RESULTS = Path("results") / "calibrate"
AGE_BINS = 120  # bins of the join-age histogram (fewer when the log spans fewer days)
MAX_BURN_IN_DAYS = 3650  # the population builder's limit on join ages
CONDITIONAL_MAX_X = 7  # calibration frequencies 0..6 apart, 7 and more together
FORMAT_VERSION = 1


def calibrate(path: str | Path, customer_col: str, date_col: str, amount_col: str,
              date_format: str | None = None, end: str | dt.date | None = None,
              time_unit: str = "week", sep: str = ",",
              out: str | Path | None = None) -> tuple[dict, Path]:
    """Fit BG/NBD and Gamma-Gamma to a transaction log and write `out/calibration.json`.

    Args:
        path: CSV or Parquet transaction log (see `experiments.data.translog.read_log`).
        customer_col: name of the customer id column.
        date_col: name of the date column.
        amount_col: name of the amount column.
        date_format: strptime format of the dates; None reads ISO dates.
        end: last day of the calibration period ("YYYY-MM-DD" or a date); None: the log's last
            date, which may not be later than tomorrow. Transactions after it form the holdout
            used by the checks; how many there are is in `counts.transactions_after_end`.
        time_unit: "week" or "day": the unit of alpha (and of t_x and T).
        sep: CSV separator.
        out: results directory; None: `results/calibrate/<file stem>`.

    Returns:
        The dict written as `calibration.json`, and the results directory.

    Raises:
        DataError: bad options or data (see `read_log`); nothing is written.
    """
    if time_unit not in cal.TIME_UNITS:
        raise DataError(f"time unit {time_unit!r}: allowed are {', '.join(cal.TIME_UNITS)}")
    path = Path(path)
    out = Path(out) if out is not None else RESULTS / path.name.split(".")[0]
    check_target(out)
    end = _parse_end(end)
    # Without an end, the log's last date ends the fit: a row dated in the future (a typo, a
    # misread format) would stretch every customer's observation period, so it is refused.
    log = read_log(path, customer_col, date_col, amount_col, date_format=date_format, sep=sep,
                   today=today_date() if end is None else None,
                   future_hint="; or give --end, the last day to fit (later rows are then the "
                               "holdout the checks compare against)")
    result = fit_log(log, end=end, time_unit=time_unit)
    result["source"] = {"file": str(path), "customer_col": customer_col, "date_col": date_col,
                        "amount_col": amount_col, "date_format": date_format, "sep": sep}
    with atomic.staged_dir(out) as stage:
        atomic.write_json(stage / "calibration.json", result)
        result["plots"] = plot_checks(stage)
        atomic.write_json(stage / "calibration.json", result)
    return result, out


def check_target(out: Path) -> None:
    """Refuse an `out` that is a file, or a non-empty directory that is not a calibration."""
    atomic.check_target(out, "calibration.json", "an nbasim calibration",
                        "an earlier calibration", error=DataError)


def _parse_end(end: str | dt.date | None) -> np.datetime64 | None:
    if end is None:
        return None
    try:
        value = np.datetime64(end if isinstance(end, dt.date) else str(end).strip(), "D")
    except ValueError:
        raise DataError(f"end = {end!r}: not a date; give an ISO date such as 2024-03-31") \
            from None
    if np.isnat(value):
        raise DataError(f"end = {end!r}: not a date; give an ISO date such as 2024-03-31")
    return value


def customer_index(customer: np.ndarray) -> np.ndarray:
    """Customer ids (str objects, or integers) as dense int64 indices 0..n_customers-1."""
    if customer.dtype.kind in "iu":
        return np.unique(customer, return_inverse=True)[1].astype(np.int64)
    encoded = pc.dictionary_encode(pa.array(customer, type=pa.string()))
    return encoded.indices.to_numpy().astype(np.int64)


def fit_log(log: TransactionLog, end: np.datetime64 | None = None,
            time_unit: str = "week") -> dict:
    """Everything `calibration.json` holds except the source and plots, from a read log.

    Args:
        log: the transactions.
        end: last day of the calibration period; None: the last date of the log.
        time_unit: "week" or "day".

    Raises:
        DataError: `end` outside the log's period, or too few customers to fit.
    """
    unit = cal.TIME_UNITS[time_unit]
    day = log.day.astype(np.int64)  # days since 1970-01-01
    first_date, last_date = int(day.min()), int(day.max())
    end_day = last_date if end is None else int(end.astype(np.int64))
    if not first_date <= end_day <= last_date:
        raise DataError(f"end = {_iso(end_day)}: must fall within the log's period "
                        f"{_iso(first_date)} to {_iso(last_date)}")
    cust, mday, mamt = cal.merge_days(customer_index(log.customer), day, log.amount)
    s = cal.summarize(cust, mday, mamt, end=end_day, time_unit=time_unit)
    repeaters = int(np.count_nonzero(s.x > 0))
    if s.n_customers < 10 or repeaters < 3:
        raise DataError(f"the calibration period up to {_iso(end_day)} has {s.n_customers} "
                        f"customers and {repeaters} with a repeat purchase; BG/NBD needs at "
                        "least 10 customers and 3 repeat buyers (move end later?)")
    bg = cal.fit_bgnbd(s.x, s.t_x, s.T)
    try:
        gg: dict | None = cal.fit_gamma_gamma(s.x, s.m_x).as_dict()
        gg_note = None
    except ValueError as err:
        gg, gg_note = None, str(err)
    result: dict = {
        "format_version": FORMAT_VERSION,
        "time_unit": time_unit,
        "period": {"first_date": _iso(first_date), "last_date": _iso(last_date),
                   "end": _iso(end_day), "calibration_days": end_day - first_date + 1,
                   "holdout_days": last_date - end_day},
        "counts": {"transactions": len(log), "purchase_days": int(mday.size),
                   "purchase_days_calibration": int(np.count_nonzero(mday <= end_day)),
                   "transactions_after_end": int(np.count_nonzero(day > end_day)),
                   "customers_in_log": int(cust.max()) + 1 if cust.size else 0,
                   "customers": s.n_customers, "repeaters": repeaters},
        "bgnbd": bg.as_dict(),
        "gamma_gamma": gg,
        "population": population_structure(s, end_day, unit),
        "observed": observed(s, unit),
    }
    if gg_note:
        result["gamma_gamma_note"] = gg_note
    result["bgnbd"]["alpha_per_week"] = bg.params["alpha"] * unit / 7.0
    if last_date > end_day:
        result["holdout"] = holdout_checks(s, cust, mday, end_day, last_date, bg.params, unit)
    return result


def _iso(day: int) -> str:
    return str(np.datetime64(int(day), "D"))


def population_structure(s: cal.Summary, end_day: int, unit: int) -> dict:
    """Size and age structure of the customer base at `end_day`, to rebuild it as a world.

    A customer's join age is the days from the first purchase to the day after `end`
    (1 for a first purchase on `end`), as in the simulator, where the base present at day 0
    joined on days -1, -2, .... Ages beyond `MAX_BURN_IN_DAYS` are folded into the last bin.
    The acquisition rate is the newcomers per day over the last 365 days (or the whole
    period, if shorter) as a share of the base at `end`.
    """
    age = end_day + 1 - s.first_day
    span = int(min(age.max(), MAX_BURN_IN_DAYS))
    k = min(AGE_BINS, span)
    edges = np.round(np.linspace(0, span, k + 1)).astype(np.int64)
    counts = np.histogram(np.minimum(age, span), bins=edges + 0.5)[0]
    window = max(min(365, int(age.max()) - 1), 1)  # the oldest customers are not newcomers
    newcomers = int(np.count_nonzero(age <= window))
    return {"customers": s.n_customers, "start_date": _iso(end_day + 1),
            "burn_in_days": span, "age_edges_days": edges.tolist(),
            "age_counts": counts.tolist(), "ages_beyond_limit": int(np.count_nonzero(
                age > MAX_BURN_IN_DAYS)),
            "acquisition_rate_per_day": newcomers / window / s.n_customers}


def observed(s: cal.Summary, unit: int) -> dict:
    """What the calibration base looks like: one-time buyers, frequency, recency and spend."""
    recency_days = (s.T - s.t_x) * unit
    q = (0.1, 0.25, 0.5, 0.75, 0.9)
    return {"one_time_share": float(np.mean(s.x == 0)),
            "mean_repeat_transactions": float(np.mean(s.x)),
            "mean_age_days": float(np.mean(s.T) * unit),
            "recency_days_quantiles": dict(zip(map(str, q),
                                               np.quantile(recency_days, q).tolist(),
                                               strict=True)),
            "mean_repeat_spend": float(np.nanmean(s.m_x)) if np.any(s.x > 0) else None}


def holdout_checks(s: cal.Summary, cust: np.ndarray, mday: np.ndarray, end_day: int,
                   last_day: int, params: dict, unit: int) -> dict:
    """Weekly tracking of repeat transactions and the conditional expectation by frequency.

    Tracking (FHL 2005, figures 2 and 3): for the customers whose first purchase falls before
    `end`, repeat transactions per week over the whole log, against sum_i E[X(t - first_i)]
    of the fitted model; weeks end on `end` + 7 j, so one of them closes the calibration.
    Conditional expectation (their figure 4): mean holdout repeat transactions of the
    customers with each calibration frequency, against the mean of E[Y(t) | x, t_x, T].
    """
    bg = (params["r"], params["alpha"], params["a"], params["b"])
    in_cohort = np.zeros(int(cust.max()) + 1, dtype=bool)
    in_cohort[s.customer] = True
    first_of = np.full(in_cohort.size, np.iinfo(np.int64).max)
    first_of[s.customer] = s.first_day
    keep = in_cohort[cust] & (mday > first_of[cust])  # repeat purchase days of the cohort
    repeat_day = mday[keep]
    first_date = int(s.first_day.min())
    j0 = -((end_day - first_date) // 7)
    j1 = -(-(last_day - end_day) // 7)
    bounds = end_day + 7 * np.arange(j0, j1 + 1)  # last day of each week, inclusive
    bounds[-1] = min(bounds[-1], last_day)
    actual_cum = np.searchsorted(np.sort(repeat_day), bounds, side="right")
    cohorts, n_c = np.unique(s.first_day, return_counts=True)
    grid = cal.bgnbd_expected(np.arange(last_day - first_date + 1) / unit, *bg)
    elapsed = np.clip(bounds[:, None] - cohorts[None, :], 0, None)
    expected_cum = (grid[elapsed] * n_c[None, :]).sum(axis=1)

    t_holdout = (last_day - end_day) / unit
    cond = cal.bgnbd_conditional(t_holdout, s.x, s.t_x, s.T, *bg)
    holdout_x = np.bincount(cust[keep & (mday > end_day)], minlength=in_cohort.size)[s.customer]
    group = np.minimum(s.x, CONDITIONAL_MAX_X).astype(np.int64)
    k = CONDITIONAL_MAX_X + 1
    size = np.bincount(group, minlength=k)
    with np.errstate(invalid="ignore", divide="ignore"):
        actual_mean = (np.bincount(group, holdout_x, minlength=k) / size).tolist()
        expected_mean = (np.bincount(group, cond, minlength=k) / size).tolist()
    calib = bounds <= end_day
    return {
        "holdout_days": last_day - end_day,
        "tracking": {"week_end": [_iso(b) for b in bounds],
                     "in_calibration": calib.tolist(),
                     "actual_cumulative": actual_cum.tolist(),
                     "expected_cumulative": expected_cum.tolist()},
        "holdout_actual": int(actual_cum[-1] - actual_cum[calib][-1]),
        "holdout_expected": float(expected_cum[-1] - expected_cum[calib][-1]),
        "holdout_expected_conditional": float(cond.sum()),
        "conditional": {"calibration_x": [str(i) for i in range(k - 1)] + [f"{k - 1}+"],
                        "customers": size.tolist(),
                        "actual_mean": [v if np.isfinite(v) else None for v in actual_mean],
                        "expected_mean": [v if np.isfinite(v) else None for v in expected_mean]},
    }


def plot_checks(run_dir: Path) -> list[str]:
    """Draw the holdout checks from `run_dir/calibration.json` (nothing without a holdout).

    Returns:
        Paths of the PNGs relative to `run_dir`.
    """
    run_dir = Path(run_dir)
    result = json.loads((run_dir / "calibration.json").read_text())
    hold = result.get("holdout")
    if not hold:
        return []
    (run_dir / "plots").mkdir(exist_ok=True)
    tr = hold["tracking"]
    weeks = np.array(tr["week_end"], dtype="datetime64[D]")
    actual = np.asarray(tr["actual_cumulative"], dtype=float)
    expected = np.asarray(tr["expected_cumulative"], dtype=float)
    end = np.datetime64(result["period"]["end"])
    names = []
    for name, a, e, title in (
            ("tracking_cumulative.png", actual, expected, "Cumulative repeat transactions"),
            ("tracking_weekly.png", np.diff(actual, prepend=0.0), np.diff(expected, prepend=0.0),
             "Repeat transactions per week")):
        fig, ax = plt.subplots(figsize=(9, 4.5), constrained_layout=True)
        ax.plot(weeks, a, label="actual", color="black")
        ax.plot(weeks, e, label="BG/NBD expected", color="tab:blue", linestyle="--")
        ax.axvline(end, color="grey", linestyle=":", label="end of calibration")
        ax.set_title(f"{title} (customers who joined by {result['period']['end']})")
        ax.set_xlabel("week ending")
        ax.legend()
        fig.savefig(run_dir / "plots" / name, dpi=100)
        plt.close(fig)
        names.append(f"plots/{name}")
    c = hold["conditional"]
    xs = np.arange(len(c["calibration_x"]))
    fig, ax = plt.subplots(figsize=(7, 4.5), constrained_layout=True)
    ax.plot(xs, [np.nan if v is None else v for v in c["actual_mean"]], "o-", color="black",
            label="actual")
    ax.plot(xs, [np.nan if v is None else v for v in c["expected_mean"]], "s--",
            color="tab:blue", label="BG/NBD E[Y(t) | x, t_x, T]")
    ax.set_xticks(xs, c["calibration_x"])
    ax.set_xlabel("repeat transactions in the calibration period")
    ax.set_ylabel(f"mean transactions in the {hold['holdout_days']}-day holdout")
    ax.set_title("Conditional expectation by calibration frequency")
    ax.legend()
    fig.savefig(run_dir / "plots" / "conditional_expectation.png", dpi=100)
    plt.close(fig)
    names.append("plots/conditional_expectation.png")
    return names


def table(result: dict) -> Table:
    """A rich table of the estimates, standard errors, fit and counts, for the CLI."""
    unit = result["time_unit"]
    t = Table("model", "parameter", "estimate", "std. error",
              title=f"Calibration {result['period']['first_date']} to {result['period']['end']}"
                    f" (alpha per {unit})")
    for model, key, names in (("BG/NBD", "bgnbd", cal.BGNBD_PARAMS),
                              ("Gamma-Gamma", "gamma_gamma", cal.GG_PARAMS)):
        fit = result.get(key)
        if fit is None:
            t.add_row(model, "-", "not fitted", result.get(f"{key}_note", ""))
            continue
        for i, name in enumerate(names):
            se = fit["se"][name]
            t.add_row(model if i == 0 else "", name, f"{fit[name]:.4g}",
                      "-" if se is None else f"{se:.3g}")
        t.add_row("", "log-likelihood", f"{fit['loglik']:.2f}", "")
        t.add_row("", "converged", "yes" if fit["converged"] else f"NO: {fit['message']}",
                  f"{fit['iterations']} iterations")
    c = result["counts"]
    t.add_section()
    t.add_row("data", "customers", f"{c['customers']:,}", f"{c['repeaters']:,} repeat buyers")
    t.add_row("", "transactions", f"{c['transactions']:,}",
              f"{c['purchase_days']:,} customer-days")
    if c.get("transactions_after_end"):
        t.add_row("", "after end", f"{c['transactions_after_end']:,}",
                  "the holdout: not fitted, checked against the fit")
    hold = result.get("holdout")
    if hold:
        t.add_row("holdout", f"{hold['holdout_days']} days", f"{hold['holdout_actual']:,} actual",
                  f"{hold['holdout_expected_conditional']:,.0f} expected")
    return t


def load_calibration(path_or_dict: str | Path | dict) -> dict:
    """A calibration as a dict: read from a `calibration.json` path, or given as one.

    Raises:
        DataError: the file is missing or not a calibration written by `calibrate`.
    """
    if isinstance(path_or_dict, dict):
        data = path_or_dict
        where = "calibration"
    else:
        path = Path(path_or_dict)
        if path.is_dir():
            path = path / "calibration.json"
        where = str(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise DataError(f"{path}: no such file (a calibration.json written by "
                            "`nbasim calibrate` is expected)") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise DataError(f"{path}: not a JSON calibration: {err}") from None
    for key in ("bgnbd", "population", "time_unit"):
        if not isinstance(data, dict) or key not in data:
            raise DataError(f"{where}: no {key!r} entry; a calibration.json written by "
                            "`nbasim calibrate` is expected")
    return data


def scenario_from_calibration(path_or_dict: str | Path | dict,
                              base_scenario: str = "retail_chain",
                              days: int = 365) -> tuple[dict, int]:
    """Scenario overrides and a customer count that rebuild a calibrated base as a world.

    The overrides set, on top of `base_scenario` (its stores, catalog, seasonality, channels
    and response model stay):
    - bgnbd_r, bgnbd_alpha, bgnbd_a, bgnbd_b: the BG/NBD fit, alpha converted to per week
      (the scenario's unit; alpha per day / 7 for a daily calibration);
    - gg_p, gg_q, gg_gamma: the Gamma-Gamma fit (p, q, v), and spend_scale = 1 / the mean
      category price level of the base scenario (weighted by category affinity), so that a
      basket averages what the log's repeat purchases do (only when Gamma-Gamma was fitted);
    - purchase_process = "poisson" and churn_base = 0: the fitted dropout is the whole churn;
    - burn_in_days and burn_in_profile: the log's join ages at the end of the calibration;
    - acquisition_rate: the log's newcomers per day over its last year, per base customer;
    - start_date: the day after the calibration period.

    Args:
        path_or_dict: a `calibration.json` (or its directory), or its dict.
        base_scenario: name of the preset the calibration is layered on.
        days: horizon of the simulation; sets how many arrivals to add to the base.

    Returns:
        (overrides, customers): pass both to `get_scenario(base_scenario, overrides)` and
        `World(params, customers, days, seed)` (or `SimulationSpec(scenario=base_scenario,
        customers=customers, overrides=overrides, ...)`); the base present at day 0 then has
        the log's size, and `customers` rows include the arrivals over `days`.

    Raises:
        DataError: not a calibration, or a fit the world cannot take (e.g. q <= 1, whose mean
            spend is infinite); the message names the value.
        ParameterError: an unknown base scenario (from `get_scenario`).
    """
    from nbasim.sim.scenarios import get_scenario

    data = load_calibration(path_or_dict)
    unit = cal.TIME_UNITS.get(data["time_unit"])
    if unit is None:
        raise DataError(f"calibration time_unit {data['time_unit']!r}: allowed are "
                        f"{', '.join(cal.TIME_UNITS)}")
    base = get_scenario(base_scenario)
    try:  # a hand-edited or damaged file: a missing entry or a value of the wrong type
        overrides, customers = _calibrated(data, unit, base, days)
    except (KeyError, IndexError, TypeError, ValueError) as err:
        if isinstance(err, NbasimError):
            raise
        where = "calibration" if isinstance(path_or_dict, dict) else str(path_or_dict)
        detail = f"no entry {err}" if isinstance(err, KeyError) else str(err)
        raise DataError(f"{where}: a malformed calibration ({detail}); write it again with "
                        "`nbasim calibrate`") from None
    get_scenario(base_scenario, overrides)  # fails here, not later, on a value out of range
    return overrides, customers


def _calibrated(data: dict, unit: int, base, days: int) -> tuple[dict, int]:
    """The overrides and customer count of `scenario_from_calibration`, read from `data`."""
    from nbasim.sim.catalog import Catalog

    bg, pop = data["bgnbd"], data["population"]
    overrides: dict[str, object] = {
        "bgnbd_r": float(bg["r"]), "bgnbd_alpha": float(bg["alpha"]) * unit / 7.0,
        "bgnbd_a": float(bg["a"]), "bgnbd_b": float(bg["b"]),
        "purchase_process": "poisson", "churn_base": 0.0,
        "burn_in_days": int(pop["burn_in_days"]),
        "burn_in_profile": [float(c) for c in pop["age_counts"]],
        "acquisition_rate": float(pop["acquisition_rate_per_day"]),
        "start_date": str(pop["start_date"]),
    }
    gg = data.get("gamma_gamma")
    if gg is not None:
        if not gg["q"] > 1:
            raise DataError(f"Gamma-Gamma q = {gg['q']:.4g}: the world needs q > 1 (a finite "
                            "mean basket); this log's spend is too heavy-tailed to simulate")
        catalog = Catalog(base)
        weight = catalog.base_affinity / catalog.base_affinity.sum()
        overrides.update(gg_p=float(gg["p"]), gg_q=float(gg["q"]), gg_gamma=float(gg["v"]),
                         spend_scale=1.0 / float(weight @ catalog.price_level))
    growth = overrides["acquisition_rate"] * days
    return overrides, max(int(round(int(pop["customers"]) * (1 + growth))), 1)


def simulation_spec(calibration: str | Path | dict, scenario: str = "retail_chain",
                    days: int = 365, seed: int = 0, customers: int | None = None,
                    shocks: tuple[str, ...] = (), overrides: dict | None = None,
                    transactions: bool = False):
    """The `nbasim simulate --calibration FILE` spec: a calibrated base on a scenario preset.

    Args:
        calibration: a `calibration.json` (or its directory), or its dict.
        scenario: the preset the calibration is layered on (stores, catalog, channels).
        days: horizon of the run.
        seed: root seed.
        shocks: shock specs ("NAME:k=v,...").
        customers: rows in all; None: the log's size at the end of the calibration plus the
            arrivals over `days` at the log's acquisition rate.
        overrides: scenario overrides applied on top of the calibration's.
        transactions: whether to keep the transactions (`transactions.parquet`).

    Returns:
        An `experiments.run.simulate.SimulationSpec`.
    """
    from nbasim.experiments.run.simulate import SimulationSpec

    calibrated, n = scenario_from_calibration(calibration, scenario, days)
    return SimulationSpec(scenario=scenario, customers=n if customers is None else customers,
                          days=days, seed=seed, shocks=tuple(shocks),
                          overrides={**calibrated, **(overrides or {})},
                          transactions=transactions)
