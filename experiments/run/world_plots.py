"""PNG plots of a results directory; they read only what the run wrote to disk."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402


def plot_world(run_dir: Path) -> list[Path]:
    """Draw `plots/daily.png` and `plots/migration.png` from a simulate run directory."""
    run_dir = Path(run_dir)
    (run_dir / "plots").mkdir(exist_ok=True)
    return [_daily(run_dir), _migration(run_dir)]


def _weekly_mean(x: np.ndarray) -> np.ndarray:
    """Trailing 7-day mean (shorter at the start), to read trends through weekday swings."""
    c = np.cumsum(np.insert(x.astype(float), 0, 0.0))
    n = np.arange(1, x.size + 1)
    w = np.minimum(n, 7)
    return (c[n] - c[n - w]) / w


def _daily(run_dir: Path) -> Path:
    t = pq.read_table(run_dir / "daily.parquet").to_pydict()
    day = np.asarray(t["day"])
    col = {k: np.asarray(v) for k, v in t.items() if k not in ("day", "date")}
    fig, ax = plt.subplots(4, 2, figsize=(13, 14), constrained_layout=True)
    for name in ("present", "alive", "active"):
        ax[0, 0].plot(day, col[name], label=name)
    ax[0, 0].set_title("Customers (alive is latent; active = new, active or reactivated)")
    for a, name, title in ((ax[0, 1], "purchases", "Purchases per day"),
                           (ax[1, 0], "revenue", "Revenue per day"),
                           (ax[1, 1], "avg_check", "Average check")):
        a.plot(day, col[name], color="0.7", lw=0.8, label="daily")
        a.plot(day, _weekly_mean(col[name]), label="7-day mean")
        a.set_title(title)
    for name, label in (("new_churn", "churned"), ("new_customers", "new customers"),
                        ("at_risk_crossings", "crossing into at-risk"),
                        ("carts_abandoned", "abandoned carts")):
        if col[name].any():
            ax[2, 0].plot(day, _weekly_mean(col[name]), label=label)
    ax[2, 0].set_title("Flows per day (7-day mean)")
    for name in (k for k in col if k.startswith("visits_")):
        ax[2, 1].plot(day, _weekly_mean(col[name]), label=name.removeprefix("visits_"))
    ax[2, 1].set_title("Visits per store (7-day mean)")
    for a, prefix, title in ((ax[3, 0], "stage_", "Lifecycle stages"),
                             (ax[3, 1], "segment_", "RFM segments")):
        names = [k for k in col if k.startswith(prefix)]
        a.stackplot(day, *[col[k] for k in names], labels=[k.removeprefix(prefix) for k in names])
        a.set_title(title)
    for a in ax.ravel():
        a.set_xlabel("day")
        if a.get_legend_handles_labels()[0]:
            a.legend(fontsize=7, loc="upper left", framealpha=0.6)
    path = run_dir / "plots" / "daily.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _migration(run_dir: Path) -> Path:
    t = pq.read_table(run_dir / "migration.parquet").to_pydict()
    names = list(dict.fromkeys(t["from_segment"]))
    k = len(names)
    share = np.asarray(t["share"]).reshape(k, k)
    count = np.asarray(t["customers"]).reshape(k, k)
    fig, ax = plt.subplots(figsize=(9, 8), constrained_layout=True)
    im = ax.imshow(share, cmap="viridis", vmin=0, vmax=1)
    ax.set_xticks(range(k), names, rotation=45, ha="right")
    ax.set_yticks(range(k), [f"{n} ({count[i].sum():,})" for i, n in enumerate(names)])
    for i in range(k):
        for j in range(k):
            if count[i, j]:
                ax.text(j, i, f"{share[i, j]:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if share[i, j] < 0.6 else "black")
    ax.set_xlabel("segment on the last day")
    ax.set_ylabel("segment on day 0 (customers)")
    ax.set_title("RFM segment migration of the day-0 base (row shares)")
    fig.colorbar(im, ax=ax, shrink=0.8)
    path = run_dir / "plots" / "migration.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
