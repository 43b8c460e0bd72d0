"""analysis.recording: the spike recording format, its checks, and its neo Segments."""

import io
import json
import zipfile

import neo
import numpy as np
import pytest
import quantities as pq

from analysis.conversion import check_spike_trains
from analysis.recording import (RECORDING_FORMAT, EpochNotRecordedError, NoRecordingsError,
                                Population, RecordingFormatError, SpikeRecording,
                                read_spike_recording, recorded_epochs, recording_name,
                                recording_segments, spike_recording, spikes_from_global_steps,
                                spikes_from_rasters, write_spike_recording)
from runs import RunFolder

POPULATIONS = [
    Population("inputs", 0, 3, "input"),
    Population("hidden_E", 1, 4, "hidden", "E"),
    Population("hidden_I", 1, 2, "hidden", "I"),
    {"name": "outputs", "layer": 2, "size": 2, "kind": "output"},
]
DT_MS, STEPS = 0.1, 8  # 0.1 ms: k * dt is not exact in binary, so equality tests the formula

#: population -> (sample, step, neuron), out of order on purpose.
SPIKES = {
    "inputs": ([2, 0, 0, 0, 1], [7, 3, 0, 1, 0], [1, 0, 0, 2, 2]),
    "hidden_E": ([1, 0, 1, 1], [5, 2, 1, 6], [3, 1, 3, 0]),
    "hidden_I": ([], [], []),  # silent
    "outputs": {"sample": [2], "step": [4], "neuron": [1]},
}


def make(epoch=2, **changes):
    fields = dict(populations=POPULATIONS, spikes=SPIKES, dt_ms=DT_MS, steps_per_sample=STEPS,
                  eval_indices=[10, 42, 7], labels=[3, 7, 1], epoch=epoch, protocol="ei_ratio")
    fields.update(changes)
    return spike_recording(fields.pop("populations"), fields.pop("spikes"), **fields)


def expected_times(name, sample, neuron):
    """The times a cell's train must hold: its steps * dt, sorted."""
    given = SPIKES[name]
    if isinstance(given, dict):
        given = [given[f] for f in ("sample", "step", "neuron")]
    return sorted(step * DT_MS for a, step, n in zip(*given) if a == sample and n == neuron)


def test_round_trip_through_the_run_folder_gives_step_times_dt_exactly(tmp_path):
    folder = RunFolder(tmp_path)
    folder.write_recording(recording_name(2), make().to_arrays())
    path = write_spike_recording(tmp_path, make(epoch=0))
    assert path == tmp_path / "recordings" / "spikes-epoch-0000.npz"
    assert recorded_epochs(tmp_path) == [0, 2]
    with np.load(path, allow_pickle=False) as data:  # no pickle needed
        assert json.loads(str(data["meta"]))["format"] == RECORDING_FORMAT
        assert data["inputs.neuron"].dtype == np.uint8

    rec = read_spike_recording(folder, 2)
    assert rec.epoch == 2 and rec.protocol == "ei_ratio" and rec.n_samples == 3
    assert rec.dt_ms == DT_MS and rec.steps_per_sample == STEPS
    assert [p.name for p in rec.populations] == ["inputs", "hidden_E", "hidden_I", "outputs"]
    assert rec.populations[3] == Population("outputs", 2, 2, "output", None)
    assert read_spike_recording(tmp_path).epoch == 2  # default: the last recorded

    segments = recording_segments(rec)
    assert len(segments) == 3
    for sample, segment in enumerate(segments):
        assert len(segment.spiketrains) == 3 + 4 + 2 + 2
        for train in segment.spiketrains:
            name, neuron = train.annotations["population"], train.annotations["neuron"]
            want = expected_times(name, sample, neuron)
            # exactly step * dt: no rounding on the way through the file
            assert train.magnitude.tolist() == want, (name, sample, neuron)
            assert train.units == pq.ms
            assert float(train.t_start) == 0.0 and float(train.t_stop) == STEPS * DT_MS
            assert train.segment is segment
    # what every metric of analysis checks first
    assert len(check_spike_trains(segments[0].spiketrains)) == 11
    # a cell spiking in steps 3 and 0 of one image, given in that order
    assert segments[0].spiketrains[0].magnitude.tolist() == [0.0, 0.30000000000000004]


