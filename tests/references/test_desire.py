"""Sanity tests of the numpy desire-backpropagation reference (tests/references/desire.py).

The reference is what the Brian2 implementation is compared with spike for spike, so
these tests pin its conventions with hand-worked numbers: the integrate-and-fire input,
the trace timing, the one-step delay between layers, dropout scaling, the desire
thresholds and the update.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

from tests.references import desire as ref


def input_counts(xs, T):
    """Spike counts of the input layer for pixel values ``xs`` (one neuron each)."""
    cfg = ref.DesireConfig(T=T)
    weights = [np.zeros((1, len(xs)))]
    return ref.forward(weights, np.asarray(xs, dtype=float), cfg)["counts"][0]


# ----------------------------------------------------------------------------- input


@pytest.mark.parametrize("T", [20, 7])
def test_input_count_is_floor_T_x_for_dyadic_pixels(T):
    # Exact formula verified: count(x) == floor(T * x) for every x = k/16 (the digits
    # pixels), where float64 accumulation of x is exact.
    xs = np.arange(17) / 16.0
    counts = input_counts(xs, T)
    assert counts.tolist() == [math.floor(T * x) for x in xs]


def test_input_count_general_pixels_accumulates_in_float64():
    # For other x the membrane accumulates x step by step in float64, so
    # count == floor(T*x + 1e-9) unless T*x is within 1e-9 of an integer n, where the
    # rounding of the running sum decides between n - 1 and n.
    T = 20
    xs = np.round(np.arange(1001) / 1000.0, 3)
    counts = input_counts(xs, T)
    for x, c in zip(xs, counts):
        n = round(T * x)
        if abs(T * x - n) < 1e-9:
            assert c in (n - 1, n), x
        else:
            assert c == math.floor(T * x + 1e-9), x
    # The pinned case: 0.1 added ten times is 0.9999999999999999 < 1 in float64, so the
    # 10th step does not fire and x = 0.1 gives 1 spike in 20 steps, not 2.
    assert input_counts([0.1], T)[0] == 1
    assert input_counts([0.5], T)[0] == 10


def test_input_spike_times():
    cfg = ref.DesireConfig(T=8)
    fwd = ref.forward([np.zeros((1, 3))], np.array([1.0, 0.5, 0.25]), cfg)
    s = fwd["spikes"][0].astype(int)
    assert s[:, 0].tolist() == [1] * 8
    assert s[:, 1].tolist() == [0, 1] * 4
    assert s[:, 2].tolist() == [0, 0, 0, 1] * 2


# ------------------------------------------------------------- one layer, by hand


def test_one_layer_update_by_hand():
    # T = 4, decay 0.5, N* = 4, inputs x = (1.0, 0.5), label 0.
    # Input spikes:  s0 = 1,1,1,1   s1 = 0,1,0,1
    # Traces (including the spike of the same step, decay 0.5):
    #   tr0 = 1, 1.5, 1.75, 1.875      tr1 = 0, 1, 0.5, 1.25
    # W = [[0.6, 0], [0, 1.2]]
    # out0: v = 0.6, 0.9, 1.05 -> spike (0.05), 0.625   -> spikes at t = 2, count 1
    # out1: v = 0, 1.2 -> spike (0.2), 0.1, 1.25 -> spike -> spikes at t = 1, 3, count 2
    # Desire: e0 = 1 - 1/4 = 0.75 > 0.3 (active, +); e1 = 2/4 = 0.5 > 0.3 (active, -)
    # dW row 0 = +lr * tr[2] = lr * (1.75, 0.5)
    # dW row 1 = -lr * (tr[1] + tr[3]) = -lr * (3.375, 2.25)
    cfg = ref.DesireConfig(T=4, decay=0.5, margin=0, lr0=0.01, lr_decay=0.04)
    weights = [np.array([[0.6, 0.0], [0.0, 1.2]])]
    before = weights[0].copy()
    masks = ref.make_masks([2, 2], cfg, np.random.default_rng(0))
    out = ref.train_sample(weights, np.array([1.0, 0.5]), 0, 1, cfg, masks)

    assert out["spikes"][1].astype(int).tolist() == [[0, 0], [0, 1], [1, 0], [0, 1]]
    assert out["counts"][1].tolist() == [1, 2]
    np.testing.assert_allclose(out["traces"][0], [[1, 0], [1.5, 1], [1.75, 0.5], [1.875, 1.25]])
    np.testing.assert_allclose(out["v"][1][:, 0], [0.6, 0.9, 0.05, 0.625])
    active, sign = out["desires"][0]
    assert active.tolist() == [True, True]
    assert sign.tolist() == [True, False]

    lr = 0.01 * math.exp(-0.04 * 1)
    assert out["lr"] == pytest.approx(lr, rel=1e-15)
    expected = lr * np.array([[1.75, 0.5], [-3.375, -2.25]])
    np.testing.assert_allclose(out["dW"][0], expected, rtol=1e-12)
    np.testing.assert_allclose(weights[0], before + expected, rtol=1e-12)


# ---------------------------------------------------------------- delay and dropout


def test_one_step_delay_between_layers_and_trace_timing():
    # x = 0.5: input spikes at t = 1, 3, 5; the hidden neuron (w = 1) fires in the same
    # steps; the output (w = 1) receives them one step late and fires at t = 2, 4. The
    # hidden spike of the last step (t = 5) is counted but reaches nobody.
    cfg = ref.DesireConfig(T=6)
    weights = [np.array([[1.0]]), np.array([[1.0]])]
    fwd = ref.forward(weights, np.array([0.5]), cfg)
    assert fwd["spikes"][0][:, 0].astype(int).tolist() == [0, 1, 0, 1, 0, 1]
    assert fwd["spikes"][1][:, 0].astype(int).tolist() == [0, 1, 0, 1, 0, 1]
    assert fwd["spikes"][2][:, 0].astype(int).tolist() == [0, 0, 1, 0, 1, 0]
    assert fwd["counts"][1].tolist() == [3]
    assert fwd["counts"][2].tolist() == [2]
    assert fwd["received"][0][:, 0].tolist() == [0, 1, 0, 1, 0, 1]
    assert fwd["received"][1][:, 0].tolist() == [0, 0, 1, 0, 1, 0]
    # Traces include the spike received in the same step (decay 0.75).
    np.testing.assert_allclose(fwd["traces"][0][:, 0], [0, 1, 0.75, 1.5625, 1.171875, 1.87890625])
    np.testing.assert_allclose(fwd["traces"][1][:, 0], [0, 0, 1, 0.75, 1.5625, 1.171875])


def test_dropout_scales_transmitted_spikes_not_traces_or_counts():
    cfg = ref.DesireConfig(T=5, p_in=0.0, p_hid=0.5)
    weights = [np.array([[1.0], [1.0]]), np.array([[0.3, 5.0]])]
    masks = [np.ones(1), np.array([1.0, 0.0]), np.ones(1)]
    x = np.array([1.0])

    train = ref.forward(weights, x, cfg, masks=masks, train=True)
    # The dropped hidden neuron never spikes; the kept one spikes every step.
    assert train["counts"][1].tolist() == [5, 0]
    # A kept hidden spike is transmitted as 1/(1-0.5) = 2, one step late.
    assert train["received"][1].tolist() == [[0, 0]] + [[2, 0]] * 4
    # The trace adds min(2, 1) = 1 per received spike.
    np.testing.assert_allclose(train["traces"][1][:, 0], [0, 1, 1.75, 2.3125, 2.734375])
    # Output: v = 0, 0.6, 0.45 + 0.6 = 1.05 -> spike (0.05), 0.6375, 0.478 + 0.6 = 1.078 -> spike
    assert train["spikes"][2][:, 0].astype(int).tolist() == [0, 0, 1, 0, 1]

    evaluation = ref.forward(weights, x, cfg, masks=masks, train=False)
    # No dropout and no scaling in evaluation: both hidden neurons transmit 1.
    assert evaluation["counts"][1].tolist() == [5, 5]
    assert evaluation["received"][1].tolist() == [[0, 0]] + [[1, 1]] * 4
    assert evaluation["spikes"][2][:, 0].astype(int).tolist() == [0, 1, 1, 1, 1]


def test_input_dropout_silences_input_neuron_in_training_only():
    cfg = ref.DesireConfig(T=4, p_in=0.5, p_hid=0.0)
    weights = [np.array([[0.6, 0.6]])]
    masks = [np.array([0.0, 1.0]), np.ones(1)]
    train = ref.forward(weights, np.array([1.0, 1.0]), cfg, masks=masks, train=True)
    assert train["counts"][0].tolist() == [0, 4]
    assert train["received"][0][:, 1].tolist() == [2.0] * 4  # scale 1/(1-0.5)
    assert train["spikes"][1][:, 0].all()  # 0.6 * 2 = 1.2 >= 1 every step
    evaluation = ref.forward(weights, np.array([1.0, 1.0]), cfg, masks=masks)
    assert evaluation["counts"][0].tolist() == [4, 4]


# ----------------------------------------------------------------------- desires


def test_output_desire_thresholds():
    cfg = ref.DesireConfig()  # N* = 16, threshold 0.30, strict
    counts = np.array([12, 11, 4, 5, 20, 0, 0, 0, 0, 0])
    active, sign = ref.output_desire(counts, 0, cfg)
    assert not active[0]  # label with 12 spikes: 1 - 12/16 = 0.25, satisfied
    assert sign.tolist() == [True] + [False] * 9
    assert active[1]  # non-label with 11 spikes: 11/16 = 0.6875
    assert not active[2]  # 4/16 = 0.25
    assert active[3]  # 5/16 = 0.3125
    active, _ = ref.output_desire(counts, 1, cfg)
    assert active[1]  # label with 11 spikes: 1 - 11/16 = 0.3125, still desired
    active, _ = ref.output_desire(counts, 4, cfg)
    assert not active[4]  # label above N*: signed error 1 - 20/16 < 0, satisfied
    # Strict comparison: with threshold 0.25, an error of exactly 4/16 is not active.
    active, _ = ref.output_desire(counts, 0, ref.DesireConfig(out_error_threshold=0.25))
    assert not active[2] and active[3]
    # No absolute value at the output: 1 - 20/16 = -0.25 stays below a 0.2 threshold.
    active, _ = ref.output_desire(counts, 4, ref.DesireConfig(out_error_threshold=0.2))
    assert not active[4] and active[2]


def test_hidden_desire_by_hand():
    # Output counts (8, 8), label 0, N* = 16: e = (0.5, 0.5), both active; q = (+1, -1),
    # eps = (|1 - 0.5|, |0 - 0.5|) = (0.5, 0.5).
    # W_out = [[0.5, 0.25, 0.125], [0.25, 0.5, 0.0]]
    # d = 0.5 * W_out[0] - 0.5 * W_out[1] = (0.125, -0.125, 0.0625)
    cfg = ref.DesireConfig(hidden_desire_threshold=0.0625)
    weights = [np.zeros((3, 2)), np.array([[0.5, 0.25, 0.125], [0.25, 0.5, 0.0]])]
    fwd = {"counts": [np.zeros(2, int), np.zeros(3, int), np.array([8, 8])]}
    des = ref.desires(weights, fwd, 0, cfg, None)
    assert len(des) == 2
    active, sign = des[0]
    assert active.tolist() == [True, True, True]  # |0.0625| >= 0.0625 (not strict)
    assert sign.tolist() == [True, False, True]
    stricter = ref.DesireConfig(hidden_desire_threshold=0.07)
    active, _ = ref.desires(weights, fwd, 0, stricter, None)[0]
    assert active.tolist() == [True, True, False]


def test_hidden_desire_uses_upper_mask_and_absolute_error():
    # Three layers: 1 -> 2 hidden (h1) -> 2 hidden (h2) -> 2 outputs.
    # Output: counts (0, 0), label 0 -> out0 active (+) with eps 1, out1 inactive.
    # h2 desire: d = W3[0] * 1 = (0.5, 0.25) -> both active, sign (+, +).
    # h1 desire from h2 with counts (20, 8):
    #   eps = (|1 - 20/16|, |1 - 8/16|) = (0.25, 0.5)   (absolute value)
    #   d = 0.25 * W2[0] + 0.5 * W2[1] = (-0.15, -0.15); without the absolute value
    #   it would be (0.35, -0.25)
    #   with h2 neuron 0 masked out: d = 0.5 * W2[1] = (0.1, -0.2)
    cfg = ref.DesireConfig()
    w2 = np.array([[-1.0, 0.2], [0.2, -0.4]])
    w3 = np.array([[0.5, 0.25], [1.0, 1.0]])
    weights = [np.zeros((2, 1)), w2, w3]
    fwd = {"counts": [np.zeros(1, int), np.zeros(2, int), np.array([20, 8]), np.array([0, 0])]}
    masks_all = [np.ones(1), np.ones(2), np.ones(2), np.ones(2)]
    des = ref.desires(weights, fwd, 0, cfg, masks_all)
    assert des[2][0].tolist() == [True, False]
    assert des[1][0].tolist() == [True, True] and des[1][1].tolist() == [True, True]
    assert des[0][0].tolist() == [True, True]
    assert des[0][1].tolist() == [False, False]
    masks = [np.ones(1), np.ones(2), np.array([0.0, 1.0]), np.ones(2)]
    des = ref.desires(weights, fwd, 0, cfg, masks)
    assert des[0][0].tolist() == [True, True]
    assert des[0][1].tolist() == [True, False]


def test_train_sample_uses_weights_before_update_and_postsynaptic_mask():
    rng = np.random.default_rng(3)
    sizes = [16, 12, 8, 4]
    cfg = ref.DesireConfig(p_in=0.1, p_hid=0.3, lr0=0.2)
    weights = [2.0 * w for w in ref.init_weights(sizes, rng)]
    x = rng.random(16)
    masks = ref.make_masks(sizes, cfg, rng)
    masks[1][:3] = 0.0
    before = [w.copy() for w in weights]
    out = ref.train_sample(weights, x, 2, 0, cfg, masks)

    fwd = ref.forward(before, x, cfg, masks=masks, train=True)
    des = ref.desires(before, fwd, 2, cfg, masks)
    for (a, s), (a2, s2) in zip(des, out["desires"]):
        assert np.array_equal(a, a2) and np.array_equal(s, s2)
    for w, w0, dw in zip(weights, before, out["dW"]):
        np.testing.assert_array_equal(w, w0 + dw)
    # Power check: with the updated weights the hidden desires would differ, so the
    # comparison above does tell "before the update" from "after".
    des_after = ref.desires(weights, fwd, 2, cfg, masks)
    assert any(not np.array_equal(a, b) for (a, _), (b, _) in zip(des_after[:-1], des[:-1]))
    assert any(np.abs(dw).sum() > 0 for dw in out["dW"])
    # Dropped hidden neurons get no update of their incoming weights.
    assert np.all(out["dW"][0][:3] == 0.0)
    # dW = lr * sum_t [spike] * gate * trace, checked neuron by neuron for layer 2.
    active, sign = out["desires"][1]
    lr = cfg.learning_rate(0)
    for i in range(sizes[2]):
        g = float(active[i] and masks[2][i] > 0) * (1.0 if sign[i] else -1.0)
        expected = lr * g * out["traces"][1][out["spikes"][2][:, i]].sum(axis=0)
        np.testing.assert_allclose(out["dW"][1][i], expected, rtol=1e-12, atol=1e-300)


def test_weight_updates_gate_on_postsynaptic_mask_and_desire():
    # Synthetic forward record: two postsynaptic neurons that both spiked at t = 0 and 1;
    # neuron 0 is desired up, neuron 1 is desired down but dropped (mask 0).
    cfg = ref.DesireConfig(T=2, lr0=0.5, lr_decay=0.0)
    fwd = {
        "spikes": [np.ones((2, 2), bool), np.ones((2, 2), bool)],
        "traces": [np.array([[1.0, 0.0], [0.75, 1.0]])],
    }
    des = [(np.array([True, True]), np.array([True, False]))]
    masks = [np.ones(2), np.array([1.0, 0.0])]
    (dw,) = ref.weight_updates(fwd, des, cfg, masks, epoch=0)
    np.testing.assert_allclose(dw, [[0.5 * 1.75, 0.5 * 1.0], [0.0, 0.0]])
    (dw,) = ref.weight_updates(fwd, des, cfg, None, epoch=0)
    np.testing.assert_allclose(dw, [[0.875, 0.5], [-0.875, -0.5]])


# ----------------------------------------------------- masks, weights, evaluation


def test_make_masks():
    cfg = ref.DesireConfig(p_in=0.2, p_hid=0.3)
    masks = ref.make_masks([5000, 4000, 10], cfg, np.random.default_rng(0))
    assert [m.shape for m in masks] == [(5000,), (4000,), (10,)]
    assert set(np.unique(np.concatenate(masks))) <= {0.0, 1.0}
    assert masks[0].mean() == pytest.approx(0.8, abs=0.02)
    assert masks[1].mean() == pytest.approx(0.7, abs=0.02)
    assert masks[2].tolist() == [1.0] * 10
    assert ref.make_masks([30, 10], ref.DesireConfig(), np.random.default_rng(0))[0].all()


def test_init_weights_kaiming_normal():
    weights = ref.init_weights([400, 300, 10], np.random.default_rng(1))
    assert [w.shape for w in weights] == [(300, 400), (10, 300)]
    assert weights[0].std() == pytest.approx(math.sqrt(2 / 400), rel=0.02)
    assert abs(weights[0].mean()) < 0.003


def test_predict_and_evaluate_count_ties_as_wrong():
    assert ref.predict([1, 5, 2]) == 1
    assert ref.predict([5, 5, 2]) == -1
    assert ref.predict([0, 0, 0]) == -1
    # A silent network (zero weights) ties every sample at zero: accuracy 0.
    cfg = ref.DesireConfig()
    weights = [np.zeros((3, 4))]
    acc, pred, counts = ref.evaluate(weights, np.ones((5, 4)), np.zeros(5, int), cfg)
    assert acc == 0.0 and pred.tolist() == [-1] * 5 and counts.sum() == 0
    # Input 0 drives output 0 only: label 0 correct, label 1 wrong.
    weights = [np.array([[2.0, 0, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]])]
    acc, pred, counts = ref.evaluate(weights, np.ones((2, 4)), np.array([0, 1]), cfg)
    assert acc == 0.5 and pred.tolist() == [0, 0] and counts[0].tolist() == [20, 0, 0]


# --------------------------------------------------------------------- learning


def test_learns_digits_64_100_10():
    # Measured (seed 0, lr0 = 3e-4, 3 epochs, 1,497 training / 300 held-out images):
    # 0.823 on the held-out images (0.78 to 0.89 over seeds 0-8), from 0.1 untrained.
    # lr0 is 30 times the reference's 1e-5, which was tuned for 60,000 MNIST images per
    # epoch; with 1e-5 three epochs of digits reach only about 0.5.
    from sklearn.datasets import load_digits

    digits = load_digits()
    images, labels = digits.data / 16.0, digits.target
    rng = np.random.default_rng(0)
    order = rng.permutation(len(images))
    test, train = order[:300], order[300:]
    cfg = ref.DesireConfig(lr0=3e-4)
    weights = ref.init_weights([64, 100, 10], rng)

    start = time.perf_counter()
    untrained, _, _ = ref.evaluate(weights, images[test], labels[test], cfg)
    for epoch in range(3):
        ref.train_epoch(weights, images[train], labels[train], epoch, cfg, rng)
    accuracy, _, _ = ref.evaluate(weights, images[test], labels[test], cfg)
    elapsed = time.perf_counter() - start

    assert untrained < 0.3
    assert accuracy >= 0.78, accuracy
    assert elapsed < 60.0
