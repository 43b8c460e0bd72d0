"""Synapse-threshold synergistic learning (STL), fully connected, trained online in Brian2.

Sun, Cai, Yang, Cui, Xia, Yao & Guo (2024). A synapse-threshold synergistic learning
approach for spiking neural networks. IEEE TCDS 16(2), 544-558.

The cell: ``H[t] = 0.5 V[t-1] + X[t]``, a hard reset to 0, a threshold per cell
initialised at 2.0. Conditions: ``stl`` (weights and thresholds learned), ``sl``
(weights only), ``tl`` (thresholds only, weights fixed at their random start). Input:
Bernoulli spikes (a pixel's intensity is its spike probability in each of ``T = 8``
steps); output: 10 voting cells per class; loss: squared error of the class firing
rates; Adam with weight decay 1e-6. The paper's claims to check: STL beats SL and TL,
learned thresholds settle firing rates at useful levels, STL is more robust to noisy
inputs, and costs little energy (synaptic operations per sample against the ANN's MACs).

The shared protocol, its deviations from the paper and its measurements:
:mod:`experiments.neuron_parameters`.

Examples::

    python -m experiments stl --preset quick
    python -m experiments stl --dataset mnist --data-dir ../shared/datasets/mnist
    python -m experiments stl --condition sl
"""

from __future__ import annotations

from experiments.neuron_parameters import study_command

STUDY = "stl"
__all__ = ["STUDY", "add_arguments", "main"]

add_arguments, main = study_command(STUDY)
