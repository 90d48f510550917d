"""Waveform peaks: a sine peaks near its amplitude, silence stays near zero."""

from __future__ import annotations

import numpy as np
import pytest

from transcode.probe import probe
from transcode.waveform import make_waveform

SINE_AMPLITUDE = 1 / 8  # lavfi sine default


def test_sine_peaks_near_amplitude(make_clip, tmp_path, load_json):
    src = make_clip(codec=None, container="wav", seconds=4)
    w = make_waveform(src, tmp_path / "waveform.json", probe(src))
    doc = load_json(w.path)
    assert doc["version"] == 1 and doc["sample_rate"] == 48000
    assert doc["peaks_per_second"] == 20 and doc["duration"] == pytest.approx(4.0, abs=0.05)
    peaks = np.array(doc["peaks"])
    assert peaks.shape == (80, 2) and w.peak_count == 80
    assert np.allclose(peaks[:, 1], SINE_AMPLITUDE, atol=0.01)
    assert np.allclose(peaks[:, 0], -SINE_AMPLITUDE, atol=0.01)
    assert all(len(str(v)) <= 6 for v in peaks.ravel())  # three decimals


def test_aac_in_mp4(make_clip, tmp_path, load_json):
    src = make_clip()
    w = make_waveform(src, tmp_path / "w.json", probe(src), peaks_per_second=10)
    peaks = np.array(load_json(w.path)["peaks"])
    assert len(peaks) == pytest.approx(30, abs=1)
    assert np.median(peaks[:, 1]) == pytest.approx(SINE_AMPLITUDE, abs=0.02)


def test_silence_is_flat(make_clip, tmp_path, load_json):
    src = make_clip(codec=None, container="m4a", audio="silence")
    w = make_waveform(src, tmp_path / "w.json", probe(src))
    peaks = np.array(load_json(w.path)["peaks"])
    assert len(peaks) > 0 and np.abs(peaks).max() < 0.01


def test_no_audio_is_an_error(make_clip, tmp_path):
    src = make_clip(audio=False)
    with pytest.raises(ValueError, match="no audio"):
        make_waveform(src, tmp_path / "w.json", probe(src))
