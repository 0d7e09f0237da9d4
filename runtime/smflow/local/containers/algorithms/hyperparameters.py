"""Hyperparameter checking as Amazon's built-in algorithms do it before they train.

A training job's HyperParameters are strings. Each algorithm declares its hyperparameters
(names, types, ranges, defaults, which are required) from its page in the SageMaker developer
guide ("K-Means Hyperparameters", "PCA Hyperparameters", "Linear Learner Hyperparameters", ...); :func:`validate` turns the strings into Python values or raises
:class:`CustomerError` with the algorithm's wording:

- ``No value(s) were specified for 'k', 'feature_dim' which are required hyperparameter(s)``
  (KMeans, PCA, LinearLearner: the FailureReason AWS gives, prefixed ``ClientError:``);
- ``Additional hyperparameters are not allowed ('foo' was unexpected)``;
- ``Hyperparameter 'k': value '0' is not valid: <why>``.

An algorithm built on AWS's open-source algorithm toolkit words them as that toolkit does
(``Missing required hyperparameter: num_round``, ``Extraneous hyperparameter found: foo``,
``Hyperparameter eta: value 2.0 not in range [0, 1]``): :data:`TOOLKIT_STYLE`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


class CustomerError(Exception):
    """The job's input (hyperparameters, data) is wrong; ``str(e)`` is the FailureReason's text
    after ``ClientError: ``."""


@dataclass(frozen=True)
class Param:
    """One hyperparameter. ``kind``: "int", "float", "bool", "str", "json" or "any" (the string
    as given); ``choices``: allowed values (after parsing); ``minimum`` / ``maximum``: inclusive
    bounds, ``above``: exclusive lower bound; ``auto``: the string "auto" is also accepted
    (value None); ``used``: whether the local emulation honours it (otherwise it is checked
    and logged as accepted but without effect)."""

    name: str
    kind: str = "any"
    required: bool = False
    default: Any = None
    choices: Sequence[Any] | None = None
    minimum: float | None = None
    maximum: float | None = None
    above: float | None = None
    auto: bool = False
    used: bool = True
    check: Callable[[Any], str | None] | None = None  # returns a reason when the value is bad


@dataclass(frozen=True)
class Style:
    """How an algorithm words its hyperparameter errors."""

    missing: Callable[[list[str]], str]
    extra: Callable[[list[str]], str]
    invalid: Callable[[str, str, str], str]  # (name, raw value, reason)
    ignored_prefixes: tuple[str, ...] = ()


AMAZON_STYLE = Style(
    missing=lambda names: (
        f"No value(s) were specified for {', '.join(repr(n) for n in names)} which are required "
        "hyperparameter(s) (caused by ValidationError)"
    ),
    extra=lambda names: (
        f"Additional hyperparameters are not allowed ({', '.join(repr(n) for n in names)} "
        f"{'was' if len(names) == 1 else 'were'} unexpected) (caused by ValidationError)"
    ),
    invalid=lambda name, raw, reason: (
        f"Hyperparameter {name!r}: value {raw!r} is not valid: {reason} (caused by ValidationError)"
    ),
)

TOOLKIT_STYLE = Style(
    missing=lambda names: f"Missing required hyperparameter: {', '.join(names)}",
    extra=lambda names: f"Extraneous hyperparameter found: {', '.join(names)}",
    invalid=lambda name, raw, reason: f"Hyperparameter {name}: value {raw} {reason}",
    # set by the SageMaker Python SDK or by automatic model tuning, never algorithm settings
    ignored_prefixes=("sagemaker_", "_tuning_objective_metric"),
)


_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no"}


def _parse(param: Param, raw: str) -> Any:
    text = str(raw).strip()
    if param.auto and text.lower() == "auto":
        return None
    if param.kind == "int":
        try:
            number = float(text)
        except ValueError:
            raise ValueError("it is not an integer") from None
        if not math.isfinite(number) or number != int(number):
            raise ValueError("it is not an integer")
        return int(number)
    if param.kind == "float":
        try:
            number = float(text)
        except ValueError:
            raise ValueError("it is not a number") from None
        if not math.isfinite(number):
            raise ValueError("it is not a finite number")
        return number
    if param.kind == "bool":
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ValueError("use true or false")
    if param.kind == "json":
        try:
            return json.loads(text)
        except ValueError:
            raise ValueError("it must be valid JSON") from None
    return text


def _range_text(param: Param) -> str:
    low = f"({param.above}" if param.above is not None else (f"[{param.minimum}" if param.minimum is not None else "(-inf")
    high = f"{param.maximum}]" if param.maximum is not None else "inf)"
    return f"{low}, {high}"


def _check(param: Param, value: Any) -> str | None:
    if value is None:
        return None
    if param.choices is not None and value not in param.choices:
        return f"not in {list(param.choices)}"
    if param.kind in ("int", "float") and (
        (param.minimum is not None and value < param.minimum)
        or (param.maximum is not None and value > param.maximum)
        or (param.above is not None and value <= param.above)
    ):
        return f"not in range {_range_text(param)}"
    if param.check is not None:
        return param.check(value)
    return None


@dataclass
class Hyperparameters:
    """The checked values (``values[name]``; defaults filled in; "auto" is None) and the names
    given that the local emulation does not act on (``without_effect``)."""

    values: dict[str, Any]
    given: set[str] = field(default_factory=set)
    without_effect: list[str] = field(default_factory=list)

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def get(self, name: str, default: Any = None) -> Any:
        value = self.values.get(name)
        return default if value is None else value


def validate(raw: Mapping[str, str], params: Sequence[Param], style: Style = AMAZON_STYLE) -> Hyperparameters:
    """Check ``raw`` (the job's HyperParameters) against ``params``.

    Raises:
        CustomerError: a required hyperparameter is missing, one is unknown, or a value has the
            wrong type or is out of range (the first problem found, in that order).
    """
    known = {param.name: param for param in params}
    raw = {str(k): v for k, v in (raw or {}).items() if not str(k).startswith(style.ignored_prefixes or ("\0",))}
    missing = [param.name for param in params if param.required and param.name not in raw]
    if missing:
        raise CustomerError(style.missing(missing))
    extra = sorted(name for name in raw if name not in known)
    if extra:
        raise CustomerError(style.extra(extra))
    values: dict[str, Any] = {}
    for param in params:
        if param.name not in raw:
            values[param.name] = param.default
            continue
        text = raw[param.name]
        try:
            value = _parse(param, text)
        except ValueError as error:
            raise CustomerError(style.invalid(param.name, str(text), str(error))) from None
        reason = _check(param, value)
        if reason:
            raise CustomerError(style.invalid(param.name, str(text), reason))
        values[param.name] = value
    given = set(raw)
    without_effect = sorted(name for name in given if not known[name].used)
    return Hyperparameters(values, given, without_effect)
