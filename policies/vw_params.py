"""Parameters of the `vw` policy and the Vowpal Wabbit command line they make.

Kept apart from `vw.py` so that reading or validating them needs no Vowpal Wabbit.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from nbasim.policies.base import Params

NS_CONTEXT, NS_ACTION = "c", "a"
"""VW namespaces of the context features and of the action features."""

# Parameters that belong to one exploration; `explore` is shared (a floor for the others).
_OWN = {
    "epsilon": (),
    "squarecb": ("gamma_scale", "gamma_exponent"),
    "cover": ("cover", "psi"),
    "bag": ("bag", "greedify"),
    "softmax": ("lambda_",),
    "rnd": ("rnd", "rnd_alpha", "rnd_invlambda"),
}
_CB_TYPES = {"squarecb": ("mtr",), "cover": ("mtr", "ips", "dr")}


class VWParams(Params):
    """Parameters of the `vw` policy; VW's own defaults where a value is None.

    Attributes:
        exploration: "epsilon", "squarecb", "cover", "bag", "softmax" or "rnd".
        explore: in [0, 1]; the exploration share of "epsilon" (default 0.1); for the
            others, VW's minimum-probability floor (VW's default when None: 0.05 for cover,
            0 for the rest). VW's own name, `epsilon`, is accepted too.
        gamma_scale: > 0, SquareCB greediness gamma = gamma_scale * t^gamma_exponent (10).
        gamma_exponent: >= 0, SquareCB exponent (0.5).
        cover: >= 1, number of policies of online cover (4).
        psi: >= 0, cover's disagreement parameter (1).
        bag: >= 1, number of bootstrapped policies (5).
        greedify: bagging always updates the first policy (False).
        lambda_: >= 0, softmax inverse temperature (1); may be given as `lambda`.
        rnd: >= 1, number of random networks of RND (3).
        rnd_alpha: > 0, RND confidence width (0.1).
        rnd_invlambda: > 0, RND covariance regularisation (0.1).
        cb_type: "mtr" (default), "ips", "dr" or "dm"; squarecb takes only "mtr", cover not
            "dm".
        interactions: namespace interactions, each a string of 2 or more letters from "c"
            (context) and "a" (action), e.g. ("ca",) quadratic (default), ("ca", "cca").
        learning_rate: > 0, VW's `-l` (0.5).
        power_t: >= 0, learning-rate decay exponent (0.5).
        l2: >= 0, L2 penalty (0).
        bits: feature-table bits, 1 to 30 (18).
        action_ids: add an indicator feature per action, so each action also has weights of
            its own on top of the shared ones learned through its features (True).
        top_k: actions shown at once, >= 1 (1); see the module docstring.
        model: path of a model written by `save` to start from (None).
    """

    model_config = ConfigDict(populate_by_name=True)

    exploration: Literal["epsilon", "squarecb", "cover", "bag", "softmax", "rnd"] = "epsilon"
    explore: float | None = Field(None, ge=0, le=1, alias="epsilon")
    gamma_scale: float | None = Field(None, gt=0)
    gamma_exponent: float | None = Field(None, ge=0)
    cover: int | None = Field(None, ge=1)
    psi: float | None = Field(None, ge=0)
    bag: int | None = Field(None, ge=1)
    greedify: bool | None = None
    lambda_: float | None = Field(None, ge=0, alias="lambda")
    rnd: int | None = Field(None, ge=1)
    rnd_alpha: float | None = Field(None, gt=0)
    rnd_invlambda: float | None = Field(None, gt=0)
    cb_type: Literal["mtr", "ips", "dr", "dm"] = "mtr"
    interactions: tuple[str, ...] = ("ca",)
    learning_rate: float = Field(0.5, gt=0)
    power_t: float = Field(0.5, ge=0)
    l2: float = Field(0.0, ge=0)
    bits: int = Field(18, ge=1, le=30)
    action_ids: bool = True
    top_k: int = Field(1, ge=1)
    model: str | None = None

    @field_validator("interactions")
    @classmethod
    def _check_interactions(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for term in value:
            if len(term) < 2 or set(term) - {NS_CONTEXT, NS_ACTION}:
                raise ValueError(f"term {term!r}: expected 2 or more letters from 'c' "
                                 "(context) and 'a' (action), e.g. 'ca'")
        return value

    @field_validator("model", mode="before")
    @classmethod
    def _check_model(cls, value: Any) -> Any:
        if isinstance(value, Path):
            value = str(value)
        if isinstance(value, str) and not os.path.isfile(value):
            raise ValueError("no such model file")
        if isinstance(value, str) and any(c.isspace() for c in value):
            raise ValueError("a path with whitespace cannot go on VW's command line")
        return value

    @model_validator(mode="after")
    def _check_exploration(self) -> VWParams:
        for other, names in _OWN.items():
            for name in names:
                if other != self.exploration and getattr(self, name) is not None:
                    shown = "lambda" if name == "lambda_" else name
                    raise ValueError(f"{shown} = {getattr(self, name)!r} is only used with "
                                     f"exploration={other!r}, not {self.exploration!r}")
        allowed = _CB_TYPES.get(self.exploration)
        if allowed and self.cb_type not in allowed:
            raise ValueError(f"cb_type = {self.cb_type!r} with exploration="
                             f"{self.exploration!r}: allowed {', '.join(allowed)}")
        return self


def vw_arguments(params: VWParams, vw_seed: int) -> str:
    """The VW command line for `params`, with `--random_seed vw_seed`."""
    p = params
    args = ["--cb_explore_adf", "--quiet", f"--random_seed {vw_seed}", f"-b {p.bits}",
            f"-l {p.learning_rate!r}", f"--power_t {p.power_t!r}", f"--cb_type {p.cb_type}"]
    if p.l2:
        args.append(f"--l2 {p.l2!r}")
    args += [f"--interactions {term}" for term in p.interactions]
    e = p.exploration
    if e == "epsilon":
        args.append(f"--epsilon {0.1 if p.explore is None else p.explore!r}")
    else:
        main = {"squarecb": "--squarecb", "cover": f"--cover {p.cover or 4}",
                "bag": f"--bag {p.bag or 5}", "softmax": "--softmax",
                "rnd": f"--rnd {p.rnd or 3}"}[e]
        args.append(main)
        options = {"epsilon": p.explore, "gamma_scale": p.gamma_scale,
                   "gamma_exponent": p.gamma_exponent, "psi": p.psi, "lambda": p.lambda_,
                   "rnd_alpha": p.rnd_alpha, "rnd_invlambda": p.rnd_invlambda}
        args += [f"--{k} {v!r}" for k, v in options.items() if v is not None]
        if p.greedify:
            args.append("--greedify")
    if p.model is not None:
        args.append(f"-i {p.model}")
    return " ".join(args)
