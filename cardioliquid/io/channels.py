"""The kind of a channel from its name: ECG lead, EEG derivation, or unknown.

EDF files carry no reliable channel type (MNE reads every EDF channel as EEG),
so the name decides: ``ECG``/``EKG`` labels and the standard ECG leads
(``I``..``III``, ``aVR``/``aVL``/``aVF``, ``V1``..``V6``, Holter ``MLII``,
``CM5``...) are ECG; 10-20 / 10-10 electrodes alone, referenced or as bipolar
pairs (``Fp1``, ``C3-M2``, ``FP1-F7``, ``EEG T8-P8-0``) are EEG; anything else
(``EMG``, ``EOG``, ``Resp``, a bare ``ch1``) is unknown and not judged.
"""

from __future__ import annotations

import re

CHANNEL_KINDS: tuple[str, ...] = ("ecg", "eeg", "unknown")

_ECG_LEADS = re.compile(
    r"(I|II|III|AVR|AVL|AVF|V[1-9]R?|MLI{1,3}|ML[1-3]|M?CM[1-9]|CC5|CM5|"
    r"[XYZ])",
    re.IGNORECASE,
)
_ECG_WORD = re.compile(r"(^|[^A-Z])(ECG|EKG)", re.IGNORECASE)
_ELECTRODE = re.compile(
    r"(FP|AF|F|FT|FC|T|TP|C|CP|P|PO|O|A|M|I|N|NZ|IZ)(Z|[0-9]{1,2})", re.IGNORECASE
)
_REFERENCE = re.compile(r"(REF|LE|RE|AVG|AR|CAR|A1A2|M1M2)", re.IGNORECASE)


def channel_kind(name: str) -> str:
    """``"ecg"``, ``"eeg"`` or ``"unknown"`` for a channel name.

    Examples
    --------
    >>> [channel_kind(n) for n in ["MLII", "ECG", "EKG1-EKG2", "FP1-F7", "EEG C3-M2", "EMG"]]
    ['ecg', 'ecg', 'ecg', 'eeg', 'eeg', 'unknown']
    """
    label = str(name).strip()
    if re.fullmatch(r"EEG[\s_-]*\d*", label, re.IGNORECASE):
        return "eeg"
    if _ECG_WORD.search(label):
        return "ecg"
    body = re.sub(r"^(EEG|ECG|EKG)[\s_:-]+", "", label, flags=re.IGNORECASE).strip()
    if _ECG_LEADS.fullmatch(body.replace(" ", "")):
        return "ecg"
    parts = [p for p in re.split(r"[-\s]+", body) if p]
    if parts and parts[-1].isdigit() and len(parts) > 1:  # MNE's duplicate suffix T8-P8-0
        parts = parts[:-1]
    if parts and _ELECTRODE.fullmatch(parts[0]) and all(
        _ELECTRODE.fullmatch(p) or _REFERENCE.fullmatch(p) for p in parts[1:]
    ):
        return "eeg"
    return "unknown"
