"""Independent numpy reference of desire backpropagation (training and evaluation).

Desire backpropagation: Gerlinghoff, Luo, Goh & Wong, "Desire Backpropagation: A
Lightweight Training Algorithm for Multi-Layer Spiking Neural Networks based on
Spike-Timing-Dependent Plasticity", Neurocomputing 2023. This module is a plain,
readable float64 numpy re-implementation, written for one job: to be compared spike for
spike with the compiled Brian2 implementation in ``experiments/desire.py``. It is not
fast and it is not used by the package. Every line was written here; the authors' code
was read for facts only.

Source read for the facts below
-------------------------------
``DanielGerlinghoff/desire-backpropagation``, file ``desire_pytorch.py`` at commit
``5e860362c5a36ad697cd37afd45a4219e09eba00`` (the commit that adds
``models/fashion_mnist.pt``; the README calls ``desire_pytorch.py`` "the only relevant
file"). Line numbers below refer to that file at that commit:

- ``SnnLinear.forward``          lines 100-117 (membrane, dropout, spikes, traces)
- ``SnnLinear.backward``         lines 119-135 (hidden desire from the layer above)
- ``SnnLinear.gen_traces``       lines 137-139
- ``SnnLinear.reset``            lines 141-150 (masks drawn per sample)
- ``SnnInput.forward``           lines 169-180 (integrate-and-fire input)
- ``SnnModel.__init__``          line 228 (``dropout = not layer_last``)
- ``SnnModel.forward``           lines 231-244 (layer order and one-step delay)
- ``SnnModel.backward``          lines 246-259 (output desire, propagation downwards)
- ``SnnOptim.step``              lines 283-289 (weight update of linear layers)
- ``SnnOptim.scheduler``         lines 291-294 (lr = lr0 * exp(-lr_decay * epoch))
- ``SnnResult.register``         about line 307 (correct only for a unique maximum)
- argparse defaults: tsteps 20, lr 1e-5 (linear), lr-decay 4e-2, dropout (0.0, 0.3),
  mempot-thres 1.0, mempot-decay 2 (decay = (2**2 - 1) / 2**2 = 0.75), desire-thres
  0.05 (linear) and 0.30 (output), error-margin 4. The training loop calls
  ``optim.scheduler(epoch)`` with ``epoch`` counted from 0, then per image
  ``model(image)``, ``model.backward(label)``, ``optim.step()``.

Differences from that code: float64 instead of float32; masks are passed in instead of
being drawn inside ``reset()``; traces are computed in evaluation too (they do not
influence the dynamics; the reference skips them outside training).

Notation
--------
Layers ``l = 0 .. L``: layer 0 is the input layer (one neuron per pixel), layers
``1 .. L-1`` are hidden, layer ``L`` is the output. ``W[l-1]`` (shape ``(n_l, n_{l-1})``)
connects layer ``l-1`` to layer ``l``. Steps ``t = 0 .. T-1``. ``s_l[t]`` is the boolean
spike of layer ``l`` produced during step ``t``. ``mask_l`` is the dropout mask of
layer ``l`` (1 kept, 0 dropped); ``g_l = 1/(1-p_l)`` its scale, where ``p_0 = p_in``,
``p_l = p_hid`` for hidden layers and the output layer has no dropout (mask all ones,
scale 1). In evaluation every mask is all ones and every scale is 1.

Exact order of operations within step ``t`` (layers in order 0, 1, ..., L)
---------------------------------------------------------------------------
Input layer (``SnnInput.forward``, lines 169-180)::

    v0 += x
    s0[t] = (v0 >= threshold) and mask_0
    v0 -= threshold * s0[t]              # only neurons that spiked; no decay, no floor

Layer ``l >= 1`` (``SnnLinear.forward``, lines 100-117)::

    r_l[t] = g_0 * s0[t]                 if l == 1   (input spikes of the same step)
           = g_{l-1} * s_{l-1}[t-1]      if l >= 2   (previous step; zero at t = 0)
    v_l  = decay * v_l                   # decay first
    v_l += W[l-1] @ r_l[t]               # the scaled spike values are what is summed
    s_l[t] = (v_l >= threshold) and mask_l
    v_l -= threshold * s_l[t]            # only neurons that spiked
    tr_l[t] = decay * tr_l[t-1] + min(r_l[t], 1)     (tr_l[-1] = 0)

The reference stores a linear layer's spike of step ``t`` in row ``t+1`` and the next
layer reads row ``t`` during step ``t`` (line 242), so layer ``l >= 2`` sees layer
``l-1``'s spikes one step late; the spikes a layer produces in the last step ``T-1`` are
counted but reach nobody. The input layer writes row ``t`` (line 180), so the first
hidden layer sees the input spikes of the same step. A dropped neuron integrates but
never spikes, so it is never reset either (lines 110-111); its membrane is not
observable. All state (membranes, traces) is zero at the start of every sample.

Floating point, for spike-for-spike parity: the input membrane accumulates ``x`` step by
step, so its count is ``floor(T*x)`` exactly only where the running sum is exact (e.g.
``x = k/16``); for ``x = 0.1`` ten additions give 0.9999999999999999 and ``T = 20``
yields 1 spike, not 2. An implementation that computes ``floor(t*x)`` in closed form
will differ there. Layer inputs are summed as ``W @ r`` in float64 after the decay.

Answers to the questions the issue asks, with where they were read
------------------------------------------------------------------
(a) Trace timing. ``gen_traces`` (lines 137-139) writes ``traces[t+1] = decay *
    traces[t] + min(r[t], 1)`` at the end of step ``t``; the update (lines 284-289)
    multiplies ``traces[k]`` with ``spikes[k]``, and spike row ``k = t+1`` is the spike
    of step ``t``. So the trace paired with a postsynaptic spike of step ``t`` INCLUDES
    the presynaptic spike received in step ``t`` (the trace is updated before it is
    used): ``tr_l[t] = sum_{k <= t} decay**(t-k) * min(r_l[k], 1)``. The presynaptic
    train that feeds a layer's trace is ``r_l``, the train the layer actually received
    (for ``l >= 2`` the delayed one, line 117 uses ``spikes_in``, the argument of
    ``forward``). ``forward()['traces'][l-1][t]`` is exactly ``tr_l[t]``. (The issue's
    "tr[t+1] = 0.75 tr[t] + min(s_in[t], 1)" paired with "post spiked at t", read
    literally, would use the trace without the same-step spike; the reference pairs
    the spike with the trace that includes it, and this module follows the reference.)
(b) Dropout masks of the input layer and of the hidden layers gate the spikes that feed
    the next layer (a dropped neuron emits no spike at all, lines 110 and 176), and the
    value transmitted by a kept spike is ``g = 1/(1-p)`` during training (lines 114 and
    180): what is scaled is the input added to the next layer's membrane,
    ``W @ (g * s)``. The trace is NOT scaled: it adds ``min(r, 1)``
    (``spikes_in.clamp(max=1.0)``, line 117), i.e. 1 per received spike. Spike counts
    are not scaled either: the hidden desire divides the stored (scaled) spikes by the
    scale again (line 121), so every count in this module is a plain number of spikes.
(c) ``mask_i`` in the update is the postsynaptic neuron's own mask: line 284 ANDs the
    layer's spikes with ``desire_active and layer.dropout_mask`` of that same layer.
    (Redundant, since a dropped neuron never spikes.) Likewise in the hidden desire the
    mask is that of the upper layer's neuron ``i`` (line 126, ``self.dropout_mask`` of
    the layer whose ``backward`` runs).
(d) The output layer has no dropout: ``SnnLinear(..., not layer_last, ...)`` (line 228)
    gives it ``dropout_dist = None``, scale 1 and a mask of ones (lines 95-96, 150).
(e) Order: the whole forward pass of a sample runs with the weights before that sample's
    update; then ``model.backward`` (lines 246-259) computes the desire of every layer,
    top to bottom, from these same old weights; only then ``optim.step`` (lines
    272-289) updates every layer. So a layer's desire uses the weights of the layer
    above as they were BEFORE this sample's update.
(f) ``N* = T - margin = 16`` (lines 122, 248). Output (line 248-251):
    ``e_i = c_i / N*`` for ``i != label`` and ``e_label = 1 - c_label / N*`` (signed, no
    absolute value: it is negative when ``c_label > N*``); active where ``e_i > 0.30``
    (strict, ``gt``); sign true only for the label. Hidden (lines 121-133):
    ``eps_i = |sign_i - c_i / N*|`` (``nn.L1Loss``, absolute value), ``c_i`` the
    unscaled count of the upper layer's neuron; ``q_i = (2 sign_i - 1) * active_i *
    mask_i``; ``d_j = sum_i W_ij eps_i q_i``; active where ``|d_j| >= 0.05``
    (``ge``, not strict); sign where ``d_j > 0`` (strict). Desire goes down to the
    first hidden layer (the loop stops at ``idx = 2``, line 257).
(g) Counts sum all T steps of a layer's own spikes (``torch.sum`` over all ``T + 1`` rows,
    row 0 of a linear layer is always zero), including the spikes of the last step that
    never reach the next layer. Correct means the label's count equals the maximum and
    no other neuron has that count (``torch.bincount(spikes)[max] == 1``); all-zero
    counts are therefore wrong.

Update (lines 283-289, scheduler lines 291-294), for every non-input layer ``l``::

    lr = lr0 * exp(-lr_decay * epoch)          # epoch counted from 0
    dW[l-1][i, j] = lr * sum_t tr_l[t, j] * s_l[t, i] * active_i * mask_i * (2 sign_i - 1)

No clipping, no weight decay, no biases. Weights start Kaiming normal,
``std = sqrt(2 / n_in)`` (``nn.init.kaiming_normal_`` defaults: fan_in, gain sqrt(2)).

What ``forward`` returns (all arrays per layer, layer 0 = input)
----------------------------------------------------------------
``spikes[l]``  (T, n_l) bool: ``s_l[t]`` (mask applied, never scaled)
``received[l-1]`` (T, n_{l-1}) float: ``r_l[t]``, the scaled presynaptic values summed
               into layer ``l`` in step ``t`` (delayed for ``l >= 2``)
``traces[l-1]`` (T, n_{l-1}) float: ``tr_l[t]`` as used with the spike of step ``t``
``v[l]``       (T, n_l) float: membrane at the end of step ``t`` (after the reset)
``counts[l]``  (n_l,) int: ``sum_t s_l[t]``
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class DesireConfig:
    """Hyper-parameters; the defaults are those of the reference code."""

    T: int = 20
    decay: float = 0.75
    threshold: float = 1.0
    margin: int = 4
    out_error_threshold: float = 0.30
    hidden_desire_threshold: float = 0.05
    lr0: float = 1e-5
    lr_decay: float = 0.04
    p_in: float = 0.0
    p_hid: float = 0.3

    @property
    def n_star(self) -> int:
        """Spike count that means "fully desired": ``T - margin``."""
        return self.T - self.margin

    def learning_rate(self, epoch: int) -> float:
        return self.lr0 * float(np.exp(-self.lr_decay * epoch))


def init_weights(sizes, rng) -> list[np.ndarray]:
    """Kaiming-normal weights, ``W[l]`` of shape ``(sizes[l+1], sizes[l])``."""
    weights = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        std = np.sqrt(2.0 / n_in)
        weights.append(rng.standard_normal((n_out, n_in)) * std)
    return weights


def make_masks(sizes, cfg: DesireConfig, rng) -> list[np.ndarray]:
    """One dropout mask per layer (input included) for one sample: 1.0 kept, 0.0 dropped.

    The input layer drops with ``p_in``, hidden layers with ``p_hid``, the output layer
    never. Each neuron is kept with probability ``1 - p`` (one uniform draw per neuron,
    layer by layer, input first; the output layer draws nothing).
    """
    masks = []
    last = len(sizes) - 1
    for layer, n in enumerate(sizes):
        if layer == last:
            masks.append(np.ones(n))
            continue
        p = cfg.p_in if layer == 0 else cfg.p_hid
        masks.append((rng.random(n) >= p).astype(float))
    return masks


def _scales(n_layers: int, cfg: DesireConfig, train: bool) -> list[float]:
    """Value transmitted by one kept spike of each layer."""
    if not train:
        return [1.0] * n_layers
    scales = [1.0 / (1.0 - cfg.p_in)]
    scales += [1.0 / (1.0 - cfg.p_hid)] * (n_layers - 2)
    scales.append(1.0)  # output layer: no dropout
    return scales


def forward(weights, x, cfg: DesireConfig, masks=None, train=False) -> dict:
    """Run one sample for ``cfg.T`` steps from zero state.

    ``masks`` (from :func:`make_masks`) and the ``1/(1-p)`` scales are used only when
    ``train`` is true; in evaluation every neuron is kept and spikes count 1, as in the
    reference. See the module docstring for the exact per-step order.
    """
    x = np.asarray(x, dtype=float).ravel()
    sizes = [weights[0].shape[1]] + [w.shape[0] for w in weights]
    n_layers = len(sizes)
    if x.shape[0] != sizes[0]:
        raise ValueError(f"input has {x.shape[0]} values, the network expects {sizes[0]}")
    if train and masks is not None:
        gates = [np.asarray(m, dtype=float) > 0.5 for m in masks]
    else:
        gates = [np.ones(n, dtype=bool) for n in sizes]
    scales = _scales(n_layers, cfg, train)
    T = cfg.T

    spikes = [np.zeros((T, n), dtype=bool) for n in sizes]
    v_hist = [np.zeros((T, n)) for n in sizes]
    received = [np.zeros((T, n)) for n in sizes[:-1]]
    traces = [np.zeros((T, n)) for n in sizes[:-1]]

    v = [np.zeros(n) for n in sizes]
    tr = [np.zeros(n) for n in sizes[:-1]]

    for t in range(T):
        # Input layer: integrate-and-fire on the pixel value.
        v[0] += x
        s = (v[0] >= cfg.threshold) & gates[0]
        v[0] -= cfg.threshold * s
        spikes[0][t] = s
        v_hist[0][t] = v[0]

        # Hidden and output layers, bottom to top.
        for layer in range(1, n_layers):
            if layer == 1:
                pre = spikes[0][t]  # same step
            elif t > 0:
                pre = spikes[layer - 1][t - 1]  # previous step
            else:
                pre = np.zeros(sizes[layer - 1], dtype=bool)
            r = scales[layer - 1] * pre.astype(float)

            v[layer] *= cfg.decay
            v[layer] += weights[layer - 1] @ r
            s = (v[layer] >= cfg.threshold) & gates[layer]
            v[layer] -= cfg.threshold * s

            tr[layer - 1] = cfg.decay * tr[layer - 1] + np.minimum(r, 1.0)

            spikes[layer][t] = s
            v_hist[layer][t] = v[layer]
            received[layer - 1][t] = r
            traces[layer - 1][t] = tr[layer - 1]

    counts = [sp.sum(axis=0).astype(int) for sp in spikes]
    return {
        "spikes": spikes,
        "received": received,
        "traces": traces,
        "v": v_hist,
        "counts": counts,
    }


def output_desire(counts_out, label, cfg: DesireConfig):
    """Desire of the output layer from its spike counts: ``(active, sign)``."""
    c = np.asarray(counts_out, dtype=float)
    error = c / cfg.n_star
    error[label] = 1.0 - error[label]  # signed, as in the reference
    active = error > cfg.out_error_threshold
    sign = np.zeros(c.shape[0], dtype=bool)
    sign[label] = True
    return active, sign


def hidden_desire(w_above, counts_above, active_above, sign_above, mask_above, cfg):
    """Desire of a layer from the layer above it (weights ``w_above``, shape
    ``(n_above, n_this)``): ``(active, sign)``."""
    c = np.asarray(counts_above, dtype=float)
    target = np.asarray(sign_above, dtype=float)
    eps = np.abs(target - c / cfg.n_star)
    gate = np.asarray(active_above, dtype=bool) & (np.asarray(mask_above, dtype=float) > 0.5)
    q = (2.0 * target - 1.0) * gate
    d = w_above.T @ (eps * q)
    active = np.abs(d) >= cfg.hidden_desire_threshold
    sign = d > 0
    return active, sign


def desires(weights, fwd, label, cfg: DesireConfig, masks) -> list:
    """``(active, sign)`` boolean arrays for every non-input layer, bottom to top.

    ``weights`` must be those the forward pass ran with (the reference computes all
    desires before any update). ``masks`` are the sample's masks (``None``: all kept);
    the mask of the upper layer gates the desire sent down from it.
    """
    counts = fwd["counts"]
    n_layers = len(counts)
    if masks is None:
        masks = [np.ones(len(c)) for c in counts]
    result = [None] * (n_layers - 1)
    result[-1] = output_desire(counts[-1], label, cfg)
    for layer in range(n_layers - 2, 0, -1):  # layer index in 0..L, input excluded
        active_above, sign_above = result[layer]  # desire of layer + 1
        result[layer - 1] = hidden_desire(
            weights[layer], counts[layer + 1], active_above, sign_above, masks[layer + 1], cfg
        )
    return result


def weight_updates(fwd, des, cfg: DesireConfig, masks, epoch: int) -> list[np.ndarray]:
    """``dW`` for every layer (same shapes as the weights); nothing is applied."""
    lr = cfg.learning_rate(epoch)
    n_layers = len(fwd["spikes"])
    if masks is None:
        masks = [np.ones(sp.shape[1]) for sp in fwd["spikes"]]
    dws = []
    for layer in range(1, n_layers):
        active, sign = des[layer - 1]
        kept = np.asarray(masks[layer], dtype=float) > 0.5
        factor = (active & kept) * (2.0 * sign - 1.0)  # (n_post,)
        post = fwd["spikes"][layer].astype(float) * factor  # (T, n_post)
        pre_trace = fwd["traces"][layer - 1]  # (T, n_pre)
        dws.append(lr * post.T @ pre_trace)
    return dws


def train_sample(weights, x, label, epoch, cfg: DesireConfig, masks) -> dict:
    """Forward (training mode), desires, update. Updates ``weights`` in place.

    Returns ``spikes``, ``counts``, ``traces``, ``received``, ``v`` (as
    :func:`forward`), ``desires``, ``dW`` (already added), ``lr`` and ``correct`` (the
    training-mode prediction, with dropout, as the reference logs it).
    """
    fwd = forward(weights, x, cfg, masks=masks, train=True)
    des = desires(weights, fwd, label, cfg, masks)
    dws = weight_updates(fwd, des, cfg, masks, epoch)
    for w, dw in zip(weights, dws):
        w += dw
    out = dict(fwd)
    out["desires"] = des
    out["dW"] = dws
    out["lr"] = cfg.learning_rate(epoch)
    out["correct"] = predict(fwd["counts"][-1]) == label
    return out


def predict(counts_out) -> int:
    """Index of the unique maximum count, or -1 when the maximum is shared."""
    c = np.asarray(counts_out)
    best = c.max()
    winners = np.flatnonzero(c == best)
    return int(winners[0]) if winners.size == 1 else -1


def evaluate(weights, images, labels, cfg: DesireConfig):
    """``(accuracy, predictions, counts)`` without dropout; a tie is wrong
    (prediction -1)."""
    images = np.asarray(images, dtype=float)
    labels = np.asarray(labels)
    n_out = weights[-1].shape[0]
    counts = np.zeros((len(images), n_out), dtype=int)
    predictions = np.zeros(len(images), dtype=int)
    for k, x in enumerate(images):
        counts[k] = forward(weights, x, cfg, train=False)["counts"][-1]
        predictions[k] = predict(counts[k])
    accuracy = float(np.mean(predictions == labels)) if len(labels) else 0.0
    return accuracy, predictions, counts


def train_epoch(weights, images, labels, epoch, cfg: DesireConfig, rng, shuffle=True) -> float:
    """One epoch of per-sample training; returns the training-mode accuracy.

    Draw order from ``rng``: the permutation (if ``shuffle``), then per sample the masks
    of :func:`make_masks`.
    """
    images = np.asarray(images, dtype=float)
    sizes = [weights[0].shape[1]] + [w.shape[0] for w in weights]
    order = rng.permutation(len(images)) if shuffle else np.arange(len(images))
    correct = 0
    for k in order:
        masks = make_masks(sizes, cfg, rng)
        out = train_sample(weights, images[k], int(labels[k]), epoch, cfg, masks)
        correct += bool(out["correct"])
    return correct / max(len(images), 1)
