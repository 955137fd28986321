"""The liquid model of the rhythm: one CfC/LTC step per heartbeat, elapsed time = RR."""

from __future__ import annotations

import pytest
import torch

from cardioliquid.errors import ContractError
from cardioliquid.models import create_model
from cardioliquid.models.rhythm import MAX_TIMESPAN_S, MIN_TIMESPAN_S

N_FEATURES = 12


def _model(name: str = "liquid-rhythm-cfc", **kw):
    torch.manual_seed(0)
    return create_model(name, n_chans=1, n_outputs=5, n_times=126, sfreq=180.0,
                        n_features=N_FEATURES, units=16, motor_neurons=5, **kw).eval()


def _cell_inputs(m):
    """What the liquid cell reads on each forward (``seen["inputs"]``), and the hook to remove."""
    seen = {}
    hook = m.rnn.register_forward_pre_hook(
        lambda _, args: seen.__setitem__("inputs", args[0].detach().clone()))
    return seen, hook


def _beats(n: int, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, 126, generator=g)
    f = torch.rand(n, N_FEATURES, generator=g) + 0.4  # column 6: pre-RR in s
    return x, f


@pytest.mark.parametrize("name", ["liquid-rhythm-cfc", "liquid-rhythm-ltc", "rhythm-lstm",
                                  "rhythm-gru", "rhythm-cnn"])
