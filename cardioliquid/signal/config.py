"""Preprocessing specifications that travel with every checkpoint.

A model is only as good as the preprocessing it was trained with; these
dataclasses describe that preprocessing completely, serialise to plain JSON
dicts (:meth:`to_dict` / :func:`preprocessing_from_dict`), and are saved inside
each checkpoint so training, batch scoring and the app run the same steps.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any


@dataclass
class BeatPreprocessing:
    """How an ECG recording becomes heartbeat windows (arrhythmia task).

    Attributes
    ----------
    fs : float
        Rate (Hz) every recording is resampled to before windowing.
    lead_preference : list of str
        Leads to use, best first (MLII, then limb-lead equivalents, then V5...).
    fuse_leads : int
        Score each beat on up to this many of the recording's leads, in
        ``lead_preference`` order, and average their class probabilities (1:
        the first listed lead only). Training reads every listed lead as its
        own example either way; this is how a model file scores. The beats and
        their RR intervals are the first lead's; the rhythm evidence of the AF
        gate is read on the first lead too.
    stack_leads : int
        Feed the network this many leads at once, as the channels of one beat
        window (early fusion): the first listed lead and the next ones in
        ``lead_preference`` order, each cut at the first lead's beats. A
        recording with fewer listed leads repeats the first; a beat beside a
        gap in a further lead gets zeros on that channel. The beats, RR,
        template and atrial features stay the first lead's (1: one lead).
    bandpass : (float, float)
        Band-pass corner frequencies (Hz), zero-phase Butterworth.
    filter_order : int
        Butterworth order.
    pre_s, post_s : float
        Window before and after the R peak, in seconds.
    rr_features : bool
        Append RR-interval features (pre, post, local and record-level ratios).
    rr_feature_set : str
        ``"full"``: intervals in seconds and their ratios (7 features);
        ``"relative"``: dimensionless ratios only (5 features), which do not
        depend on the patient's heart rate and so transfer across patients;
        ``"rhythm"``: the ratios plus the irregularity of the preceding
        intervals (6 features), which tells atrial fibrillation from premature beats;
        ``"robust"``: the same against medians (6 features), which pauses and
        runs of ectopic beats do not drag;
        ``"robust_absolute"``: ``"robust"`` plus pre-RR, post-RR and the local
        median in seconds (9 features), for records whose dominant rhythm is
        not sinus.
        ``"robust_absolute_mean"`` / ``"robust_absolute_slow"`` /
        ``"robust_absolute_references"``: ``"robust_absolute"`` plus the pre-RR
        and local rhythm over the record's mean interval, its slow (90th
        percentile) interval, or both (11, 11 or 13 features): references
        that a majority of ectopic beats does not set, as it sets the median.
        ``"robust_absolute_ahead"``: ``"robust_absolute"`` plus the interval after
        the post-RR over the local median and over the post-RR (11 features):
        whether the rhythm returns after an early beat (two beats of look-ahead).
        ``"robust_absolute_local"``: ``"robust_absolute"`` without its two ratios
        over the record's median (7 features; ``pre_rr_s`` is column 4).
        ``"robust_absolute_onset"`` / ``"robust_absolute_local_onset"``: either
        set plus the pre-RR over the rhythm from before the current run began,
        and the run's length (11 or 9 features): a paroxysmal run keeps its
        prematurity for as long as it lasts.
        ``"robust_absolute_local_episode"``: the same with runs that end only when
        the local rhythm is back too, so an irregular tachycardia stays one run (9
        features); ``"robust_absolute_local_onset_episode"``: both pairs (11).
        ``"robust_irregularity"`` / ``"robust_absolute_irregularity"``: either
        set plus the irregularity of the 32 intervals behind the beat (nRMSSD,
        turning-point ratio, entropy: the AF test's statistics, causal), so the
        model itself can learn that an early beat in an irregular rhythm is
        not premature.
    local_rr_beats : int
        Number of past beats in the local RR average.
    template_features : bool
        Append 3 morphology features relative to the record's own median beat
        (its dominant morphology): correlation with it, the RMS of the
        difference and the amplitude ratio over the QRS. They describe how a
        beat departs from the patient's usual beat, not its absolute shape.
    template_align_s : float
        Compare each beat with the template at its best alignment within this
        many seconds (0: at the annotated or detected position). Positions on a
        coarse grid (128 Hz) or from a detector jitter by a few milliseconds,
        which a sharp QRS makes look like a shape change.
    template_p_wave : bool
        Append the same 3 features over the P-wave region (250 to 60 ms before
        the R peak): a supraventricular beat starts from an ectopic atrial
        focus, so its P wave departs from the patient's usual one (or hides
        in the preceding T wave) even when its QRS does not.
    atrial_features : bool
        Append the 2 causal atrial-activity features of
        :func:`cardioliquid.signal.atrial.atrial_features`: how the beat's P-wave
        region matches the recent beats' and how consistent the recent P waves
        are (low in AF, where an irregular rhythm has no P wave; high in sinus
        rhythm with premature atrial beats).
    template_subtract : bool
        Feed the network each window minus the record's median beat: the
        departure from the patient's dominant beat instead of the raw shape, so
        patient-specific morphology (lead placement, conduction) is not learnt
        as a class. The same template as ``template_features``.
    normalization : str
        ``"record-robust"``: subtract the record median, divide by the record
        MAD (robust to gain differences between databases and leads).
    af_gate, af_gate_rule : bool, str
        Where a training config names the AF gate (not used in training). How
        calls are settled belongs to the model's decision settings
        (:class:`cardioliquid.decision.settings.DecisionSettings`); these two
        fields seed them when a model is exported, and a model file written
        before the ``decision`` section existed takes its gate from them.
    classes : list of str
        Output class order.
    """

    task: str = "arrhythmia"
    fs: float = 180.0
    lead_preference: list[str] = field(
        default_factory=lambda: ["MLII", "ML2", "II", "ECG", "ECG1", "V5", "V4", "V2", "V1"]
    )
    fuse_leads: int = 1
    stack_leads: int = 1
    bandpass: tuple[float, float] = (0.5, 40.0)
    filter_order: int = 2
    pre_s: float = 0.25
    post_s: float = 0.45
    rr_features: bool = True
    rr_feature_set: str = "full"
    local_rr_beats: int = 10
    template_features: bool = False
    template_p_wave: bool = False
    template_align_s: float = 0.0
    atrial_features: bool = False
    template_subtract: bool = False
    normalization: str = "record-robust"
    af_gate: bool = False
    af_gate_rule: str = "rhythm"
    classes: list[str] = field(default_factory=lambda: ["N", "S", "V", "F", "Q"])

    def __post_init__(self) -> None:
        for name in ("fuse_leads", "stack_leads"):
            value = getattr(self, name)
            if isinstance(value, bool) or int(value) != value or value < 1:
                raise ValueError(f"{name}: expected an integer >= 1, got {value!r}")
            setattr(self, name, int(value))

    @property
    def n_times(self) -> int:
        """Samples per beat window."""
        return round(self.pre_s * self.fs) + round(self.post_s * self.fs)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form, with ``task`` as the discriminator."""
        d = asdict(self)
        d["bandpass"] = list(self.bandpass)
        return d


