"""Learnable membrane time constants (PLIF), fully connected, trained online in Brian2.

Fang, Yu, Chen, Masquelier, Huang & Tian (2021). Incorporating learnable membrane time
constant to enhance learning of spiking neural networks. ICCV, 2661-2671.

The cell: ``H[t] = V[t-1] + k (X[t] - V[t-1])`` with ``k = sigmoid(w) = 1/tau``, a hard
reset to 0 at threshold 1 (kept out of the gradient), ``w`` learned per layer
(``--tau-per neuron``: per cell) from ``w0 = -ln(tau0 - 1)``. Conditions: ``plif``
(learned decay) and ``lif`` (the same cell with ``tau`` fixed at ``tau0``). Input: the
image as a constant current for ``T = 8`` steps; output: 10 voting cells per class; loss:
squared error of the class firing rates against the one-hot label; Adam. The paper's
claims to check: ``tau0 = 16`` still trains where a fixed ``tau = 16`` LIF fails, PLIF
converges in fewer epochs, and the learned taus end up similar whatever ``tau0`` was.

The shared protocol, its deviations from the paper (fully connected, no batch
normalisation or dropout) and its measurements: :mod:`experiments.neuron_parameters`.

Examples::

    python -m experiments plif --preset quick
    python -m experiments plif --dataset mnist --data-dir ../shared/datasets/mnist --tau 16
    python -m experiments plif --condition lif --tau 16
"""

from __future__ import annotations

from experiments.neuron_parameters import study_command

STUDY = "plif"
__all__ = ["STUDY", "add_arguments", "main"]

add_arguments, main = study_command(STUDY)
