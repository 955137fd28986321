"""The CHB-MIT 18-channel bipolar montage from bipolar or referential recordings."""

from __future__ import annotations

import numpy as np
import pytest

from cardioliquid.errors import RecordingError
from cardioliquid.signal.montage import CHBMIT_BIPOLAR, channels_read, parse_channel, to_bipolar

CHBMIT_23 = [*CHBMIT_BIPOLAR[:14], "T8-P8-0", *CHBMIT_BIPOLAR[15:], "P7-T7", "T7-FT9",
             "FT9-FT10", "FT10-T8", "T8-P8-1"]


def test_chbmit_channels_map_and_t8p8_is_used_once(eeg_maker):
    rec = eeg_maker(CHBMIT_23)
    out = to_bipolar(rec)
    assert out.channel_names == list(CHBMIT_BIPOLAR)
    np.testing.assert_array_equal(out.signal[14], rec.signal[14])
    np.testing.assert_array_equal(out.signal[0], rec.signal[0])


def test_referential_recording_is_re_referenced(eeg_maker):
    electrodes = ["FP1", "F7", "T7", "P7", "O1", "F3", "C3", "P3", "FP2", "F4", "C4", "P4", "O2",
                  "F8", "T8", "P8", "FZ", "CZ", "PZ"]
    names = [f"EEG {e.capitalize()}-REF" for e in electrodes]
    rec = eeg_maker(names)
    out = to_bipolar(rec)
    assert out.channel_names == list(CHBMIT_BIPOLAR)
    for k, pair in enumerate(CHBMIT_BIPOLAR):  # every pair A-B is A-REF minus B-REF
        a, b = (names.index(f"EEG {e.capitalize()}-REF") for e in pair.split("-"))
        np.testing.assert_allclose(out.signal[k], rec.signal[a] - rec.signal[b], err_msg=pair)


def test_reversed_pair_and_old_names(eeg_maker):
    rec = eeg_maker(["T7-P7", "P7-T7", "T3-T5"])
    out = to_bipolar(rec, ["P7-T7", "T7-P7"])
    np.testing.assert_array_equal(out.signal[0], rec.signal[1])
    assert parse_channel("T3-T5") == ("T7", "P7")
    out = to_bipolar(eeg_maker(["T3-T5"]), ["P7-T7"])
    np.testing.assert_allclose(out.signal[0], -eeg_maker(["T3-T5"]).signal[0])


def test_missing_channels_are_listed(eeg_maker):
    rec = eeg_maker(["FP1-F7", "F7-T7"])
    with pytest.raises(RecordingError, match=r"missing EEG channels.*'T7-P7', 'P7-O1'"):
        to_bipolar(rec)


def test_channels_read_names_the_file_channels_a_montage_uses(eeg_maker):
    assert channels_read(CHBMIT_23, CHBMIT_BIPOLAR) == list(range(18))  # T8-P8-1 unused
    electrodes = ["FP1", "F7", "T7", "P7", "O1", "F3", "C3", "P3", "FP2", "F4", "C4", "P4", "O2",
                  "F8", "T8", "P8", "FZ", "CZ", "PZ"]
    names = ["ECG-REF", *(f"EEG {e}-REF" for e in electrodes), "EEG T9-REF"]
    assert channels_read(names, CHBMIT_BIPOLAR) == list(range(1, 20))  # not the ECG, not T9
    assert channels_read(["C3-P3", "FP1-F7", "X"], ["FP1-F7", "C3-P3"]) == [0, 1]  # picked