def test_annotations_and_ei_labels(tmp_path):
    segments = recording_segments(make())
    second = segments[1]
    assert second.name == "sample-0001"
    assert second.annotations == {"sample": 1, "eval_index": 42, "label": 7, "epoch": 2,
                                  "protocol": "ei_ratio"}
    labels = [(t.annotations["population"], t.annotations["layer"], t.annotations["kind"],
               t.annotations["neuron"], t.annotations.get("ei")) for t in second.spiketrains]
    assert "ei" not in second.spiketrains[0].annotations  # NIX cannot store None
    assert labels == ([("inputs", 0, "input", k, None) for k in range(3)]
                      + [("hidden_E", 1, "hidden", k, "E") for k in range(4)]
                      + [("hidden_I", 1, "hidden", k, "I") for k in range(2)]
                      + [("outputs", 2, "output", k, None) for k in range(2)])
    # silent cells get empty trains, in place
    hidden_i = [t for t in second.spiketrains if t.annotations["population"] == "hidden_I"]
    assert [len(t) for t in hidden_i] == [0, 0]
    hidden_e = [t for t in second.spiketrains if t.annotations["population"] == "hidden_E"]
    assert [len(t) for t in hidden_e] == [1, 0, 0, 2]


def test_population_and_sample_selection():
    rec = make()
    segments = recording_segments(rec, populations=["outputs", "hidden_E"], samples=[2, 0])
    assert [s.annotations["sample"] for s in segments] == [2, 0]
    assert [s.annotations["label"] for s in segments] == [1, 3]
    names = [t.annotations["population"] for t in segments[0].spiketrains]
    assert names == ["outputs"] * 2 + ["hidden_E"] * 4
    assert segments[0].spiketrains[1].magnitude.tolist() == [4 * DT_MS]
    assert len(recording_segments(rec, populations="hidden_I")[0].spiketrains) == 2
    with pytest.raises(ValueError, match=r"no population 'hidden'.*'hidden_E'"):
        recording_segments(rec, populations=["hidden"])
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        recording_segments(rec, samples=[3])


def test_the_writer_sorts_and_takes_the_smallest_types():
    rec = make()
    inputs = rec.spikes["inputs"]
    assert inputs["sample"].tolist() == [0, 0, 0, 1, 2]
    assert inputs["neuron"].tolist() == [0, 0, 2, 2, 1]
    assert inputs["step"].tolist() == [0, 3, 1, 0, 7]
    assert all(inputs[f].dtype == np.uint8 for f in inputs)
    big = spike_recording([Population("h", 1, 70_000, "hidden")], {"h": ([0], [300], [69_999])},
                          dt_ms=1, steps_per_sample=301, eval_indices=[0], labels=[0], epoch=0,
                          protocol="p")
    assert big.spikes["h"]["neuron"].dtype == np.uint32
    assert big.spikes["h"]["step"].dtype == np.uint16
    assert big.dt_ms == 1.0 and isinstance(big.dt_ms, float)


@pytest.mark.parametrize("change, message", [
    ({"spikes": dict(SPIKES, inputs=([0], [0], [3]))}, r"inputs.neuron must lie in \[0, 3\)"),
    ({"spikes": dict(SPIKES, inputs=([0], [8], [0]))}, r"inputs.step must lie in \[0, 8\)"),
    ({"spikes": dict(SPIKES, inputs=([3], [0], [0]))}, r"inputs.sample must lie in \[0, 3\)"),
    ({"spikes": dict(SPIKES, inputs=([0], [-1], [0]))}, r"inputs.step must lie"),
    ({"spikes": dict(SPIKES, inputs=([0, 0], [1], [0, 0]))}, "one entry per spike"),
    ({"spikes": dict(SPIKES, inputs=([0.5], [1], [0]))}, "integer array"),
    ({"spikes": dict(SPIKES, inputs=([1, 1], [2, 2], [0, 0]))},
     "neuron 0 spikes twice in step 2 of sample 1"),
    ({"spikes": {k: v for k, v in SPIKES.items() if k != "outputs"}},
     "no spikes given for population 'outputs'"),
    ({"spikes": dict(SPIKES, extra=([], [], []))}, r"not listed: \['extra'\]"),
    ({"spikes": dict(SPIKES, outputs={"sample": [0], "step": [0]})}, r"lack \['neuron'\]"),
    ({"labels": [1, 2]}, "one entry per image"),
    ({"eval_indices": [], "labels": []}, "no images"),
    ({"dt_ms": 0}, "dt_ms must be a positive"),
    ({"steps_per_sample": 0}, "steps_per_sample must be an integer >= 1"),
    ({"epoch": -1}, "epoch must be an integer >= 0"),
    ({"protocol": ""}, "protocol must be"),
    ({"populations": POPULATIONS + [Population("inputs", 0, 1, "input")]}, "unique"),
])
def test_the_writer_refuses_bad_input(change, message):
    with pytest.raises(ValueError, match=message):
        make(**change)


