"""`nbasim rfm`: RFM scores, named segments, migration and k-means clusters of a real base.

A transaction log (read and checked by `experiments.data.translog`) is scored as of one date with
`sim.rfm`, the code that scores the simulated population: recency (days since the last
purchase), frequency (purchase days) and monetary (spend to date) with their 1-5 quantile
scores, and the named segment of the R x F map or of a segments file
(`experiments.data.segment_map`). Scores here use `sim.rfm.balanced_scores`: equal values
share a score and the cuts sit at the tie boundaries nearest to equal fifths, so a large tie
(most customers buying once) no longer leaves F 2-3, and the segments defined on them, empty.
The simulated world keeps its min-rank scores (`sim.rfm.quantile_scores`), so runs do not
change. Optionally the base is scored at a second date
too, and customers present at both are counted from their segment at the earlier date to their
segment at the later one; and k-means clusters the customers on R, F and M.

The results directory, written whole (staged, then renamed into place), holds:

- `segments.json`: the run's inputs, the segment map (default or the segments file's
  definitions), the segment table (customers, share, revenue, mean monetary, mean recency and
  frequency and the recommended action per segment; with a segments file also `shadowed`,
  the customers its ranges hold that an earlier segment took), the mailing list's filters and
  size, the migration matrix (counts and row
  shares, both dates' segment sizes) and the k-means clusters (sizes and centres);
- `customers.csv`: one row per customer in the base at the as-of date, the export a CRM team
  loads (id, recency, frequency, monetary, r/f/m scores, segment, and the segment at the
  compare date and the cluster when asked);
- `list.csv` (with `lists`): the mailing list, `customers.csv`'s rows in the segments asked
  that pass the minimum monetary and frequency, with each one's recommended action
  (`experiments.data.mailing_list`);
- `plots/segments.png`, `plots/migration.png` (with a compare date) and `plots/clusters.png`
  (with k), drawn from the two files above only.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.csv as pv  # noqa: E402
from rich.table import Table  # noqa: E402

from nbasim.experiments.data.mailing_list import check_list, mailing_list  # noqa: E402
from nbasim.experiments.data.rfm_segments import (  # noqa: E402
    MONEY_DECIMALS,
    clusters,
    customer_columns,
    migration,
    parse_date,
    segment_table,
)
from nbasim.experiments.data.segment_map import default_map, load_segments  # noqa: E402
from nbasim.experiments.data.translog import read_log, today_date  # noqa: E402
from nbasim.experiments.store import atomic  # noqa: E402
from nbasim.sim import rfm  # noqa: E402
from nbasim.sim.params import ParameterError  # noqa: E402

SEGMENTS_JSON = "segments.json"
CUSTOMERS_CSV = "customers.csv"
LIST_CSV = "list.csv"


@dataclass(frozen=True)
class RfmResult:
    """What `rfm_report` computed; every field is plain data (JSON-ready lists and numbers).

    Attributes:
        summary: the content of `segments.json`: inputs, counts, `segments` (one row per
            named segment, in `sim.rfm.SEGMENTS` order), `migration` (or None) and `kmeans`
            (or None).
        customers: the columns of `customers.csv`, each (n_customers,), in customer id order.
        listed: the columns of `list.csv`, each (n_listed,), or None without a list.
    """

    summary: dict
    customers: dict[str, np.ndarray]
    listed: dict[str, np.ndarray] | None = None


def check_out(out: Path) -> None:
    """Refuse an output that is a file, or a non-empty directory that is not an earlier result."""
    atomic.check_target(out, SEGMENTS_JSON, "an `nbasim rfm` result")


def default_out(path: str | Path, as_of: np.datetime64) -> Path:
    """`results/rfm/<file stem>-<as_of>`, the stem without any `.csv.gz`-like suffixes."""
    stem = Path(path).name.split(".")[0] or Path(path).stem
    return Path("results") / "rfm" / f"{stem}-{as_of}"


def rfm_report(
    path: str | Path,
    customer_col: str,
    date_col: str,
    amount_col: str,
    as_of: str | date | np.datetime64,
    compare: str | date | np.datetime64 | None = None,
    k: int | None = None,
    date_format: str | None = None,
    sep: str = ",",
    out: str | Path | None = None,
    today: np.datetime64 | None = None,
    segments: str | Path | None = None,
    lists: Sequence[str] | None = None,
    min_monetary: float | None = None,
    min_frequency: int | None = None,
) -> tuple[RfmResult, Path]:
    """Score a transaction log's customers as of a date and write the results directory.

    Every check runs before anything is written; on an error no file or directory appears.

    Args:
        path: the transaction log, CSV or Parquet (see `experiments.data.translog.read_log`).
        customer_col: the customer id column.
        date_col: the date column.
        amount_col: the amount column (spend per transaction, >= 0).
        as_of: the date the scores describe; transactions after it are left out.
        compare: a second date, earlier or later; the migration matrix counts the customers
            in the base at the earlier date from their segment then to their segment at the
            later date.
        k: number of k-means clusters on R, F and M, 2 to the number of distinct
            (recency, frequency, monetary) points; None for no clustering.
        date_format: strptime format of the log's dates (and also accepted for `as_of` and
            `compare`); None reads ISO dates.
        sep: the CSV field separator.
        out: results directory; default `results/rfm/<file stem>-<as_of>`. An earlier result
            there is replaced.
        today: the day of the report (None: the clock's); `as_of` and `compare` may be up to
            the day after it (a time zone ahead) or the log's last purchase, not later.
        segments: a segments file replacing the default R x F map (see
            `experiments.data.segment_map`); None for the default.
        lists: segments whose customers go to `list.csv` (None or empty: no list).
        min_monetary: keep in the list only customers who spent at least this much.
        min_frequency: keep in the list only customers with at least this many purchase days.

    Returns:
        The result and the directory written.

    Raises:
        DataError: the log is missing, empty or unreadable, lacks a column, has a date that
            does not parse, or a bad amount (see `read_log`).
        ParameterError: `as_of` or `compare` is not a date or is in the future, `as_of` is
            before every purchase,
            `compare` equals `as_of` or is before every purchase, `k` is outside 2 to the
            number of distinct customers' RFM points, `out` is a file or a directory of
            something else, the segments file is bad (see `load_segments`), or a list option
            is (see `check_list`).
    """
    day = parse_date("as_of", as_of, date_format)
    other = None if compare is None else parse_date("compare", compare, date_format)
    if other is not None and other == day:
        raise ParameterError(f"compare = {other}: the same day as as_of; give an earlier or "
                             "later date to measure migration")
    if k is not None and (isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 2):
        raise ParameterError(f"k = {k!r}: allowed a whole number of clusters from 2 to the "
                             "number of customers")
    seg_map = default_map() if segments is None else load_segments(segments)
    chosen = check_list(seg_map.names, lists, min_monetary, min_frequency)
    target = Path(out) if out is not None else default_out(path, day)
    check_out(target)

    log = read_log(path, customer_col, date_col, amount_col, date_format=date_format, sep=sep)
    first, last = log.day.min(), log.day.max()
    # The future: after today and after the log's last purchase (a simulated log runs on its
    # own calendar, ahead of the clock); scores there would count days the log cannot know.
    today = today_date() if today is None else np.datetime64(today, "D")
    latest = max(today + 1, last)
    for option, when in (("as_of", day), ("compare", other)):
        if when is not None and when > latest:
            raise ParameterError(f"{option} = {when}: in the future (today is {today}, the "
                                 f"log's last purchase is on {last}); give a date up to "
                                 f"{latest}")
    for option, when in (("as_of", day), ("compare", other)):
        if when is not None and when < first:
            raise ParameterError(f"{option} = {when}: before every purchase in {path} (the "
                                 f"first is on {first}); give a date from {first} on")
    scored = rfm.rfm_from_transactions(log.customer, log.day, log.amount, day, ties="balanced")
    scored["segment"] = seg_map.assign(scored)
    n = len(scored["customer_id"])
    customers = customer_columns(scored, seg_map.names)
    table = segment_table(scored, seg_map.names, seg_map.actions)
    if seg_map.rules:
        for row, shadowed in zip(table, seg_map.shadowed(scored), strict=True):
            row["shadowed"] = shadowed
    summary = {
        "source": str(path), "columns": {"customer": customer_col, "date": date_col,
                                         "amount": amount_col},
        "as_of": str(day), "compare": None if other is None else str(other),
        "first_purchase": str(first), "last_purchase": str(last),
        "rows_read": len(log), "rows_used": int(np.count_nonzero(log.day <= day)),
        "customers": n, "revenue": round(float(scored["monetary"].sum()), MONEY_DECIMALS),
        "scores": "quantile scores 1-5 over the base at the date; equal values share a "
                  "score, cut at the tie boundaries nearest to equal fifths "
                  "(sim.rfm.balanced_scores)",
        "segment_map": seg_map.describe(),
        "segments": table,
        "migration": None, "kmeans": None, "list": None,
    }
    if other is not None:
        at_other = rfm.rfm_from_transactions(log.customer, log.day, log.amount, other,
                                             ties="balanced")
        at_other["segment"] = seg_map.assign(at_other)
        summary["migration"] = migration(scored, at_other, day, other, seg_map.names)
        idx = np.searchsorted(at_other["customer_id"], scored["customer_id"])
        idx = np.minimum(idx, len(at_other["customer_id"]) - 1)
        found = at_other["customer_id"][idx] == scored["customer_id"]
        names = np.array(seg_map.names, dtype=object)[at_other["segment"][idx]]
        customers["segment_at_compare"] = np.where(found, names, None)
    if k is not None:
        labels, summary["kmeans"] = clusters(scored, int(k))
        customers["cluster"] = labels

    listed = None
    if chosen:
        listed = mailing_list(customers, chosen, dict(zip(seg_map.names, seg_map.actions,
                                                          strict=True)),
                              min_monetary, min_frequency)
        summary["list"] = {"file": LIST_CSV, "segments": list(chosen),
                           "min_monetary": min_monetary, "min_frequency": min_frequency,
                           "customers": len(listed["customer_id"])}
    result = RfmResult(summary=summary, customers=customers, listed=listed)
    with atomic.staged_dir(target) as stage:
        write(result, stage)
        plot(stage)
    return result, target


def write(result: RfmResult, out: Path) -> None:
    """Write `segments.json`, `customers.csv` and `list.csv` into `out` (an existing directory).

    The directory is a stage that `rfm_report` renames into place once every file is written.
    """
    atomic.write_json(out / SEGMENTS_JSON, result.summary)
    files = [(CUSTOMERS_CSV, result.customers)]
    if result.listed is not None:
        files.append((LIST_CSV, result.listed))
    for name, columns in files:
        table = pa.table({col: pa.array(values, type=pa.string() if values.dtype == object
                                        else None) for col, values in columns.items()})
        pv.write_csv(table, out / name, write_options=pv.WriteOptions(quoting_style="needed"))


def plot(out: Path) -> list[Path]:
    """Draw the PNGs under `out/plots` from `segments.json` and `customers.csv` alone.

    Returns:
        The files drawn: segments.png, then migration.png and clusters.png when the result has
        a migration and clusters.
    """
    out = Path(out)
    summary = json.loads((out / SEGMENTS_JSON).read_text())
    (out / "plots").mkdir(exist_ok=True)
    paths = [plot_segments(summary, out / "plots" / "segments.png")]
    if summary["migration"] is not None:
        paths.append(plot_migration(summary["migration"], out / "plots" / "migration.png"))
    if summary["kmeans"] is not None:
        cols = pv.read_csv(out / CUSTOMERS_CSV, convert_options=pv.ConvertOptions(
            include_columns=["recency", "frequency", "monetary", "cluster"])).to_pydict()
        paths.append(plot_clusters({k: np.asarray(v) for k, v in cols.items()},
                                   summary["kmeans"], out / "plots" / "clusters.png"))
    return paths


def plot_segments(summary: dict, path: Path) -> Path:
    """Customers and revenue per segment, with mean monetary, recency and frequency."""
    rows = summary["segments"]
    names = [r["segment"] for r in rows]
    y = np.arange(len(rows))
    fig, ax = plt.subplots(1, 3, figsize=(15, 5.5), sharey=True, constrained_layout=True)
    ax[0].barh(y, [r["customers"] for r in rows], color="tab:blue")
    for i, r in enumerate(rows):
        ax[0].annotate(f" {r['customers']:,} ({r['share']:.0%})", (r["customers"], i),
                       va="center", fontsize=8)
    ax[0].set_title("Customers")
    ax[1].barh(y, [r["revenue"] for r in rows], color="tab:green")
    for i, r in enumerate(rows):
        if r["customers"]:
            ax[1].annotate(f" {r['revenue_share']:.0%}, mean {r['mean_monetary']:,.2f}",
                           (r["revenue"], i), va="center", fontsize=8)
    ax[1].set_title("Revenue to date (share, mean per customer)")
    full = [i for i, r in enumerate(rows) if r["customers"]]
    sc = ax[2].scatter([rows[i]["mean_recency"] for i in full], full,
                       s=[40 + 300 * rows[i]["share"] for i in full],
                       c=[rows[i]["mean_frequency"] for i in full], cmap="viridis")
    fig.colorbar(sc, ax=ax[2], label="mean frequency (purchase days)")
    ax[2].set_title("Mean recency (days); colour: mean frequency")
    ax[0].set_yticks(y, names)
    ax[0].invert_yaxis()
    for a in ax[:2]:
        a.margins(x=0.35)
    fig.suptitle(f"RFM segments of {Path(summary['source']).name} as of {summary['as_of']}: "
                 f"{summary['customers']:,} customers, revenue {summary['revenue']:,.2f}")
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def plot_migration(mig: dict, path: Path) -> Path:
    """Heatmap of row shares between the two dates, each cell with its count."""
    names = mig["segments"]
    k = len(names)
    share, count = np.asarray(mig["shares"]), np.asarray(mig["counts"])
    fig, ax = plt.subplots(figsize=(10, 8.5), constrained_layout=True)
    im = ax.imshow(share, cmap="viridis", vmin=0, vmax=1)
    ax.set_xticks(range(k), [f"{n} ({s:,})" for n, s in zip(names, mig["to_sizes"],
                                                           strict=True)],
                  rotation=45, ha="right")
    ax.set_yticks(range(k), [f"{n} ({s:,})" for n, s in zip(names, mig["from_sizes"],
                                                           strict=True)])
    for i in range(k):
        for j in range(k):
            if count[i, j]:
                ax.text(j, i, f"{share[i, j]:.2f}\n{count[i, j]:,}", ha="center", va="center",
                        fontsize=7, color="white" if share[i, j] < 0.6 else "black")
    ax.set_xlabel(f"segment on {mig['to_date']} (whole base then)")
    ax.set_ylabel(f"segment on {mig['from_date']} (customers)")
    ax.set_title(f"Segment migration {mig['from_date']} -> {mig['to_date']} (row shares)\n"
                 f"{mig['customers_both']:,} customers at both dates, "
                 f"{mig['kept_segment']:.0%} kept their segment, {mig['entered']:,} entered")
    fig.colorbar(im, ax=ax, shrink=0.8, label="row share")
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def plot_clusters(cols: dict[str, np.ndarray], km: dict, path: Path) -> Path:
    """Customers by recency and frequency coloured by cluster, and each cluster's size."""
    k = km["k"]
    cmap = plt.get_cmap("tab10" if k <= 10 else "tab20")
    fig, ax = plt.subplots(1, 2, figsize=(14, 5.5), constrained_layout=True,
                           gridspec_kw={"width_ratios": [2, 1]})
    rng = np.random.default_rng(0)  # jitter only, so integer points do not hide each other
    n = len(cols["cluster"])
    show = rng.permutation(n)[:20_000]  # a readable sample of a large base
    jitter = rng.uniform(-0.3, 0.3, size=(2, show.size))
    ax[0].scatter(cols["recency"][show] + jitter[0], cols["frequency"][show] + jitter[1],
                  s=6, alpha=0.5, c=[cmap(c % cmap.N) for c in cols["cluster"][show]])
    ax[0].set_yscale("symlog")
    ax[0].set_xlabel("recency (days)")
    ax[0].set_ylabel("frequency (purchase days)")
    ax[0].set_title(f"Customers by cluster ({show.size:,} of {n:,} shown)")
    rows = km["clusters"]
    ax[1].bar(range(k), [r["customers"] for r in rows],
              color=[cmap(c % cmap.N) for c in range(k)])
    for r in rows:
        if r["customers"]:
            ax[1].annotate(f"R {r['mean_recency']:.0f}\nF {r['mean_frequency']:.1f}\n"
                           f"M {r['mean_monetary']:,.0f}", (r["cluster"], r["customers"]),
                           ha="center", va="bottom", fontsize=7)
    ax[1].set_xticks(range(k))
    ax[1].set_xlabel("cluster (0 = highest mean spend)")
    ax[1].set_title("Customers per cluster, centre (mean R, F, M)")
    ax[1].margins(y=0.25)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def render(result: RfmResult) -> Table:
    """The segment table for the terminal; migration and clusters summed up in the caption.

    Args:
        result: what `rfm_report` returned.

    Returns:
        A rich table, one line per segment and a total line.
    """
    s = result.summary
    mig = s["migration"]
    table = Table(title=f"RFM segments of {s['source']} as of {s['as_of']}: "
                        f"{s['customers']:,} customers", title_justify="left")
    for name in ("segment", "customers", "share", "revenue", "revenue share", "mean monetary",
                 "mean recency (d)", "mean frequency"):
        table.add_column(name, justify="left" if name == "segment" else "right")
    other_sizes = None
    if mig is not None:
        other_is_to = mig["to_date"] == s["compare"]
        other_sizes = mig["to_sizes"] if other_is_to else mig["from_sizes"]
        table.add_column(f"customers on {s['compare']}", justify="right")
    table.add_column("recommended action", justify="left")

    def fmt(v: float | None, spec: str) -> str:
        return "-" if v is None else format(v, spec)

    for i, r in enumerate(s["segments"]):
        cells = [r["segment"], f"{r['customers']:,}", f"{r['share']:.1%}", f"{r['revenue']:,.2f}",
                 f"{r['revenue_share']:.1%}", fmt(r["mean_monetary"], ",.2f"),
                 fmt(r["mean_recency"], ",.1f"), fmt(r["mean_frequency"], ",.2f")]
        if other_sizes is not None:
            cells.append(f"{other_sizes[i]:,}")
        table.add_row(*cells, r.get("action", ""))
    cells = ["all", f"{s['customers']:,}", "100.0%", f"{s['revenue']:,.2f}", "100.0%",
             fmt(s["revenue"] / s["customers"] if s["customers"] else None, ",.2f"), "", ""]
    if other_sizes is not None:
        cells.append(f"{sum(other_sizes):,}")
    table.add_row(*cells, "", style="bold")
    caption = [f"{s['rows_used']:,} of {s['rows_read']:,} transactions on or before "
               f"{s['as_of']} (log from {s['first_purchase']} to {s['last_purchase']})"]
    if mig is not None:
        caption.append(f"migration {mig['from_date']} -> {mig['to_date']}: "
                       f"{mig['customers_both']:,} customers at both dates, "
                       f"{mig['kept_segment']:.1%} kept their segment, {mig['entered']:,} "
                       "entered")
    seg_map = s.get("segment_map") or {}
    if seg_map.get("definitions"):
        caption.append(f"segments from {seg_map['source']}: {seg_map['rule']}")
    if s.get("list") is not None:
        li = s["list"]
        filters = [f"{label} >= {li[key]:,}" for key, label in
                   (("min_monetary", "monetary"), ("min_frequency", "frequency"))
                   if li[key] is not None]
        caption.append(f"{li['file']}: {li['customers']:,} customers in "
                       f"{', '.join(li['segments'])}"
                       + (f" with {' and '.join(filters)}" if filters else ""))
    if s["kmeans"] is not None:
        for c in s["kmeans"]["clusters"]:
            caption.append(
                f"cluster {c['cluster']}: {c['customers']:,} customers ({c['share']:.1%}), "
                f"mean recency {fmt(c['mean_recency'], ',.1f')} d, frequency "
                f"{fmt(c['mean_frequency'], ',.2f')}, monetary {fmt(c['mean_monetary'], ',.2f')}")
    table.caption = "\n".join(caption)
    table.caption_justify = "left"
    return table
