"""The named segments of `nbasim rfm`: the default R x F map, or a segments file, and actions.

A segments file (TOML) lists segments in order, each named and defined by ranges of scores
(1-5) and values (recency in days, frequency in purchase days, monetary in spend):

    [[segment]]
    name = "vip"
    monetary = [1000, inf]          # a [low, high] range, both ends included
    action = { offer = "loyalty_x2", channel = "email", slot = "morning", wording = "emotional" }

    [[segment]]
    name = "champions"
    r_score = 5                     # one number: that value only
    f_score = [4, 5]

A customer is in the first segment, in file order, whose every range holds its values (first
match wins, so overlapping segments are allowed and the earlier one takes the overlap); a
customer no segment holds is in `other`. Each segment's recommended action is the file's
`action` ("none" or an offer with channel, slot and wording), else the `rfm_playbook` policy's
default entry for a segment of that name, else none.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, field_validator

from nbasim.policies.playbook import DEFAULT_PLAYBOOK, ActionSpec
from nbasim.sim import rfm
from nbasim.sim.actions import SLOTS
from nbasim.sim.params import CHANNELS, OFFERS, WORDINGS, ParameterError, validate

OTHER = "other"
"""The segment of customers that no segment of a segments file holds."""
MAX_SEGMENTS = 50
NAME = re.compile(r"[A-Za-z0-9_\-]{1,64}")
SCORES = ("r_score", "f_score", "m_score")
VALUES = ("recency", "frequency", "monetary")
FIELDS = SCORES + VALUES
RULE = "first match in file order; customers no segment holds are 'other'"


def _bounds(value: object, field: str) -> tuple[float, float]:
    """(low, high) from a number or a [low, high] list; NaN refused, inf only as high."""
    pair = list(value) if isinstance(value, list | tuple) else [value, value]
    if len(pair) != 2 or not all(isinstance(v, int | float) and not isinstance(v, bool)
                                 for v in pair):
        raise ValueError("expected a number or a [low, high] list of two numbers")
    low, high = (float(v) for v in pair)
    if math.isnan(low) or math.isnan(high) or low == math.inf or high == -math.inf \
            or low == -math.inf:
        raise ValueError("expected finite bounds (inf allowed as high only)")
    if low > high:
        raise ValueError(f"low {pair[0]} is above high {pair[1]}")
    if field in SCORES and not (low.is_integer() and high.is_integer() and 1 <= low <= high <= 5):
        raise ValueError("scores are whole numbers from 1 to 5")
    if field in VALUES and low < 0:
        raise ValueError("values are >= 0")
    return low, high


class SegmentRule(BaseModel):
    """One segment of a segments file: a name, ranges (both ends included) and an action."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    """Letters, digits, _ and -, up to 64 characters; not "other"."""
    r_score: tuple[float, float] | None = None
    """R score range, 1-5 (5: bought most recently)."""
    f_score: tuple[float, float] | None = None
    """F score range, 1-5."""
    m_score: tuple[float, float] | None = None
    """M score range, 1-5."""
    recency: tuple[float, float] | None = None
    """Days since the last purchase."""
    frequency: tuple[float, float] | None = None
    """Purchase days."""
    monetary: tuple[float, float] | None = None
    """Spend to date."""
    action: ActionSpec | Literal["none"] | None = None
    """The recommended action; None: the playbook's for this name, else none."""

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not NAME.fullmatch(v):
            raise ValueError("allowed: 1 to 64 letters, digits, _ or -")
        if v == OTHER:
            raise ValueError(f"{OTHER!r} is reserved for the customers no segment holds")
        return v

    @field_validator(*FIELDS, mode="before")
    @classmethod
    def _range(cls, v: object, info) -> tuple[float, float] | None:
        return None if v is None else _bounds(v, info.field_name)


def parse_action(v: object) -> ActionSpec | str | None:
    """A segments file's `action`: None, "none", or a table of catalog names (offer required).

    Raises:
        ValueError: anything else, or an unknown key or name, saying what is allowed.
    """
    if v is None or v == "none":
        return v
    if not isinstance(v, dict):
        raise ValueError('expected "none" or a table {offer, channel, slot, wording}, e.g. '
                         '{ offer = "win_back", channel = "sms" }')
    parts = ("offer", "channel", "slot", "wording")
    extra = sorted(set(v) - set(parts))
    if extra or "offer" not in v:
        raise ValueError((f"unknown key {extra[0]!r}" if extra else "no offer")
                         + f"; allowed keys: {', '.join(parts)} (offer required)")
    for part, known in zip(parts, (OFFERS[1:], CHANNELS, SLOTS, WORDINGS), strict=True):
        if part in v and v[part] not in known:
            raise ValueError(f"{part} {v[part]!r} is unknown; allowed: {', '.join(known)}")
    return ActionSpec(**v)


