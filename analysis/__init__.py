"""Spike-train analysis: Elephant on neo, the reference for every metric.

Modules (import them directly; this package imports nothing itself):

* :mod:`analysis.recording` — the spike recording format of every protocol
  (``recordings/spikes-epoch-NNNN.npz``: the spikes of every layer for the analysis
  set, with population and E/I labels), its writer and checked reader, and one
  ``neo.Segment`` per image (:func:`~analysis.recording.recording_segments`).
* :mod:`analysis.conversion` — Brian2 monitors, arrays, rasters and desire's older
  output-raster recordings to lists of ``neo.SpikeTrain`` (ms, explicit ``t_stop``);
  NIX export.
* :mod:`analysis.firing` — rates, population rate, CV and LV of ISIs, Fano factor.
* :mod:`analysis.distances` — van Rossum (Elephant and a vectorised kernel with a
  named normalisation) and Victor-Purpura matrices; E/I population means.
* :mod:`analysis.synchrony` — STTC and count-correlation matrices, spike contrast.
* :mod:`analysis.energy` — synaptic operations, dense-ANN MACs, their ratio.
"""
