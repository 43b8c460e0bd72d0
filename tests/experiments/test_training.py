"""The training engine (experiments.training) in runtime mode on a tiny desire network:
chunks, padding, checkpoints, metrics, and a resume in mid-epoch that ends bit-identical
to an uninterrupted run.
"""

from __future__ import annotations

import numpy as np
import pytest

from experiments import desire
from experiments.training import Trainer
from runs import RunFolder


def tiny_protocol(epochs=2, seed=0):
    """A 16-6-3 network on 7 synthetic training images in chunks of 3 (the last chunk of
    every epoch is padded), evaluated on 4 images, in runtime mode."""
    rng = np.random.default_rng(11)
    x = rng.uniform(0, 1, (11, 16))
    x[x < 0.4] = 0
    y = rng.integers(0, 3, 11)
    cfg = desire.make_config("paper", "digits", hidden=(6,), chunk_size=3, epochs=epochs,
                             learning_rate=5e-3, dropout_hidden=0.25, seed=seed,
                             device="runtime")
    return desire.DesireProtocol(cfg, data=(x[:7], y[:7], x[7:], y[7:]), n_classes=3)


def test_engine_runs_chunks_checkpoints_and_metrics(tmp_path):
    protocol = tiny_protocol()
    folder = RunFolder.create(tmp_path, "desire", protocol.cfg.to_dict())
    state = Trainer(protocol, folder, progress=False).run()
    assert state.epoch == 2 and state.cursor == 0 and state.samples_seen == 14
    metrics = folder.read_metrics()
    assert [m["epoch"] for m in metrics] == [1, 2]
    assert all(0 <= m["accuracy"] <= 1 and m["n_eval"] == 4 for m in metrics)
    arrays, meta = folder.read_checkpoint()
    assert meta["epoch"] == 2 and meta["metrics"] == metrics
    assert sorted(arrays) == ["w1", "w2"]
    initial = protocol.initial_state()
    assert not np.array_equal(arrays["w1"], initial["w1"]), "training must change weights"
    log = folder.log_path.read_text()
    assert "chunk 2: 1 samples" in log  # 7 = 3 + 3 + 1 (padded to 3)
    # Per-layer statistics of training and evaluation, and one raster per class seen.
    for m in metrics:
        for key in ("layer_error", "train_layer_error"):
            assert len(m[key]) == 2 and all(e >= 0 for e in m[key])
        assert len(m["rate_per_class"]) == 2 and all(len(r) == 3 for r in m["rate_per_class"])
    assert metrics[0]["train_layer_error"][-1] > 0, "untrained outputs miss their desire"
    assert folder.recording_names() == ["epoch-0001", "epoch-0002"]
    rec = folder.read_recording("epoch-0002")
    eval_labels = protocol.y_eval
    classes = sorted(set(eval_labels.tolist()))
    assert rec["label"].tolist() == classes
    assert rec["sample"].tolist() == [int(np.flatnonzero(eval_labels == c)[0]) for c in classes]
    assert rec["output_raster"].shape == (len(classes), 20, 3)


def test_epoch_metrics_normalise_sums_per_neuron_sample_and_step():
    protocol = tiny_protocol()  # sizes 16-6-3, 20 steps
    sums = {"error_sum": np.array([12.0, 3.0]),
            "spikes_per_class": np.array([[60.0, 0.0, 24.0], [6.0, 0.0, 12.0]]),
            "samples_per_class": np.array([5.0, 0.0, 1.0])}
    m = protocol.epoch_metrics("eval", sums)
    assert m["layer_error"] == pytest.approx([12 / (6 * 6), 3 / (3 * 6)])
    assert m["rate_per_class"][0] == pytest.approx([60 / (6 * 20 * 5), None, 24 / (6 * 20)])
    assert m["rate_per_class"][1][1] is None
    assert m["rate_per_class"][1][2] == pytest.approx(12 / (3 * 20))


def test_engine_resume_mid_epoch_is_bit_identical(tmp_path):
    reference = RunFolder.create(tmp_path, "desire", {})
    Trainer(tiny_protocol(), reference, progress=False).run()

    # Interrupted after the first chunk of the second epoch: keep that checkpoint.
    folder = RunFolder.create(tmp_path, "desire", {})
    trainer = Trainer(tiny_protocol(), folder, progress=False)
    original = trainer.checkpoint
    saved = []

    def checkpoint_and_stop(state):
        original(state)
        saved.append((state.epoch, state.cursor))
        if (state.epoch, state.cursor) == (1, 3):
            raise KeyboardInterrupt

    trainer.checkpoint = checkpoint_and_stop
    with pytest.raises(KeyboardInterrupt):
        trainer.run()
    assert saved[-1] == (1, 3)

    Trainer(tiny_protocol(), folder, progress=False).run(resume=True)
    a, meta_a = reference.read_checkpoint()
    b, meta_b = folder.read_checkpoint()
    for name in a:
        assert a[name].tobytes() == b[name].tobytes()
    keys = ("accuracy", "train_accuracy", "layer_error", "train_layer_error",
            "train_rate_per_class")
    assert [{k: m[k] for k in keys} for m in meta_a["metrics"]] == \
           [{k: m[k] for k in keys} for m in meta_b["metrics"]]


def test_engine_writes_spike_recordings_of_the_first_and_last_evaluated_epochs(tmp_path):
    """The optional ``spike_recording(epoch)`` hook: called after the evaluations of
    epoch 0 (where the protocol evaluates its initial state) and of the first and the
    last epoch that evaluate; what it returns is written as
    recordings/spikes-epoch-NNNN.npz, which read_spike_recording opens."""
    from analysis.recording import (Population, read_spike_recording, recorded_epochs,
                                    spike_recording)

    protocol = tiny_protocol(epochs=4)
    protocol.evaluate_initial = True
    protocol.evaluates = lambda epoch: epoch != 0  # epoch 1 is not evaluated
    asked = []

    def hook(epoch):
        asked.append(epoch)
        return spike_recording([Population("output", 2, 3, "output")],
                               {"output": ([0, 0], [epoch, 1], [2, 0])}, dt_ms=1.0,
                               steps_per_sample=20, eval_indices=[0], labels=[1],
                               epoch=epoch, protocol="desire")

    protocol.spike_recording = hook
    folder = RunFolder.create(tmp_path, "desire", protocol.cfg.to_dict())
    trainer = Trainer(protocol, folder, progress=False)
    assert [e for e in range(5) if trainer.records(e)] == [0, 2, 4]
    trainer.run()
    assert asked == [0, 2, 4]
    assert recorded_epochs(folder.path) == [0, 2, 4]
    rec = read_spike_recording(folder.path, 2)
    assert rec.epoch == 2 and rec.spikes["output"]["step"].tolist() == [1, 2]
