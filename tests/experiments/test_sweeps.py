"""The sweeps a protocol offers (experiments/sweeps.py): grid points from a base
configuration, checked before anything runs; seeded sweeps; the --axis option."""

from __future__ import annotations

import argparse

import pytest

from experiments.sweeps import SweepKind, add_sweep_arguments, sweep_points
from runs.sweep import SweepError
from tests.experiments.test_protocol import ToyConfig


def test_sweep_points_cover_the_grid_and_check_every_point():
    kind = SweepKind("n_hidden x tau", axes=lambda cfg: {"n_hidden": [4, 8], "tau": [1.0]})
    cfg = ToyConfig.make("quick")
    assert sweep_points(cfg, kind) == [{"n_hidden": 4, "tau": 1.0}, {"n_hidden": 8, "tau": 1.0}]
    assert sweep_points(cfg, kind, [("tau", [2.0, 3.0])]) == [
        {"n_hidden": 4, "tau": 2.0}, {"n_hidden": 4, "tau": 3.0},
        {"n_hidden": 8, "tau": 2.0}, {"n_hidden": 8, "tau": 3.0}]
    with pytest.raises(SweepError, match="grid point .*tau: must be a positive number"):
        sweep_points(cfg, kind, [("tau", [1.0, -1.0])])
    with pytest.raises(SweepError, match="unknown sweep axis 'rate'"):
        sweep_points(cfg, kind, [("rate", [1.0])])
    with pytest.raises(SweepError, match="--trials must be at least 1, got 0"):
        sweep_points(cfg, kind, trials=0)


def test_seeded_sweeps_make_one_point_per_trial_seed():
    kind = SweepKind("variants", axes=lambda cfg: {"variant": ["a", "b"]},
                     overrides=lambda point: {"seed": point["seed"]}, seeds=True)
    cfg = ToyConfig.make("quick", seed=10)
    points = sweep_points(cfg, kind, trials=2)
    assert points == [{"variant": "a", "seed": 10}, {"variant": "a", "seed": 11},
                      {"variant": "b", "seed": 10}, {"variant": "b", "seed": 11}]


def test_sweep_options_parse_axes():
    parser = argparse.ArgumentParser()
    add_sweep_arguments(parser, {"grid": SweepKind("a grid", axes=dict)})
    args = parser.parse_args(["--sweep", "grid", "--axis", "tau=1,2.5", "--axis",
                              "n_hidden=3"])
    assert args.axis == [("tau", [1, 2.5]), ("n_hidden", [3])]
    with pytest.raises(SystemExit):
        parser.parse_args(["--axis", "tau"])
