"""analysis.conversion: Brian2 monitors, arrays, rasters and recordings to neo; NIX."""

import neo
import numpy as np
import pytest
import quantities as pq
from brian2 import Network, SpikeGeneratorGroup, SpikeMonitor, ms, second

from analysis.conversion import (check_spike_trains, export_nix, magnitude_ms,
                                 spike_trains_from_arrays, spike_trains_from_monitor,
                                 spike_trains_from_raster, spike_trains_from_recording)
from runs import RunFolder


def test_monitor_gives_one_train_per_neuron_silent_ones_included():
    gen = SpikeGeneratorGroup(4, [2, 0, 2], [10, 20.5, 30] * ms, name="gen")
    mon = SpikeMonitor(gen)
    Network(gen, mon).run(50 * ms)
    trains = spike_trains_from_monitor(mon)
    assert len(trains) == 4
    assert [len(t) for t in trains] == [1, 0, 2, 0]
    np.testing.assert_allclose(trains[2].magnitude, [10.0, 30.0])
    np.testing.assert_allclose(trains[0].magnitude, [20.5])
    for t in trains:
        assert t.units == pq.ms
        assert float(t.t_start) == 0.0
        assert float(t.t_stop) == pytest.approx(50.0)  # the network's final time
    assert trains[2].annotations["neuron"] == 2 and trains[2].annotations["source"] == "gen"

    subset = spike_trains_from_monitor(mon, t_start=15 * ms, t_stop=0.04 * second, indices=[2, 0])
    assert [t.annotations["neuron"] for t in subset] == [2, 0]
    np.testing.assert_allclose(subset[0].magnitude, [30.0])  # 10 ms is before t_start
    assert float(subset[1].t_start) == 15.0 and float(subset[1].t_stop) == pytest.approx(40.0)
    # quantities' units are accepted as well
    assert float(spike_trains_from_monitor(mon, t_stop=45 * pq.ms)[0].t_stop) == 45.0


def test_monitor_window_and_units_are_checked():
    gen = SpikeGeneratorGroup(1, [0], [1] * ms)
    mon = SpikeMonitor(gen)
    with pytest.raises(ValueError, match="after t_start"):
        spike_trains_from_monitor(mon, t_start=10 * ms, t_stop=5 * ms)
    with pytest.raises(ValueError, match="units"):
        spike_trains_from_monitor(mon, t_stop=5.0)


def test_arrays_units_and_window():
    trains = spike_trains_from_arrays([0.03, 0.01, 0.02, 0.5], [1, 1, 0, 0], 3, t_stop=0.1,
                                      units="s")
    assert len(trains) == 3 and len(trains[2]) == 0
    np.testing.assert_allclose(trains[1].magnitude, [10.0, 30.0])  # sorted, in ms
    np.testing.assert_allclose(trains[0].magnitude, [20.0])  # 0.5 s is after t_stop
    assert float(trains[0].t_stop) == pytest.approx(100.0) and trains[0].units == pq.ms
    with pytest.raises(ValueError, match="same length"):
        spike_trains_from_arrays([1.0], [0, 1], 2, t_stop=10)
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        spike_trains_from_arrays([1.0], [2], 2, t_stop=10)
    with pytest.raises(ValueError, match="after t_start"):
        spike_trains_from_arrays([], [], 2, t_stop=0)
    with pytest.raises(ValueError, match="time unit"):
        spike_trains_from_arrays([], [], 2, t_stop=10, units="mV")


def test_raster_step_k_is_at_k_dt():
    raster = np.zeros((5, 3), dtype=bool)
    raster[[0, 3], 1] = True
    raster[4, 2] = True
    trains = spike_trains_from_raster(raster, 2 * pq.ms)
    np.testing.assert_allclose(trains[1].magnitude, [0.0, 6.0])
    np.testing.assert_allclose(trains[2].magnitude, [8.0])
    assert len(trains[0]) == 0 and float(trains[0].t_stop) == 10.0
    with pytest.raises(ValueError, match="2-D"):
        spike_trains_from_raster(raster[0], 1 * ms)
    with pytest.raises(ValueError, match="positive"):
        spike_trains_from_raster(raster, 0 * ms)