@pytest.mark.parametrize("fields, message", [
    (("in-put", 0, 1, "input"), "must match"),
    (("meta", 0, 1, "input"), "must match"),
    (("h", 1, 0, "hidden"), "no cells"),
    (("h", -1, 2, "hidden"), "layer must be an integer >= 0"),
    (("h", 1, 2, "recurrent"), "kind must be one of"),
    (("h", 1, 2, "hidden", "e"), "ei must be 'E', 'I' or None"),
])
def test_population_fields_are_checked(fields, message):
    with pytest.raises(ValueError, match=message):
        Population(*fields)


def test_raster_and_global_step_helpers():
    rasters = np.zeros((2, 3, 4), dtype=bool)
    rasters[1, 2, 3] = rasters[0, 0, 1] = True
    sample, step, neuron = spikes_from_rasters(rasters)
    assert (sample.tolist(), step.tolist(), neuron.tolist()) == ([0, 1], [0, 2], [1, 3])
    with pytest.raises(ValueError, match="3-D"):
        spikes_from_rasters(rasters[0])
    sample, step, neuron = spikes_from_global_steps([0, 7, 8, 17], [1, 2, 3, 4], 8, first_sample=5)
    assert (sample.tolist(), step.tolist(), neuron.tolist()) == ([5, 5, 6, 7], [0, 7, 0, 1],
                                                                  [1, 2, 3, 4])


# -- refusals of the reader ------------------------------------------------------------


def test_no_recordings(tmp_path):
    with pytest.raises(NoRecordingsError, match="is not a directory; pass the folder of a run"):
        recorded_epochs(tmp_path / "missing")
    with pytest.raises(NoRecordingsError, match=r"not a run folder \(no config.json\)"):
        read_spike_recording(tmp_path, 0)
    (tmp_path / "config.json").write_text('{"protocol": "desire", "config": {}}')
    with pytest.raises(NoRecordingsError, match=f"experiments desire --resume {tmp_path}$"):
        read_spike_recording(tmp_path, 0)
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(NoRecordingsError,
                       match=r"has no spike recordings yet .*resume it with python -m "
                             r"experiments <protocol> --resume "):
        read_spike_recording(tmp_path, 0)


def test_a_folder_of_the_older_format_names_the_old_reader(tmp_path):
    RunFolder(tmp_path).write_recording("epoch-0001", {"output_raster": np.zeros((1, 2, 3), bool)})
    with pytest.raises(RecordingFormatError) as err:
        read_spike_recording(tmp_path, 1)
    message = str(err.value)
    assert "holds only recordings of an older format (epoch-0001.npz" in message
    assert "analysis.conversion.spike_trains_from_recording" in message
    assert "train the run again" in message
    # beside a spike recording, the protocol's own files are not in the way
    write_spike_recording(tmp_path, make(epoch=1))
    assert recorded_epochs(tmp_path) == [1]


def test_an_epoch_that_was_not_recorded_lists_the_recorded_ones(tmp_path):
    for epoch in (0, 1, 5):
        write_spike_recording(tmp_path, make(epoch=epoch))
    for asked in (3, -1, "5", True):
        with pytest.raises(EpochNotRecordedError,
                           match=r"no spike recording of epoch .*recorded epochs 0, 1, 5 "
                                 r"\(0: before training\)"):
            read_spike_recording(tmp_path, asked)
    assert read_spike_recording(tmp_path, np.int64(5)).epoch == 5


def _rewrite(tmp_path, epoch=1, meta_changes=None, drop=(), arrays=None):
    data = make(epoch=epoch).to_arrays()
    meta = json.loads(str(data["meta"]))
    meta.update(meta_changes or {})
    data["meta"] = np.array(json.dumps(meta))
    data.update(arrays or {})
    for key in drop:
        del data[key]
    RunFolder(tmp_path).write_recording(recording_name(epoch), data)
    return tmp_path / "recordings" / f"{recording_name(epoch)}.npz"


