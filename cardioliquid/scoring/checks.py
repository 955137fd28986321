"""Checks run before a recording is scored or evaluated: what a model may read, and
whether the reference beats can be trusted.

- :func:`check_fits`: the model reads this modality, the recording is not
  empty and its rate carries the model's band;
- :func:`check_channel_kind`: a model reads one modality (``LoadedModel.modality``)
  and the channels it would read must not be of the other kind (an ECG lead in
  an EDF file is not EEG; an EEG derivation in a WFDB record is not an ECG lead).
- :func:`check_reference_beats`: reference annotations far fewer than the QRS
  complexes counted in the signal (:func:`count_qrs`) are refused (a corrupt or foreign
  ``.atr`` would otherwise be scored, or evaluated against, silently).
- :func:`reference_note`: what happened to the reference annotations, for the
  record's manifest and the run's summary.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cardioliquid.errors import CardioLiquidError, ContractError, RecordingError
from cardioliquid.io.channels import channel_kind
from cardioliquid.io.recording import Recording
from cardioliquid.signal.filters import check_band
from cardioliquid.signal.leads import select_lead

if TYPE_CHECKING:
    from cardioliquid.models.checkpoint import LoadedModel

MIN_REFERENCE_FRACTION = 0.5
"""Reference beats below this fraction of the detected QRS count are refused."""

MIN_DETECTED_FOR_CHECK = 20
"""Below this many detected QRS complexes the count comparison says nothing."""


def recording_label(rec: Recording) -> str:
    """How messages name a recording: its file, else its id."""
    return str(rec.source or rec.record_id)


def model_modality(loaded: LoadedModel) -> str:
    """``"ecg"`` or ``"eeg"``: the signal kind a model reads (its declaration, else its task)."""
    declared = getattr(loaded, "modality", None)
    if declared:
        return str(declared)
    return "ecg" if loaded.task == "arrhythmia" else "eeg"


def channels_read(rec: Recording, loaded: LoadedModel) -> list[str]:
    """The channels of ``rec`` the model would read (by name; derived montages by pair)."""
    prep = loaded.preprocessing
    if loaded.task == "arrhythmia":
        try:
            return [select_lead(rec, prep.lead_preference)]
        except RecordingError:  # no lead to read: the windowing says so in its own words
            return []
    return list(prep.channels) or list(rec.channel_names)


def check_channel_kind(rec: Recording, loaded: LoadedModel) -> None:
    """Raise :class:`ContractError` when the model would read channels of the other kind.

    A channel's kind comes from its name (:func:`cardioliquid.io.channels.channel_kind`):
    an EEG model never reads a channel named as an ECG lead (``ECG``, ``EKG``,
    ``MLII``, ``V1``...), an ECG model never reads a 10-20 EEG derivation.
    Channels of unknown kind are read as before.
    """
    want = model_modality(loaded)
    other = "eeg" if want == "ecg" else "ecg"
    if rec.modality != want:
        raise ContractError(
            f"{recording_label(rec)}: model {loaded.name!r} ({loaded.task}) reads {want.upper()} "
            f"recordings, got an {rec.modality.upper()} recording"
        )
    read = channels_read(rec, loaded)
    wrong = [c for c in read if channel_kind(c) == other]
    if wrong:
        raise ContractError(
            f"{recording_label(rec)}: model {loaded.name!r} reads {want.upper()} channels, got "
            f"{other.upper()} channel(s) {wrong} (the recording has {rec.channel_names})"
        )


QRS_COUNT_BLOCK_S = 3600.0
"""Signal counted at a time (s): a 30-minute record is one block; a 24-hour Holter record is
counted hour by hour (its float64 filter copies took 1.2 GB at once), each hour against its own
amplitude threshold."""


def count_qrs(x: np.ndarray, fs: float) -> int:
    """Number of QRS complexes in one ECG lead: a quick energy detector, for counting only.

    Band-pass 5-15 Hz (the QRS band), squared derivative, 120 ms moving
    average, then peaks above a fifth of the 99th percentile at least 250 ms
    apart (after Pan and Tompkins 1985), over blocks of :data:`QRS_COUNT_BLOCK_S`.
    NaN samples count as 0. On MIT-BIH, SVDB and NSTDB (e06) it counts within
    15 % of the reference beats of every record, in about 30 ms per 30-minute
    record (XQRS: 0.2 s), so it costs batch scoring little.
    """
    x = np.asarray(x)
    if x.size < int(2 * fs) or fs < 40:
        return 0
    block, margin = int(QRS_COUNT_BLOCK_S * fs), int(2 * fs)
    if x.size <= block + int(2 * fs):  # one block (a last block under 2 s joins the one before)
        return _count_qrs_block(x, fs, 0, x.size)
    count = 0
    for start in range(0, x.size, block):
        stop = min(start + block, x.size)
        if x.size - stop < int(2 * fs):
            stop = x.size
        lo, hi = max(0, start - margin), min(x.size, stop + margin)
        count += _count_qrs_block(x[lo:hi], fs, start - lo, stop - lo)
        if stop == x.size:
            break
    return count


def _count_qrs_block(x: np.ndarray, fs: float, core_start: int, core_stop: int) -> int:
    """QRS complexes of ``x`` whose peak lies in ``[core_start, core_stop)``."""
    from scipy.ndimage import uniform_filter1d
    from scipy.signal import butter, find_peaks, sosfiltfilt

    x = np.nan_to_num(np.asarray(x, dtype=np.float64))
    sos = butter(2, [5.0, 15.0], btype="band", fs=fs, output="sos")
    energy = uniform_filter1d(np.diff(sosfiltfilt(sos, x)) ** 2, max(1, int(0.12 * fs)))
    peaks, _ = find_peaks(energy, height=0.2 * np.percentile(energy, 99),
                          distance=max(1, int(0.25 * fs)))
    return int(np.sum((peaks >= core_start) & (peaks < core_stop)))


def check_reference_beats(rec: Recording, loaded: LoadedModel | None = None) -> None:
    """Raise :class:`RecordingError` when reference beats are far fewer than detected QRS.

    Parameters
    ----------
    rec : Recording
        An ECG recording with ``beats`` (nothing is checked without).
    loaded : LoadedModel, optional
        Whose lead preference chooses the lead (default: the first channel).
    """
    if rec.beats is None or not len(rec.beats) or rec.modality != "ecg":
        return
    lead = 0
    if loaded is not None and hasattr(loaded.preprocessing, "lead_preference"):
        lead = rec.channel_names.index(select_lead(rec, loaded.preprocessing.lead_preference))
    n_detected = count_qrs(rec.signal[lead], rec.fs)
    n_ref = int((rec.beats.aami != "").sum())
    if n_detected >= MIN_DETECTED_FOR_CHECK and n_ref < MIN_REFERENCE_FRACTION * n_detected:
        note = rec.meta.get("reference_annotations") or {}
        where = note.get("file") or recording_label(rec)
        if note.get("file") and rec.source:
            where = str(Path(rec.source).with_name(note["file"]))
        raise RecordingError(
            where,
            f"reference annotations: expected about as many beats as the QRS complexes "
            f"counted in lead {rec.channel_names[lead]} ({n_detected}), got {n_ref} "
            f"(under {MIN_REFERENCE_FRACTION:.0%}): a corrupt or foreign annotation file",
        )


def reference_note(rec: Recording, beats: str, beat_source: str) -> dict[str, Any] | None:
    """What the manifest says when ``--beats auto`` found no reference to use, else None.

    Returns
    -------
    dict or None
        ``{"file", "state", "note"}`` for a WFDB record whose annotation file is
        ``missing``, ``empty`` or holds ``no beats`` while ``beats`` asked for
        the reference (``auto``): its beats came from the detector.
    """
    info = rec.meta.get("reference_annotations")
    if not info or info.get("state") == "present" or beats == "detect":
        return None
    return {
        "file": info.get("file"),
        "state": info.get("state"),
        "note": f"--beats {beats}: {info.get('file')} is {info.get('state')}; "
        f"the beats come from the R-peak detector ({beat_source})",
    }


def check_fits(rec: Recording, loaded: LoadedModel) -> None:
    """Raise unless ``loaded`` can score ``rec``.

    Raises
    ------
    ContractError
        The model is for the other modality, or would read channels of the
        other kind (an ``ECG`` channel in an EDF file for an EEG model;
        :func:`cardioliquid.scoring.checks.check_channel_kind`).
    RecordingError
        The recording is empty or its rate cannot carry the model's band. The
        message names the file.
    """
    prep = loaded.preprocessing
    want = "ecg" if prep.task == "arrhythmia" else "eeg"
    name = recording_label(rec)
    if rec.modality != want:
        raise ContractError(
            f"{name}: model {loaded.name!r} ({prep.task}) expects an {want} recording, "
            f"got {rec.modality}"
        )
    if rec.n_samples == 0:
        raise RecordingError(name, "expected samples, got an empty recording")
    if not np.isfinite(rec.fs) or rec.fs <= 0:
        raise RecordingError(name, f"expected a positive sampling rate, got {rec.fs}")
    check_band(rec.fs, tuple(prep.bandpass), name)
    check_channel_kind(rec, loaded)
    n_chans = loaded.model_kwargs.get("n_chans")
    if (prep.task != "arrhythmia" and not getattr(prep, "channels", None)
            and isinstance(n_chans, int) and rec.n_channels != n_chans):
        # A model that names no channels reads the recording's own, all of them
        shown = ", ".join(rec.channel_names[:4]) + (", ..." if rec.n_channels > 4 else "")
        raise ContractError(
            f"{name}: model {loaded.name!r} reads {n_chans} EEG channel(s) and names none "
            f"to pick; the recording has {rec.n_channels} ({shown}): give it a recording "
            f"of {n_chans} channel(s), or use a model that names its montage (e.g. seizure)")
    # Missing channels are found by the windowing, which can also derive a bipolar
    # montage from referential channels (RecordingError naming the file).


@contextmanager
def windowing_errors(rec: Recording, what: str) -> Iterator[None]:
    """Report a failure to cut ``what`` windows as a :class:`RecordingError` naming the file."""
    try:
        yield
    except CardioLiquidError:
        raise
    except (KeyError, ValueError, IndexError) as e:
        raise RecordingError(recording_label(rec), f"cannot cut {what} windows: {e}") from e
