"""Seizure truth parsers: CHB-MIT summaries, SzCORE events."""

from __future__ import annotations

import pytest

from cardioliquid.errors import RecordingError
from cardioliquid.io.seizures import (
    is_seizure_label,
    parse_chbmit_summary,
    read_events_tsv,
)

SUMMARY = """Data Sampling Rate: 256 Hz
*************************

Channels in EDF Files:
**********************
Channel 1: FP1-F7
Channel 2: F7-T7

File Name: chb99_01.edf
File Start Time: 11:42:54
File End Time: 12:42:54
Number of Seizures in File: 0

File Name: chb99_02.edf
Number of Seizures in File: 2
Seizure 1 Start Time: 100 seconds
Seizure 1 End Time: 150 seconds
Seizure 2 Start Time:  300 seconds
Seizure 2 End Time:  310 seconds

Channels changed:
*****************
Channel 1: F7-CS2
Channel 2: -
Channel 3: T7-CS2

File Name: chb99_03.edf
Number of Seizures in File: 1
Seizure Start Time: 7 seconds
Seizure End Time: 9 seconds
"""


def test_summary_seizures_and_channel_blocks(tmp_path):
    path = tmp_path / "chb99-summary.txt"
    path.write_text(SUMMARY)
    s = parse_chbmit_summary(path)
    assert s.fs == 256
    assert s.seizures == {"chb99_01.edf": [], "chb99_02.edf": [(100, 150), (300, 310)],
                          "chb99_03.edf": [(7, 9)]}
    assert s.n_seizures == 3
    assert s.channels["chb99_02.edf"] == ["FP1-F7", "F7-T7"]
    assert s.channels["chb99_03.edf"] == ["F7-CS2", "-", "T7-CS2"]


def test_events_tsv(tmp_path):
    path = tmp_path / "x_events.tsv"
    path.write_text("onset\tduration\teventType\n5\t10\tbckg\n20\t4.5\tsz\n1\t2\tsz_gen\n")
    assert read_events_tsv(path) == [(1.0, 3.0), (20.0, 24.5)]


@pytest.mark.parametrize(("label", "expected"), [("sz", True), ("sz_foc_ia", True),
                         ("Seizure", True), ("bckg", False), ("preictal", False)])
def test_seizure_labels(label, expected):
    assert is_seizure_label(label) is expected


@pytest.mark.parametrize(("text", "words"), [
    ("", "empty events file"),
    ("onset\tduration\n1\t2\n", "expected columns onset, duration, eventType"),
    ("onset\tduration\teventType\nabc\t2\tsz\n", "line 2: expected a seizure's onset and duration"),
    ("onset\tduration\teventType\n5\t2\tbckg\n1\tn/a\tsz\n", "line 3"),
    ("onset\tduration\teventType\n5\t-3\tsz\n", "onset 5 s, duration -3 s"),
], ids=["no-header", "no-event-type", "not-a-number", "n/a-duration", "negative"])
def test_a_malformed_events_file_is_named_with_its_line(tmp_path, text, words):
    """They crashed with a bare ValueError naming the EDF, or were read as no seizure."""
    path = tmp_path / "x_events.tsv"
    path.write_text(text)
    with pytest.raises(RecordingError, match=r"x_events\.tsv") as err:
        read_events_tsv(path)
    assert words in str(err.value)


def test_a_header_alone_means_no_seizure_and_bckg_rows_need_no_numbers(tmp_path):
    path = tmp_path / "x_events.tsv"
    path.write_text("onset\tduration\teventType\n")
    assert read_events_tsv(path) == []
    path.write_text("onset\tduration\ttrial_type\nn/a\tn/a\tbckg\n")
    assert read_events_tsv(path) == []