@dataclass
class WindowPreprocessing:
    """How an EEG recording becomes sliding windows (seizure task).

    Attributes
    ----------
    fs : float
        Rate (Hz) every recording is resampled to.
    channels : list of str
        The montage the model reads, in order (empty: any single channel).
    bandpass : (float, float)
        Band-pass corner frequencies (Hz).
    notch : float or None
        Mains notch frequency (Hz), if any.
    window_s, hop_s : float
        Window length and hop in seconds.
    min_overlap : float
        A window is labelled seizure when at least this fraction overlaps one.
    normalization : str
        ``"window-robust"``: per-window, per-channel median/MAD scaling;
        ``"fixed"``: divide by ``scale_uv``.
    scale_uv : float
        Fixed scale (µV) used by ``"fixed"`` normalisation.
    classes : list of str
        Output class order (``bckg``, ``sz``).
    """

    task: str = "seizure"
    fs: float = 128.0
    channels: list[str] = field(default_factory=list)
    bandpass: tuple[float, float] = (0.5, 40.0)
    notch: float | None = None
    filter_order: int = 4
    window_s: float = 2.0
    hop_s: float = 1.0
    min_overlap: float = 0.5
    normalization: str = "fixed"
    scale_uv: float = 100.0
    classes: list[str] = field(default_factory=lambda: ["bckg", "sz"])

    @property
    def n_times(self) -> int:
        """Samples per window."""
        return round(self.window_s * self.fs)

    @property
    def n_hop(self) -> int:
        """Samples per hop."""
        return round(self.hop_s * self.fs)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form, with ``task`` as the discriminator."""
        d = asdict(self)
        d["bandpass"] = list(self.bandpass)
        return d


Preprocessing = BeatPreprocessing | WindowPreprocessing


def preprocessing_from_dict(d: dict[str, Any]) -> Preprocessing:
    """Rebuild a preprocessing spec from :meth:`to_dict` output.

    Unknown keys raise ``ValueError`` (a checkpoint from a newer version must
    not be silently misread).
    """
    task = d.get("task")
    cls = {"arrhythmia": BeatPreprocessing, "seizure": WindowPreprocessing}.get(task)
    if cls is None:
        raise ValueError(f"preprocessing has unknown task {task!r}; expected arrhythmia|seizure")
    known = {f.name for f in fields(cls)}
    unknown = set(d) - known
    if unknown:
        raise ValueError(f"preprocessing has unknown keys {sorted(unknown)}")
    kw = dict(d)
    if "bandpass" in kw:
        kw["bandpass"] = tuple(kw["bandpass"])
    return cls(**kw)