def test_recording_of_a_run_folder(tmp_path):
    folder = RunFolder(tmp_path)
    rasters = np.zeros((2, 4, 3), dtype=bool)
    rasters[0, 1, 2] = rasters[1, 3, 0] = True
    folder.write_recording("epoch-0001", {"output_raster": rasters, "label": np.array([3, 7]),
                                          "sample": np.array([10, 42])})
    per_image = spike_trains_from_recording(tmp_path, "epoch-0001")
    assert len(per_image) == 2 and all(len(trains) == 3 for trains in per_image)
    np.testing.assert_allclose(per_image[0][2].magnitude, [1.0])  # dt = 1 ms by default
    np.testing.assert_allclose(per_image[1][0].magnitude, [3.0])
    assert float(per_image[1][1].t_stop) == 4.0
    assert per_image[1][0].annotations["label"] == 7 and per_image[1][0].annotations["sample"] == 42
    assert float(spike_trains_from_recording(tmp_path, "epoch-0001", dt=0.5 * ms)[0][2][0]) == 0.5
    with pytest.raises(FileNotFoundError, match="epoch-0001"):
        spike_trains_from_recording(tmp_path, "epoch-0002")
    with pytest.raises(ValueError, match="no array 'hidden'"):
        spike_trains_from_recording(tmp_path, "epoch-0001", key="hidden")


def test_nix_round_trip(tmp_path):
    from neo.io import NixIO

    images = [spike_trains_from_arrays([1.5, 7.25, 3.0], [0, 0, 2], 3, t_stop=20.0),
              spike_trains_from_arrays([19.0], [1], 3, t_stop=20.0)]
    path = export_nix(images, tmp_path / "out" / "rasters.nix", annotations={"run_id": "abc"})
    with NixIO(str(path), mode="ro") as io:
        block = io.read_block()
    assert block.annotations["run_id"] == "abc"
    assert len(block.segments) == 2
    for written, segment in zip(images, block.segments):
        read = segment.spiketrains
        assert len(read) == 3
        for a, b in zip(written, read):
            assert b.units == pq.ms
            np.testing.assert_array_equal(a.magnitude, b.magnitude)
            assert float(b.t_stop) == float(a.t_stop) == 20.0
            assert b.annotations["neuron"] == a.annotations["neuron"]
    # a flat list is one segment; the file is overwritten
    export_nix(images[0], path)
    with NixIO(str(path), mode="ro") as io:
        assert len(io.read_block().segments) == 1
    with pytest.raises(ValueError, match="empty"):
        export_nix([], path)


def test_check_spike_trains_messages():
    a = neo.SpikeTrain([1.0] * pq.ms, t_stop=10 * pq.ms)
    b = neo.SpikeTrain([1.0] * pq.ms, t_stop=12 * pq.ms)
    with pytest.raises(ValueError, match="at least 1"):
        check_spike_trains([])
    with pytest.raises(ValueError, match=r"share t_start and t_stop.*trains\[1\]"):
        check_spike_trains([a, b])
    with pytest.raises(ValueError, match="not a neo.SpikeTrain"):
        check_spike_trains([a, [1.0]])
    with pytest.raises(ValueError, match="single SpikeTrain"):
        check_spike_trains(a)
    assert len(check_spike_trains([a, b], same_span=False)) == 2


def test_magnitude_ms_takes_the_fast_path_only_for_plain_milliseconds():
    times = np.array([0.5, 2.0, 7.25])
    in_ms = magnitude_ms(times * pq.ms)
    assert isinstance(in_ms, np.ndarray) and np.array_equal(in_ms, times)
    np.testing.assert_allclose(magnitude_ms(times * pq.s), times * 1e3, rtol=1e-15)
    np.testing.assert_allclose(magnitude_ms(times * pq.us), times * 1e-3, rtol=1e-15)
    assert float(magnitude_ms(3 * pq.ms)) == 3.0
    assert float(magnitude_ms(3 * pq.ms * 2 / 2)) == 3.0
    with pytest.raises(ValueError):
        magnitude_ms(3 * pq.ms**2)  # not a time: rescale refuses it