@dataclass(frozen=True)
class SegmentMap:
    """Segment names, each one's recommended action, and how customers are put in them.

    Attributes:
        names: segment names, in table order (a segments file's order, then "other").
        actions: the recommended action of each segment, e.g. "win_back by sms, midday,
            emotional", or "none".
        action_from: where each action comes from: "segments file", "playbook" or
            "no playbook entry".
        rules: the segments file's definitions, or () for the default map.
        source: the segments file, or None for the default map.
    """

    names: tuple[str, ...]
    actions: tuple[str, ...]
    action_from: tuple[str, ...]
    rules: tuple[SegmentRule, ...] = ()
    source: str | None = None

    def assign(self, scored: Mapping[str, np.ndarray]) -> np.ndarray:
        """(n_customers,) index into `names` of each customer's segment.

        Args:
            scored: columns recency, frequency, monetary, r_score, f_score, m_score and
                segment (the default map's index), each (n_customers,).
        """
        if not self.rules:
            return np.asarray(scored["segment"], dtype=np.int64)
        out = np.full(len(scored["recency"]), len(self.rules), dtype=np.int64)  # "other"
        for k in range(len(self.rules) - 1, -1, -1):  # last first: earlier ones overwrite
            out[holds(self.rules[k], scored)] = k
        return out

    def shadowed(self, scored: Mapping[str, np.ndarray]) -> list[int]:
        """Per segment, the customers its ranges hold that an earlier segment took."""
        seg = self.assign(scored)
        return [int(np.count_nonzero(holds(rule, scored) & (seg < k)))
                for k, rule in enumerate(self.rules)] + [0] * (len(self.names)
                                                               - len(self.rules))

    def describe(self) -> dict:
        """The map as JSON-ready data for `segments.json` (an open high bound is null)."""
        if not self.rules:
            return {"source": "the default R x F map of sim.rfm", "rule": "R and F scores",
                    "definitions": None}
        defs = [{"name": r.name, **{f: [_plain(b) for b in getattr(r, f)] for f in FIELDS
                                    if getattr(r, f) is not None}} for r in self.rules]
        return {"source": self.source, "rule": RULE, "definitions": defs}


def _plain(bound: float) -> int | float | None:
    return None if math.isinf(bound) else int(bound) if bound.is_integer() else bound


def holds(rule: SegmentRule, scored: Mapping[str, np.ndarray]) -> np.ndarray:
    """(n_customers,) bool: the customers whose values lie in every range of `rule`."""
    hit = np.ones(len(scored["recency"]), dtype=bool)
    for field in FIELDS:
        bounds = getattr(rule, field)
        if bounds is not None:
            hit &= (scored[field] >= bounds[0]) & (scored[field] <= bounds[1])
    return hit


def action_text(entry: ActionSpec | str) -> str:
    """A playbook entry as text: "none" or "offer by channel, slot, wording"."""
    return entry if isinstance(entry, str) else str(entry)


def _action(name: str, given: ActionSpec | str | None) -> tuple[str, str]:
    if given is not None:
        return action_text(given), "segments file"
    if name in DEFAULT_PLAYBOOK:
        return action_text(DEFAULT_PLAYBOOK[name]), "playbook"
    return "none", "no playbook entry"


def default_map() -> SegmentMap:
    """The R x F map of `sim.rfm` with the `rfm_playbook` policy's default actions."""
    actions = [_action(name, None) for name in rfm.SEGMENTS]
    return SegmentMap(names=tuple(rfm.SEGMENTS), actions=tuple(a for a, _ in actions),
                      action_from=tuple(f for _, f in actions))


def load_segments(path: str | Path) -> SegmentMap:
    """Read and validate a segments file (see the module docstring).

    Raises:
        ParameterError: a missing, unreadable or non-TOML file; no `[[segment]]` tables or
            more than `MAX_SEGMENTS`; an unknown key; a bad name, range or action, naming the
            segment and the field; a name given twice; a segment with no range.
    """
    path = Path(path)
    where = f"segments file {path}"
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ParameterError(f"{where}: no such file") from None
    except IsADirectoryError:
        raise ParameterError(f"{where}: is a directory; give a TOML file") from None
    except UnicodeDecodeError as err:
        raise ParameterError(f"{where}: not UTF-8 text (byte {err.start}); save it as "
                             "UTF-8") from None
    except OSError as err:
        raise ParameterError(f"{where}: cannot be read: {err.strerror or err}") from None
    except tomllib.TOMLDecodeError as err:
        raise ParameterError(f"{where}: not valid TOML: {err}") from None
    extra = sorted(set(raw) - {"segment"})
    if extra:
        raise ParameterError(f"{where}: unknown key {extra[0]!r}; the file holds [[segment]] "
                             "tables only")
    tables = raw.get("segment")
    if not isinstance(tables, list) or not tables:
        raise ParameterError(f"{where}: no [[segment]] table; give at least one, e.g. "
                             '[[segment]] name = "champions" r_score = 5 f_score = [4, 5]')
    if len(tables) > MAX_SEGMENTS:
        raise ParameterError(f"{where}: {len(tables)} segments; allowed 1 to {MAX_SEGMENTS}")
    rules: list[SegmentRule] = []
    for i, table in enumerate(tables, start=1):
        if not isinstance(table, dict):
            raise ParameterError(f"{where}: segment {i} is {table!r}, not a table")
        label = f"{where}: segment {i}" + (f" ({table['name']!r})" if isinstance(
            table.get("name"), str) else "")
        unknown = sorted(set(table) - set(SegmentRule.model_fields))
        if unknown:
            raise ParameterError(f"{label}: unknown field {unknown[0]!r}; allowed: "
                                 f"{', '.join(SegmentRule.model_fields)}")
        try:
            action = parse_action(table.get("action"))
        except ValueError as err:
            raise ParameterError(f"{label} field 'action' = {table['action']!r}: {err}") from None
        rule = validate(SegmentRule, {**table, "action": action}, label)
        if not any(getattr(rule, f) is not None for f in FIELDS):
            raise ParameterError(f"{label}: no range; give at least one of "
                                 f"{', '.join(FIELDS)}")
        if any(r.name == rule.name for r in rules):
            raise ParameterError(f"{label}: name {rule.name!r} given twice; names are unique")
        rules.append(rule)
    actions = [_action(r.name, r.action) for r in rules] + [("none", "no playbook entry")]
    return SegmentMap(names=(*(r.name for r in rules), OTHER),
                      actions=tuple(a for a, _ in actions),
                      action_from=tuple(f for _, f in actions), rules=tuple(rules),
                      source=str(path))
