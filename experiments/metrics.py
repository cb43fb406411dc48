"""The run-level metrics of a cell, as summary.json describes them: label, direction, unit."""

from __future__ import annotations

METRICS: dict[str, dict[str, str]] = {
    "incremental_margin": {"label": "incremental margin over the holdout (uplift)",
                           "better": "higher", "unit": "money"},
    "true_incremental_margin": {"label": "true expected incremental margin of what was sent",
                                "better": "higher", "unit": "money"},
    "regret": {"label": "true incremental margin short of the oracle's on the same seed",
               "better": "lower", "unit": "money"},
    "roi": {"label": "incremental margin over the holdout per unit of spend", "better": "higher",
            "unit": "ratio"},
    "spend": {"label": "money spent on messages and discounts redeemed", "better": "none",
              "unit": "money"},
    "budget_used": {"label": "spend as a share of the run's budget", "better": "none",
                    "unit": "share"},
    "conversion": {"label": "purchases per treated customer over the run", "better": "higher",
                   "unit": "purchases"},
    "revenue": {"label": "revenue of treated customers", "better": "higher", "unit": "money"},
    "average_check": {"label": "revenue per purchase", "better": "none", "unit": "money"},
    "churn_rate": {"label": "share of treated customers alive at the start who died",
                   "better": "lower", "unit": "share"},
    "active_end": {"label": "treated customers in an active stage at the end",
                   "better": "higher", "unit": "customers"},
    "clv": {"label": "expected value of a treated customer alive at the end (a year)",
            "better": "higher", "unit": "money"},
    "contacts_per_customer": {"label": "messages sent per treated customer", "better": "none",
                              "unit": "messages"},
    "opens_per_customer": {"label": "messages opened per treated customer", "better": "none",
                           "unit": "messages"},
    "clicks_per_customer": {"label": "messages clicked per treated customer", "better": "none",
                            "unit": "messages"},
    "unsubscribes_per_customer": {"label": "unsubscribes per treated customer",
                                  "better": "lower", "unit": "unsubscribes"},
    "days_to_second_purchase": {"label": "days from a newcomer's first to second purchase",
                                "better": "lower", "unit": "days"},
}
"""Metric name -> {"label", "better" ("higher", "lower" or "none"), "unit"}."""
