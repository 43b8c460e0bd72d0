"""Parameter sets of the model library and their validation.

Every neuron and synapse model carries a dictionary of default parameters
(Brian2 quantities) and a tuple of constraints.  :func:`resolve` merges user
overrides into the defaults, checks units and ranges, and raises a
``ValueError`` that names the parameter, the value given and the allowed
range, so that a wrong number stops a run before anything is compiled.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np
from brian2 import Quantity, get_dimensions, get_unit
from brian2.units.fundamentalunits import DIMENSIONLESS, fail_for_dimension_mismatch

__all__ = ["Positive", "Interval", "Above", "resolve", "format_value"]


def format_value(value) -> str:
    """Short human-readable form of a parameter value (with its unit)."""
    if isinstance(value, Quantity):
        return str(value.in_best_unit(precision=6)) if value.shape == () else str(value)
    return repr(value)


def _magnitude(value):
    return np.asarray(value, dtype=float)


@dataclass(frozen=True)
class Positive:
    """``name > 0``: time constants, rates, thresholds of dimensionless models."""

    name: str
    what: str = "a time constant"

    def check(self, params: Mapping) -> str | None:
        value = params[self.name]
        if not np.all(_magnitude(value) > 0):
            return (
                f"{self.name} must be > 0 ({self.what}); got {format_value(value)}"
            )
        return None


@dataclass(frozen=True)
class Interval:
    """``low (<) name (<) high`` for dimensionless parameters (fractions, U)."""

    name: str
    low: float
    high: float
    low_open: bool = False
    high_open: bool = False

    def check(self, params: Mapping) -> str | None:
        value = _magnitude(params[self.name])
        lo_ok = value > self.low if self.low_open else value >= self.low
        hi_ok = value < self.high if self.high_open else value <= self.high
        if not (np.all(lo_ok) and np.all(hi_ok)):
            left = "(" if self.low_open else "["
            right = ")" if self.high_open else "]"
            return (
                f"{self.name} must lie in {left}{self.low}, {self.high}{right}; "
                f"got {format_value(params[self.name])}"
            )
        return None


@dataclass(frozen=True)
class Above:
    """``name > other`` (e.g. a threshold above the resting potential)."""

    name: str
    other: str
    or_equal: bool = False

    def check(self, params: Mapping) -> str | None:
        a, b = _magnitude(params[self.name]), _magnitude(params[self.other])
        ok = a >= b if self.or_equal else a > b
        if not np.all(ok):
            relation = "at or above" if self.or_equal else "above"
            return (
                f"{self.name} must be {relation} {self.other} "
                f"({format_value(params[self.other])}); got {format_value(params[self.name])}"
            )
        return None


def resolve(model_name: str, defaults: Mapping, constraints, overrides=None) -> dict:
    """Merge ``overrides`` into ``defaults`` and validate the result.

    Parameters
    ----------
    model_name : str
        Used in error messages only.
    defaults : mapping
        Default parameter values (Brian2 quantities or plain numbers).
    constraints : iterable
        Objects with a ``check(params) -> str | None`` method.
    overrides : mapping, optional
        User values. Unknown names and values with the wrong physical
        dimension raise ``ValueError``.

    Returns
    -------
    dict
        The validated parameter set, usable as a Brian2 namespace.
    """
    params = dict(defaults)
    for name, value in dict(overrides or {}).items():
        if name not in defaults:
            known = ", ".join(sorted(defaults))
            raise ValueError(
                f"unknown parameter {name!r} for model {model_name!r}; "
                f"known parameters: {known}"
            )
        expected = get_dimensions(defaults[name])
        try:
            fail_for_dimension_mismatch(value, defaults[name])
        except Exception:
            unit = "dimensionless" if expected is DIMENSIONLESS else str(get_unit(expected))
            raise ValueError(
                f"parameter {name!r} of model {model_name!r} must have the unit "
                f"of {unit}; got {format_value(value)}"
            ) from None
        params[name] = value
    errors = [msg for c in constraints if (msg := c.check(params)) is not None]
    if errors:
        raise ValueError(f"invalid parameters for model {model_name!r}: " + "; ".join(errors))
    return params
