"""cardioliquid.decision.beats and .unusable: settled beat calls, batch and stream."""

from __future__ import annotations

import numpy as np
import pytest

from cardioliquid.decision.beats import StreamSettler, settle_calls, sveb_to_normal
from cardioliquid.decision.settings import DecisionSettings
from cardioliquid.decision.unusable import mark_background, mark_unclassifiable
from cardioliquid.signal.rhythm import af_beats

CLASSES = list("NSVFQ")
FS = 250.0
CALLED_N = np.array([0.8, 0.1, 0.05, 0.03, 0.02], np.float32)
CALLED_S = np.array([0.1, 0.8, 0.05, 0.03, 0.02], np.float32)


def _beats_regular_then_af(seed: int = 0) -> np.ndarray:
    """120 beats of sinus rhythm at 0.8 s, then 300 beats of irregular (AF-like) rhythm."""
    rng = np.random.default_rng(seed)
    rr = np.concatenate([0.8 * (1 + 0.02 * rng.standard_normal(120)),
                         rng.uniform(0.4, 1.2, 300)])
    return np.round(np.cumsum(np.concatenate([[0.5], rr])) * FS).astype(np.int64)


def test_beats_beside_a_gap_are_unclassifiable() -> None:
    proba = np.array([[0.7, 0.1, 0.1, 0.05, 0.05], [0.1, 0.1, 0.7, 0.05, 0.05]], np.float32)
    out = mark_unclassifiable(proba, np.array([True, False]), CLASSES)
    assert out[0].tolist() == proba[0].tolist() and out[1].tolist() == [0, 0, 0, 0, 1]
    assert proba[1, 2] == pytest.approx(0.7)  # the input is left alone
    kept = mark_unclassifiable(proba[:, :3], np.array([True, False]), ["N", "S", "V"])
    assert kept[1].argmax() == 2  # a model without Q keeps its own call


def test_windows_over_a_gap_are_background() -> None:
    proba = np.array([[0.2, 0.8], [0.1, 0.9]], np.float32)
    out = mark_background(proba, np.array([True, False]), ["bckg", "sz"])
    assert out.tolist() == [[pytest.approx(0.2), pytest.approx(0.8)], [1.0, 0.0]]


def test_sveb_to_normal_known_answer() -> None:
    proba = np.array([[0.2, 0.5, 0.3, 0, 0], [0.1, 0.6, 0.1, 0.1, 0.1]], dtype=np.float32)
    out = sveb_to_normal(proba, np.array([True, False]), CLASSES)
    np.testing.assert_allclose(out, [[0.7, 0, 0.3, 0, 0], [0.1, 0.6, 0.1, 0.1, 0.1]])
    assert proba[0, 1] == 0.5
    two = np.array([[0.4, 0.6]], dtype=np.float32)
    assert sveb_to_normal(two, np.array([True]), ["N", "V"]) is two


def test_without_the_gate_calls_are_untouched() -> None:
    beats = _beats_regular_then_af()
    proba = np.tile(CALLED_S, (beats.size, 1))
    out, af = settle_calls(FS, beats, proba, CLASSES, DecisionSettings())
    assert out is proba and af is None


def test_the_gate_settles_s_calls_in_af_only() -> None:
    beats = _beats_regular_then_af()
    proba = np.tile(CALLED_S, (beats.size, 1))
    out, af = settle_calls(FS, beats, proba, CLASSES, DecisionSettings(af_gate=True))
    assert not af[:60].any() and af[-100:].all()
    assert (out[af].argmax(1) == 0).all() and (out[~af].argmax(1) == 1).all()


def test_the_af_specific_rule_spares_premature_beats_in_regular_rhythm() -> None:
    """A premature S beat every third beat: the RR test fires on the pattern, but between
    the network's N calls the rhythm is regular, so the AF-specific rule settles nothing."""
    rng = np.random.default_rng(0)
    coupling = rng.uniform(0.4, 0.65, 120)
    rr = np.stack([0.8 * (1 + 0.02 * rng.standard_normal(120)), coupling,
                   1.6 - coupling + 0.02 * rng.standard_normal(120)], axis=1).ravel()
    beats = np.round(np.concatenate([[0.5], 0.5 + np.cumsum(rr)]) * FS).astype(np.int64)
    proba = np.tile(CALLED_N, (beats.size, 1))
    proba[2::3] = CALLED_S
    assert af_beats(beats, FS).mean() > 0.9  # the plain rule would settle them all
    specific = DecisionSettings(af_gate=True, af_gate_rule="af_specific")
    settled, af = settle_calls(FS, beats, proba, CLASSES, specific)
    assert not af.any() and (settled.argmax(1)[2::3] == 1).all()
    # In AF the N calls are irregular too: the rule acts as the plain one there.
    beats = _beats_regular_then_af()
    _, af = settle_calls(FS, beats, np.tile(CALLED_N, (beats.size, 1)), CLASSES, specific)
    assert af[-100:].all()


