"""The EEG strip draws the model's input first and names the file's channels it leaves out."""

from __future__ import annotations

import numpy as np

from cardioliquid.app.live_panels import eeg_rows
from cardioliquid.signal.config import WindowPreprocessing
from cardioliquid.signal.montage import CHBMIT_BIPOLAR, to_bipolar
from tests.signal.conftest import make_eeg
from tests.signal.test_montage import CHBMIT_23

PREP = WindowPreprocessing(task="seizure", channels=list(CHBMIT_BIPOLAR))


def test_a_chbmit_file_shows_the_model_montage_and_names_the_five_left_out() -> None:
    rec = make_eeg(CHBMIT_23)
    x, names, n_model, left_out = eeg_rows(rec, PREP, 256, 768)
    assert names == list(CHBMIT_BIPOLAR) and n_model == 18
    np.testing.assert_array_equal(x, to_bipolar(rec).signal[:, 256:768])
    assert left_out == ["P7-T7", "T7-FT9", "FT9-FT10", "FT10-T8", "T8-P8-1"]


def test_a_file_in_another_order_shows_the_channels_the_model_reads() -> None:
    """Drawing the file's first 18 rows would show the wrong channels under the model's names."""
    order = [*CHBMIT_23[18:], *CHBMIT_23[:18]]  # the five others first: T8-P8-1 is then read
    rec = make_eeg(order)
    x, names, n_model, left_out = eeg_rows(rec, PREP, 0, 512, limit=20)
    assert names[:18] == list(CHBMIT_BIPOLAR) and n_model == 18
    assert names[18:] == ["P7-T7", "T7-FT9"] and left_out == ["FT9-FT10", "FT10-T8", "T8-P8-0"]
    np.testing.assert_array_equal(x[0], rec.signal[order.index("FP1-F7"), :512])
    np.testing.assert_array_equal(x[18], rec.signal[0, :512])


def test_a_model_that_lists_no_channels_shows_every_file_channel() -> None:
    rec = make_eeg(["EEG"] * 1)
    x, names, n_model, left_out = eeg_rows(rec, WindowPreprocessing(task="seizure"), 0, 100)
    assert names == ["EEG"] and n_model == 1 and left_out == [] and x.shape == (1, 100)