@pytest.mark.parametrize("version, message", [
    (2, r"is spike recording format 2, but this package reads format 1: it was written by "
        r"a newer version .*provenance.git_commit"),
    (0, r"is spike recording format 0, but this package reads format 1: it was written in "
        r"an older format; .*train the run again"),
    (None, r"is spike recording format None"),
])
def test_another_format_version_is_refused_with_the_file_and_its_version(tmp_path, version,
                                                                       message):
    path = _rewrite(tmp_path, meta_changes={"format": version})
    with pytest.raises(RecordingFormatError, match=message) as err:
        read_spike_recording(tmp_path, 1)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("kwargs, message", [
    ({"drop": ["meta"]}, "has no format version"),
    ({"arrays": {"meta": np.array("{not json")}}, "'meta' entry is not JSON"),
    ({"drop": ["hidden_E.step"]}, "lacks 'hidden_E.step'"),
    ({"meta_changes": {"populations": [{"name": "x"}]}}, "not a valid spike recording"),
    ({"arrays": {"inputs.step": np.array([0, 1, 3, 0, 9], np.uint8)}},
     r"inputs.step must lie in \[0, 8\)"),
    ({"arrays": {"inputs.step": np.array([3, 0, 1, 0, 7], np.uint8)}}, "not sorted"),
    ({"meta_changes": {"epoch": 4}}, "holds the spikes of epoch 4, not of epoch 1"),
])
def test_a_damaged_file_is_refused_with_its_name(tmp_path, kwargs, message):
    path = _rewrite(tmp_path, **kwargs)
    with pytest.raises(RecordingFormatError, match=message) as err:
        read_spike_recording(tmp_path, 1)
    assert str(path) in str(err.value)


def test_a_file_that_is_no_npz_is_refused(tmp_path):
    write_spike_recording(tmp_path, make(epoch=1))
    path = tmp_path / "recordings" / "spikes-epoch-0001.npz"
    path.write_bytes(b"not a zip file")
    with pytest.raises(RecordingFormatError, match=r"cannot be read \(it is not a zip archive\)"):
        read_spike_recording(tmp_path, 1)
    with zipfile.ZipFile(path, "w") as archive:  # a zip, but its member is no .npy
        archive.writestr("meta.npy", b"junk")
    with pytest.raises(RecordingFormatError, match="'meta' entry is not JSON"):
        read_spike_recording(tmp_path, 1)
    npy = io.BytesIO()
    np.save(npy, np.zeros(100))
    with zipfile.ZipFile(path, "w") as archive:  # an .npy that breaks off
        archive.writestr("meta.npy", npy.getvalue()[:200])
    with pytest.raises(RecordingFormatError, match=r"cannot be read \(.+\): it is damaged"):
        read_spike_recording(tmp_path, 1)


def test_the_recording_is_a_value_error_for_callers_that_catch_those(tmp_path):
    assert issubclass(NoRecordingsError, ValueError)
    assert isinstance(SpikeRecording.from_arrays(make().to_arrays()), SpikeRecording)


def test_segments_export_to_nix(tmp_path):
    from neo.io import NixIO

    from analysis.conversion import export_nix

    path = export_nix(recording_segments(make(), samples=[1]), tmp_path / "rec.nix")
    with NixIO(str(path), mode="ro") as io:
        segment = io.read_block().segments[0]
    assert segment.annotations["label"] == 7
    trains = segment.spiketrains
    assert len(trains) == 11 and trains[3 + 3].annotations["ei"] == "E"
    assert trains[3 + 3].magnitude.tolist() == expected_times("hidden_E", 1, 3) != []


# -- size of the recording set of a paper-size run ---------------------------------------


def test_a_paper_size_recording_set_stays_under_50_mb(tmp_path):
    """100 MNIST images through desire's 784-1600-800-10 network, 20 steps: inputs spike
    with the pixel intensity per step (MNIST's mean intensity is about 0.13), hidden
    cells at 0.1 and outputs at 0.2 spikes per step. The default set is three files
    (before training, after the first and after the last epoch)."""
    rng = np.random.default_rng(0)
    n, steps = 100, 20
    intensity = np.where(rng.random((n, 784)) < 0.19, rng.uniform(0.36, 1.0, (n, 784)), 0.0)
    rates = {"inputs": intensity[:, None, :], "hidden1": 0.1, "hidden2": 0.1, "outputs": 0.2}
    sizes = {"inputs": 784, "hidden1": 1600, "hidden2": 800, "outputs": 10}
    kinds = {"inputs": "input", "outputs": "output"}
    populations = [Population(name, layer, sizes[name], kinds.get(name, "hidden"))
                   for layer, name in enumerate(sizes)]
    spikes = {name: spikes_from_rasters(rng.random((n, steps, sizes[name])) < rates[name])
              for name in sizes}
    n_spikes = sum(len(s[0]) for s in spikes.values())
    assert 600_000 < n_spikes < 800_000  # the rates above, not an empty recording
    rec = spike_recording(populations, spikes, dt_ms=1.0, steps_per_sample=steps,
                          eval_indices=np.arange(n), labels=rng.integers(0, 10, n), epoch=1,
                          protocol="desire")
    size = write_spike_recording(tmp_path, rec).stat().st_size
    assert size < 4.2 * n_spikes  # 4 bytes a spike: uint8 sample and step, uint16 neuron
    assert 3 * size < 50e6
