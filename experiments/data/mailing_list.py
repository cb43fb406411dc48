"""Mailing lists of `nbasim rfm --list`: the customers of chosen segments, with filters.

`list.csv` is `customers.csv` filtered (same rows, same order, same values): the customers whose
segment is one of those asked for, whose monetary is at least `min_monetary` and whose
frequency is at least `min_frequency`, with each one's recommended action beside it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from nbasim.sim.params import ParameterError

LIST_COLUMNS = ("customer_id", "segment", "recency", "frequency", "monetary", "r_score",
                "f_score", "m_score")


def check_list(names: Sequence[str], segments: Sequence[str] | None,
               min_monetary: float | None, min_frequency: int | None) -> tuple[str, ...]:
    """Check the `--list` options against the segment names; the segments asked, once each.

    Args:
        names: the known segment names.
        segments: the segments to list (None or empty: no list).
        min_monetary: keep customers who spent at least this much (finite, >= 0).
        min_frequency: keep customers with at least this many purchase days (>= 1).

    Returns:
        The segments, in the order first given, without repeats; () when no list is asked.

    Raises:
        ParameterError: an unknown segment, naming the known ones; a bad minimum; a minimum
            without a list.
    """
    if not segments:
        for option, value in (("min_monetary", min_monetary), ("min_frequency", min_frequency)):
            if value is not None:
                raise ParameterError(f"{option} = {value}: filters a mailing list; give the "
                                     "segments to list with --list SEGMENT")
        return ()
    for seg in segments:
        if seg not in names:
            raise ParameterError(f"list = {seg!r}: unknown segment; known: {', '.join(names)}")
    if min_monetary is not None and not (math.isfinite(min_monetary) and min_monetary >= 0):
        raise ParameterError(f"min_monetary = {min_monetary}: allowed a finite number >= 0")
    if min_frequency is not None and min_frequency < 1:
        raise ParameterError(f"min_frequency = {min_frequency}: allowed a whole number >= 1 "
                             "(purchase days)")
    return tuple(dict.fromkeys(segments))


def mailing_list(customers: Mapping[str, np.ndarray], segments: Sequence[str],
                 actions: Mapping[str, str], min_monetary: float | None = None,
                 min_frequency: int | None = None) -> dict[str, np.ndarray]:
    """The rows of `customers` in `segments` that pass the filters, with their action.

    Args:
        customers: the columns of `customers.csv`, each (n_customers,).
        segments: segment names to keep.
        actions: segment name -> recommended action text.
        min_monetary: keep monetary >= this (None: no filter).
        min_frequency: keep frequency >= this (None: no filter).

    Returns:
        Columns `LIST_COLUMNS` and action, each (n_listed,), in the order of `customers`.
    """
    keep = np.isin(customers["segment"], np.array(list(segments), dtype=object))
    if min_monetary is not None:
        keep &= customers["monetary"] >= min_monetary
    if min_frequency is not None:
        keep &= customers["frequency"] >= min_frequency
    out = {name: customers[name][keep] for name in LIST_COLUMNS}
    out["action"] = np.array([actions[s] for s in out["segment"]], dtype=object)
    return out