def test_beat_by_beat_equals_one_scan(name):
    m = _model(name)
    x, f = _beats(60)
    whole, hx_whole, states = m.forward_stateful(x, f)
    hx, outs = None, []
    for i in range(60):
        o, hx, _ = m.forward_stateful(x[i:i + 1], f[i:i + 1], hx)
        outs.append(o)
    torch.testing.assert_close(torch.cat(outs), whole, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(hx, hx_whole, atol=1e-5, rtol=1e-5)
    assert whole.shape == (60, 5) and states.shape == (60, 1, m.rnn.state_size)


def test_split_sequence_equals_whole_and_batches_are_independent():
    m = _model()
    x, f = _beats(50)
    whole = m(x, f)
    first, hx, _ = m.forward_stateful(x[:20], f[:20])
    rest, _, _ = m.forward_stateful(x[20:], f[20:], hx)
    torch.testing.assert_close(torch.cat([first, rest]), whole, atol=1e-5, rtol=1e-5)
    x2, f2 = _beats(50, seed=1)
    batched = m(torch.stack([x, x2]), torch.stack([f, f2]))
    assert batched.shape == (2, 50, 5)
    torch.testing.assert_close(batched[0], whole, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(batched[1], m(x2, f2), atol=1e-5, rtol=1e-5)


def test_the_rr_interval_is_the_elapsed_time_of_each_step():
    m = _model()
    x, f = _beats(30)
    ts = m.timespans(f)
    torch.testing.assert_close(ts, f[:, 6].clamp(MIN_TIMESPAN_S, MAX_TIMESPAN_S))
    slower = f.clone()
    slower[:, 6] = slower[:, 6] * 2  # same beats, twice the RR intervals
    assert not torch.allclose(m(x, f), m(x, slower))


def test_contract_is_checked_and_bad_settings_refused():
    m = _model()
    x, f = _beats(5)
    with pytest.raises(ContractError, match="126 samples"):
        m(torch.randn(5, 1, 100), f)
    with pytest.raises(ContractError, match="12 extra features"):
        m(x, f[:, :4])
    with pytest.raises(ValueError, match="needs per-beat features"):
        create_model("liquid-rhythm-cfc", n_chans=1, n_outputs=5, n_times=126, sfreq=180.0)
    with pytest.raises(ValueError, match="timespan_feature"):
        _model(timespan_feature=N_FEATURES)


def test_training_mode_drops_morphology_and_gradients_reach_the_encoder():
    m = _model(morphology_dropout=0.5).train()
    x, f = _beats(400)  # features > 0.4: none is 0 (the norm is unfitted)
    seen, hook = _cell_inputs(m)
    logits, _, morphology = m.forward_training(x.unsqueeze(0), f.unsqueeze(0))
    inputs, morphology = seen["inputs"][0], morphology[0].detach()
    n_embed = morphology.shape[-1]
    assert inputs.shape[-1] == n_embed + N_FEATURES
    assert not (morphology == 0).all(1).any()  # every beat had a shape to drop
    gone = (inputs[:, :n_embed] == 0).all(1)
    assert 0.4 < float(gone.float().mean()) < 0.6  # about half the beats lose their shape...
    # ...whole, and the kept ones are scaled by 1 / (1 - 0.5) (inverted dropout)
    torch.testing.assert_close(inputs[~gone, :n_embed], 2 * morphology[~gone])
    assert (inputs[:, n_embed:] != 0).all()  # the rhythm features always reach the cell
    logits.sum().backward()
    assert m.front[0].weight.grad is not None and m.front[0].weight.grad.abs().sum() > 0
    hook.remove()
    m.eval()
    plain = _model()
    plain.load_state_dict(m.state_dict())
    torch.testing.assert_close(m(x, f), plain(x, f))  # no dropout at inference


def test_rhythm_masking_hides_the_rr_features_of_other_beats_than_morphology_dropout():
    m = _model(morphology_dropout=0.3, rhythm_masking=0.4,
               rhythm_columns=list(range(9))).train()
    seen, hook = _cell_inputs(m)
    x, f = _beats(2000)  # features > 0.4: only masking makes one 0 (the norm is unfitted)
    m(x.unsqueeze(0), f.unsqueeze(0))
    inputs = seen["inputs"][0]
    n_embed = inputs.shape[1] - N_FEATURES
    shape_gone = (inputs[:, :n_embed] == 0).all(1)
    rhythm = inputs[:, n_embed:n_embed + 9]
    rhythm_gone = (rhythm == 0).all(1)
    assert not (shape_gone & rhythm_gone).any()  # a beat never loses both
    assert ((rhythm == 0).any(1) == rhythm_gone).all()  # all nine columns, or none
    assert (inputs[:, n_embed + 9:] != 0).all()  # the template features stay
    assert 0.25 < float(shape_gone.float().mean()) < 0.35
    assert 0.35 < float(rhythm_gone.float().mean()) < 0.45
    hook.remove()
    m.eval()
    plain = _model(morphology_dropout=0.3)
    plain.load_state_dict(m.state_dict())  # strict: the columns live in the kwargs
    torch.testing.assert_close(m(x, f), plain(x, f))  # nothing is hidden at inference


def test_rhythm_masking_settings_are_checked():
    with pytest.raises(ValueError, match="needs rhythm_columns"):
        _model(rhythm_masking=0.3)
    with pytest.raises(ValueError, match="leave some beats whole"):
        _model(morphology_dropout=0.5, rhythm_masking=0.5, rhythm_columns=[0])
    with pytest.raises(ValueError, match="rhythm_columns must index"):
        _model(rhythm_masking=0.3, rhythm_columns=[0, N_FEATURES])


def test_complexity_counts_one_step_per_beat_under_budget():
    m = create_model("liquid-rhythm-cfc", n_chans=1, n_outputs=5, n_times=126, sfreq=180.0,
                     n_features=N_FEATURES, units=32, motor_neurons=8, conv_channels=[8, 16])
    c = m.complexity()
    conv = 63 * 8 * 7 + 32 * 16 * 8 * 5
    assert conv < c["macs"] < 100_000
    assert c["nonzero_params"] < c["params"]  # the wiring's missing synapses


@pytest.mark.parametrize(("name", "units"), [("rhythm-lstm", 31), ("rhythm-gru", 38),
                                             ("rhythm-cnn", 26)])
def test_peers_match_the_shipped_rhythm_models_size(name, units):
    """Issue 20's peers: the same encoder, features and head with an LSTM, a GRU or a
    causal CNN, within 10 % of the liquid model's parameters (the sizes of the peer configs)."""
    from pathlib import Path

    import yaml

    kw = dict(n_chans=1, n_outputs=5, n_times=126, sfreq=180.0, n_features=N_FEATURES,
              conv_channels=[8, 16], kernel_sizes=[7, 5], strides=[2, 2])
    config = Path(__file__).resolve().parents[2] / "pipelines" / "configs" / \
        "arrhythmia-candidates" / f"{name}.yaml"
    model = yaml.safe_load(config.read_text())["model"]
    assert model["model_name"] == name and model["model_kwargs"]["units"] == units
    extra = {k: v for k, v in model["model_kwargs"].items() if k.startswith("cnn_")}
    liquid = create_model("liquid-rhythm-cfc", units=32, motor_neurons=8, **kw)
    peer = create_model(name, units=units, **kw, **extra)
    n_liquid, n_peer = (sum(p.numel() for p in m.parameters()) for m in (liquid, peer))
    assert abs(n_peer - n_liquid) <= 0.1 * n_liquid
    assert peer.wiring is None
    if name != "rhythm-cnn":
        assert peer.rnn.hx_size == units * (2 if "lstm" in name else 1)
    assert 0 < peer.complexity()["macs"] < 100_000


def test_cnn_peer_sees_exactly_its_receptive_field():
    """A beat's output depends on its last ``receptive_field`` beats and on no earlier one,
    and the carried state is the buffer of past inputs, whatever the segmenting."""
    m = _model("rhythm-cnn", cnn_kernel_size=3, cnn_dilations=[1, 2, 4])
    rf = m.rnn.receptive_field
    assert rf == 1 + 2 * (1 + 2 + 4)
    x, f = _beats(40)
    base = m(x, f)
    changed = x.clone()
    changed[10] += 5.0  # one beat's morphology
    out = m(changed, f)
    diff = (out - base).abs().amax(-1)
    assert diff[:10].max() == 0  # the past does not see the future
    assert (diff[10:10 + rf] > 0).all()  # every beat within reach sees it
    assert diff[10 + rf:].max() == 0  # and none beyond the receptive field
    with pytest.raises(ValueError, match="kernel_size"):
        _model("rhythm-cnn", cnn_kernel_size=1)


@pytest.mark.parametrize(("wiring", "mixed"), [("full", False), ("ncp", True), ("full", True)])
def test_dense_wiring_and_mixed_memory_stream_as_one_scan(wiring, mixed):
    m = _model(wiring=wiring, mixed_memory=mixed)
    x, f = _beats(40)
    whole, hx_whole, _ = m.forward_stateful(x, f)
    first, hx, _ = m.forward_stateful(x[:13], f[:13])
    rest, hx_rest, _ = m.forward_stateful(x[13:], f[13:], hx)
    torch.testing.assert_close(torch.cat([first, rest]), whole, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(hx_rest, hx_whole, atol=1e-5, rtol=1e-5)
    if wiring == "full":  # every synapse exists
        assert bool((m.rnn.input_mask != 0).all()) and bool((m.rnn.recurrent_mask != 0).all())
    else:
        assert not bool((m.rnn.recurrent_mask != 0).all())  # the NCP's missing synapses
    if mixed:  # the memory cell travels with the state
        assert hx.shape[-1] == 2 * m.rnn.state_size
    with pytest.raises(ValueError, match="wiring"):
        _model(wiring="sparse")


def test_backbone_cfc_is_ncps_default_cell_and_streams():
    """``wiring="backbone"``: an unwired CfC with a backbone MLP, every neuron read by the
    head; it streams beat by beat like the wired one and refuses other cells."""
    m = _model(wiring="backbone", backbone_units=20)
    assert m.rnn.use_backbone and m.rnn.output_size == 16
    x, f = _beats(30)
    whole = m(x, f)
    hx, outs = None, []
    for i in range(30):
        o, hx, _ = m.forward_stateful(x[i:i + 1], f[i:i + 1], hx)
        outs.append(o)
    torch.testing.assert_close(torch.cat(outs), whole, atol=1e-5, rtol=1e-5)
    backbone_macs = sum(lin.weight.numel() for lin in m.rnn.backbone) + m.rnn.weight.numel()
    assert m.complexity()["macs"] > backbone_macs
    with pytest.raises(ValueError, match="backbone"):
        _model("liquid-rhythm-ltc", wiring="backbone")


def test_causal_reference_is_the_mean_of_earlier_beats_then_an_average():
    from cardioliquid.models.rhythm import causal_reference

    e = torch.arange(1.0, 9.0).reshape(1, 8, 1)  # beats 1, 2, ..., 8
    relative, (mean, count) = causal_reference(e, torch.zeros(1, 1), torch.zeros(1, 1), 4)
    # The first beat has no earlier one; then each beat minus the mean of those before it,
    # over the last horizon once an exponential average (weight 1/4).
    expected, ref = [0.0, 1.0, 1.5, 2.0], 2.5  # after beats 1 to 4: their mean
    for beat in (5.0, 6.0, 7.0, 8.0):
        expected.append(beat - ref)
        ref += (beat - ref) / 4
    torch.testing.assert_close(relative.flatten(), torch.tensor(expected))
    torch.testing.assert_close(mean, torch.tensor([[ref]]))
    assert count.item() == 4


@pytest.mark.parametrize("length", [1, 40, 64, 65, 200])
def test_causal_reference_in_chunks_equals_the_beat_by_beat_definition(length):
    from cardioliquid.models.rhythm import causal_reference

    torch.manual_seed(length)
    e = torch.randn(3, length, 5, requires_grad=True)
    mean = torch.randn(3, 5)
    count = torch.tensor([[0.0], [10.0], [16.0]])  # none yet, filling, full
    ref_out, m, c = [], mean, count
    for t in range(length):  # the definition, one beat at a time
        et = e[:, t]
        ref = torch.where(c > 0, m, et)
        ref_out.append(et - ref)
        c = (c + 1).clamp(max=16.0)
        m = ref + (et - ref) / c
    with torch.no_grad():  # scoring: the closed form
        relative, (mean_after, count_after) = causal_reference(e, mean, count, 16)
    torch.testing.assert_close(relative, torch.stack(ref_out, 1), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(mean_after, m, atol=1e-5, rtol=1e-5)
    assert torch.equal(count_after, c)
    # Training (a gradient to follow) steps beat by beat: exactly the definition.
    trained, (mean_trained, _) = causal_reference(e, mean, count, 16)
    assert torch.equal(trained, torch.stack(ref_out, 1)) and torch.equal(mean_trained, m)
    trained.sum().backward()
    assert e.grad is not None and torch.isfinite(e.grad).all()


@pytest.mark.parametrize("reference_input", ["both", "relative"])
def test_embedding_reference_streams_as_one_scan(reference_input):
    m = _model(embedding_reference=16, reference_input=reference_input)
    plain = _model()
    x, f = _beats(50)
    whole, hx_whole, states = m.forward_stateful(x, f)
    hx, outs = None, []
    for i in range(0, 50, 7):  # beat runs of 7, the reference carried between them
        o, hx, _ = m.forward_stateful(x[i:i + 7], f[i:i + 7], hx)
        outs.append(o)
    torch.testing.assert_close(torch.cat(outs), whole, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(hx, hx_whole, atol=1e-5, rtol=1e-5)
    # The carried state holds the cell's, the reference and its count; states are the cell's.
    assert hx.shape[-1] == m.hx_size == m.rnn.hx_size + m.n_embedding + 1 > plain.hx_size
    assert states.shape == (50, 1, m.rnn.state_size) and hx[0, -1].item() == 16
    more = 2 if reference_input == "both" else 1
    assert m.rnn.input_size == more * m.n_embedding + N_FEATURES


def test_a_run_cut_from_a_stream_starts_from_the_stream_reference():
    m = _model(embedding_reference=16).eval()
    x, f = _beats(60)
    head, tail = slice(0, 45), slice(45, None)
    _, hx_head, _ = m.forward_stateful(x[head], f[head])
    mean, count = m.reference_after(x[head], chunk=7)  # in chunks, as over a long record
    # The reference after the first 45 beats, without the cell: the stream's carried one.
    cell = m.rnn.hx_size
    torch.testing.assert_close(mean, hx_head[:, cell:-1], atol=1e-5, rtol=1e-5)
    assert count.item() == hx_head[0, -1].item() == 16
    # The view starts its runs there, its cell at rest; the model itself is unchanged.
    view = m.starting_from(mean, count)
    at_rest = torch.cat([torch.zeros(1, cell), mean, count], -1)
    torch.testing.assert_close(view.forward_stateful(x[tail], f[tail])[0],
                               m.forward_stateful(x[tail], f[tail], at_rest)[0])
    assert m.start_reference is None and view.head is m.head
    assert not torch.allclose(view(x[tail], f[tail]), m(x[tail], f[tail]))
    # Rows of a batch may start from different references.
    both = m.starting_from(torch.cat([mean, torch.zeros_like(mean)]),
                           torch.cat([count, torch.zeros_like(count)]))
    batch = both(torch.stack([x[tail], x[tail]]), torch.stack([f[tail], f[tail]]))
    torch.testing.assert_close(batch[0], view(x[tail], f[tail]))
    torch.testing.assert_close(batch[1], m(x[tail], f[tail]))
    torch.testing.assert_close(both(x[tail][None], f[tail][None])[0], batch[0])  # a slice
    with pytest.raises(ValueError, match="no embedding reference"):
        _model().reference_after(x)


def test_embedding_reference_settings_are_checked():
    with pytest.raises(ValueError, match="reference_input"):
        _model(embedding_reference=8, reference_input="absolute")
    with pytest.raises(ValueError, match="embedding_reference"):
        _model(embedding_reference=-1)