def test_the_atrial_rules_settle_only_where_there_is_no_consistent_p_wave() -> None:
    """Frequent premature beats in an irregular rhythm keep their P waves (consistency
    high): the atrial rules leave their S calls; where the P waves vanish they settle."""
    beats = _beats_regular_then_af()
    proba = np.tile(CALLED_N, (beats.size, 1))
    proba[::3] = CALLED_S
    called_s = proba.argmax(1) == 1
    atrial = np.full(beats.size, 0.9, np.float32)
    atrial[-50:] = 0.2  # the last 50 beats: no consistent P wave
    for rule in ("atrial", "af_specific_atrial"):
        settings = DecisionSettings(af_gate=True, af_gate_rule=rule)
        assert settings.needs_atrial
        plain = DecisionSettings(af_gate=True, af_gate_rule=rule.removesuffix("_atrial")
                                 if rule != "atrial" else "rhythm")
        _, before = settle_calls(FS, beats, proba, CLASSES, plain)
        out, af = settle_calls(FS, beats, proba, CLASSES, settings, atrial=atrial)
        np.testing.assert_array_equal(af, before & (atrial < 0.5))
        assert before[:-50].sum() > 100 and before[-50:].all()  # the AF stretch, all of it
        assert af[-50:].all() and not af[:-50].any()
        assert (out[-50:].argmax(1) == 0).all()
        np.testing.assert_array_equal(out[:-50].argmax(1) == 1, called_s[:-50])
        with pytest.raises(ValueError, match="atrial consistency"):
            settle_calls(FS, beats, proba, CLASSES, settings)
        with pytest.raises(ValueError, match="atrial consistency"):
            settle_calls(FS, beats, proba, CLASSES, settings, atrial=atrial[:-1])
    assert not DecisionSettings(af_gate=False, af_gate_rule="atrial").needs_atrial
    assert not DecisionSettings(af_gate=True, af_gate_rule="af_specific").needs_atrial


def test_weak_s_calls_fall_below_the_floor() -> None:
    """An S call whose S probability is under ``sveb_min_proba`` is reported N, with or
    without the gate; firmer S calls and every other call stand."""
    beats = _beats_regular_then_af()[:60]  # regular rhythm: the gate settles nothing
    proba = np.tile(CALLED_N, (beats.size, 1))
    proba[10] = [0.3, 0.45, 0.25, 0.0, 0.0]  # a weak S call
    proba[20] = [0.05, 0.9, 0.05, 0.0, 0.0]  # a firm one
    proba[30] = [0.2, 0.1, 0.7, 0.0, 0.0]  # a V call
    for gate in (False, True):
        settings = DecisionSettings(af_gate=gate, af_gate_rule="af_specific",
                                    sveb_min_proba=0.6)
        out, af = settle_calls(FS, beats, proba, CLASSES, settings)
        assert (af is None) != gate
        np.testing.assert_allclose(out[10], [0.75, 0.0, 0.25, 0.0, 0.0])
        np.testing.assert_array_equal(out[[20, 30]], proba[[20, 30]])
        assert (out.argmax(1) == np.where(np.arange(60) == 20, 1,
                                          np.where(np.arange(60) == 30, 2, 0))).all()
    same, _ = settle_calls(FS, beats, proba, CLASSES, DecisionSettings(sveb_min_proba=0.4))
    assert same is proba  # no call below the floor: nothing moves
    with pytest.raises(ValueError, match="sveb_min_proba"):
        DecisionSettings(sveb_min_proba=1.5)


@pytest.mark.parametrize("rule", ["rhythm", "af_specific", "atrial", "af_specific_atrial"])
def test_a_stream_settles_as_the_causal_batch(rule) -> None:
    beats = _beats_regular_then_af(1)
    rng = np.random.default_rng(2)
    proba = np.where(rng.random((beats.size, 1)) < 0.3, CALLED_S, CALLED_N).astype(np.float32)
    atrial = rng.uniform(0.0, 1.0, beats.size).astype(np.float32)
    settings = DecisionSettings(af_gate=True, af_gate_rule=rule, sveb_min_proba=0.5)
    proba[::7] = [0.35, 0.45, 0.2, 0.0, 0.0]  # weak S calls, for the floor
    batch, batch_af = settle_calls(FS, beats, proba, CLASSES, settings, causal=True,
                                   atrial=atrial)
    settler = StreamSettler(FS, CLASSES, settings)
    parts = [settler.settle(beats[i:i + 37], proba[i:i + 37], atrial[i:i + 37])
             for i in range(0, beats.size, 37)]
    np.testing.assert_array_equal(np.concatenate([a for _, a in parts]), batch_af)
    np.testing.assert_allclose(np.concatenate([p for p, _ in parts]), batch)
