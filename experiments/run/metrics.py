"""The one table of the run-level metrics of a cell: what each means and how to show it.

summary.json describes its metrics with the `"label"`, `"better"` and `"unit"` of this table
(`definitions`); the report takes its column headers (`short`) and explanations
(`description`) from it too. `check`, `compare` and the report read a metric's direction,
label and unit from the summary they are given (`experiments.results.summary`), so a summary
written by an older version reads as it was written.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Metric:
    """One run-level metric.

    Attributes:
        label: what it measures, one line (summary.json's "label").
        better: "higher", "lower" or "none" (summary.json's "better"; `check` compares only
            the first two).
        unit: its unit (summary.json's "unit"; "share" shows as a percentage).
        short: column header in the report.
        description: one-line explanation in the report.
    """

    label: str
    better: str
    unit: str
    short: str
    description: str


METRICS: dict[str, Metric] = {
    "incremental_margin": Metric(
        "incremental margin over the holdout (uplift), regression-adjusted (CUPED)", "higher",
        "money", "incremental margin",
        "profit the campaign added: the treated customers' margin net of spend, minus what "
        "they would have made at the uncontacted holdout's rate, adjusted (CUPED) for how the "
        "two groups differed before the run in the spend their history predicts"),
    "incremental_margin_raw": Metric(
        "incremental margin over the holdout (uplift), raw", "higher", "money",
        "incr. margin (raw)",
        "the same without the CUPED adjustment: noisier, since it carries the luck of which "
        "customers fell in the holdout"),
    "true_incremental_margin": Metric(
        "true expected incremental margin of what was sent", "higher", "money",
        "true incr. margin",
        "the simulator's ground truth of the margin the messages sent added (expected values, "
        "free of sampling noise)"),
    "true_incremental_value": Metric(
        "true expected incremental value of what was sent (margin net of future value moved)",
        "higher", "money", "true incr. value",
        "the true incremental margin net of the customer value the messages moved, from the "
        "world's own formulas: minus P(churn caused) x expected value, plus P(purchase caused) "
        "x expected value of a latent-dead customer brought back, minus P(unsubscribe) x the "
        "consent's value (the channel's best-fitting message x one message per fatigue "
        "half-life for a year), minus P(delivered) x the churn the added fatigue causes x "
        "expected value"),
    "regret": Metric(
        "true incremental margin short of the myopic oracle's on the same seed", "lower",
        "money", "regret",
        "true margin left on the table against the myopic oracle, which knows every "
        "customer's true response and maximises each message's true incremental margin, on "
        "the same seed"),
    "regret_ltv": Metric(
        "true incremental value short of the long-term oracle's on the same seed", "lower",
        "money", "regret (ltv)",
        "true incremental value left on the table against the long-term oracle, which "
        "maximises each message's true incremental value, on the same seed"),
    "roi": Metric(
        "incremental margin over the holdout per unit of spend", "higher", "ratio", "ROI",
        "incremental margin over the holdout per unit of money spent"),
    "spend": Metric(
        "money spent on messages and discounts redeemed", "none", "money", "spend",
        "money spent: message prices plus discounts redeemed"),
    "budget_used": Metric(
        "spend as a share of the run's budget", "none", "share", "budget used",
        "spend as a share of the budget the run made available"),
    "conversion": Metric(
        "purchases per treated customer over the run", "higher", "purchases", "conversion",
        "purchases per treated customer over the run"),
    "revenue": Metric(
        "revenue of treated customers", "higher", "money", "revenue",
        "revenue of the treated customers"),
    "average_check": Metric(
        "revenue per purchase", "none", "money", "average check", "revenue per purchase"),
    "churn_rate": Metric(
        "share of treated customers alive at the start who died", "lower", "share",
        "churn rate", "share of the treated customers alive at the start who were lost"),
    "active_end": Metric(
        "treated customers in an active stage at the end", "higher", "customers",
        "active at end", "treated customers in an active lifecycle stage at the end"),
    "clv": Metric(
        "expected value of a treated customer alive at the end (a year)", "higher", "money",
        "CLV", "expected value over the next year of a treated customer still alive at the end"),
    "contacts_per_customer": Metric(
        "messages sent per treated customer", "none", "messages", "contacts / customer",
        "messages sent per treated customer"),
    "opens_per_customer": Metric(
        "messages opened per treated customer", "none", "messages", "opens / customer",
        "messages opened per treated customer"),
    "clicks_per_customer": Metric(
        "messages clicked per treated customer", "none", "messages", "clicks / customer",
        "messages clicked per treated customer"),
    "unsubscribes_per_customer": Metric(
        "unsubscribes per treated customer", "lower", "unsubscribes",
        "unsubscribes / customer", "channel unsubscribes per treated customer"),
    "days_to_second_purchase": Metric(
        "days from a newcomer's first to second purchase", "lower", "days",
        "days to 2nd purchase", "days from a newcomer's first to second purchase"),
}
"""Metric name -> its `Metric`, in the order summary.json lists them."""


ORACLE_ROLES = {"oracle": "myopic oracle", "oracle_ltv": "long-term oracle"}
"""Registry name of an oracle policy -> how summaries, reports and `compare` label its group:
the myopic oracle maximises each message's true incremental margin, the long-term oracle its
true incremental value (the margin net of the future value it moves)."""


def with_role(label: str, role: str | None) -> str:
    """A group's label with its role when it has one: "oracle (myopic oracle)"."""
    return f"{label} ({role})" if role else label


def definitions() -> dict[str, dict[str, str]]:
    """The metrics as summary.json describes them: name -> {"label", "better", "unit"}."""
    return {name: {"label": m.label, "better": m.better, "unit": m.unit}
            for name, m in METRICS.items()}
