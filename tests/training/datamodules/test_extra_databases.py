"""More training beats: other PhysioNet databases (``extra_train_records``), other leads."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from cardioliquid.errors import CardioLiquidError
from cardioliquid.signal.config import BeatPreprocessing
from cardioliquid.training.datamodules.mitbih import MITBIHBeatDataModule


def write_record(folder: Path, name: str, fs: int, lead: str | list[str], n_beats: int) -> Path:
    """A WFDB record with ``n_beats`` annotated beats (every 4th one 'A', early)."""
    import wfdb

    times, symbols, now = [], [], 0.6
    for k in range(n_beats):
        times.append(now)
        symbols.append("A" if k % 4 == 3 else "N")
        now += 0.55 if k % 4 == 2 else 0.8
    n = int((now + 0.6) * fs)
    t = np.arange(n) / fs
    x = 0.02 * np.random.default_rng(0).standard_normal(n)
    for p in times:
        x += np.exp(-0.5 * ((t - p) / 0.012) ** 2)
    leads = [lead] if isinstance(lead, str) else lead
    sig = np.stack([x * (1 - 1.5 * k) for k in range(len(leads))], axis=1)  # 2nd lead inverted
    folder.mkdir(parents=True, exist_ok=True)
    wfdb.wrsamp(name, fs=fs, units=["mV"] * len(leads), sig_name=leads, p_signal=sig,
                fmt=["16"] * len(leads), write_dir=str(folder))
    wfdb.wrann(name, "atr", np.round(np.array(times) * fs).astype(int), np.array(symbols),
               write_dir=str(folder))
    return folder / name


def small_prep() -> BeatPreprocessing:
    return BeatPreprocessing(rr_feature_set="robust", template_features=True)


@pytest.fixture
def databases(tmp_path: Path) -> Path:
    """``mitdb/``: a training and a test record; ``svdb/`` (128 Hz); ``incartdb/`` (257 Hz)."""
    write_record(tmp_path / "mitdb", "m1", 360, "MLII", 30)
    write_record(tmp_path / "mitdb", "m2", 360, "MLII", 20)
    write_record(tmp_path / "svdb", "800", 128, "ECG1", 12)
    write_record(tmp_path / "svdb", "801", 128, "ECG1", 16)
    write_record(tmp_path / "incartdb", "I01", 257, "II", 24)
    return tmp_path


def module(root: Path, extra: list[str], **kw) -> MITBIHBeatDataModule:
    return MITBIHBeatDataModule(data_dir=str(root / "mitdb"), train_records=["m1"],
                                test_records=["m2"], preprocessing=small_prep(),
                                cache_dir=str(root / "cache"), extra_train_records=extra,
                                extra_data_dir=str(root), **kw)


def test_extra_databases_add_their_beats_to_training_only(databases):
    dm = module(databases, ["svdb", "incartdb/I01"])
    dm.prepare_data()  # everything is on disk: nothing to pull
    dm.setup("fit")
    dm.setup("test")
    assert len(dm.train_set) == 30 + 12 + 16 + 24  # every annotated beat, at any rate or lead
    assert len(dm.test_set) == 20
    labels = dm.train_set.tensors[-1]
    s = dm.preprocessing.classes.index("S")
    assert int((labels == s).sum()) == 30 // 4 + 12 // 4 + 16 // 4 + 24 // 4  # 'A' -> S
    plain = module(databases, [])
    plain.setup("fit")
    assert len(plain.train_set) == 30


def test_a_records_list_names_the_whole_database(databases):
    (databases / "svdb" / "RECORDS").write_text("801\n")
    dm = module(databases, ["svdb"])
    assert [p.name for p in dm.extra_record_paths()] == ["801"]


def test_bad_extra_specs_fail_before_training(databases):
    with pytest.raises(ValueError, match="train_records"):
        module(databases, ["mitdb/100"])
    with pytest.raises(ValueError, match="incartdb"):
        module(databases, ["incart"])  # a typo names the allowed databases
    empty = module(databases, ["svdb"])
    for f in (databases / "svdb").iterdir():
        f.unlink()
    with pytest.raises(CardioLiquidError, match="data pull svdb"):
        empty.extra_record_paths()


def test_missing_extra_records_are_pulled_from_the_mirror(databases, tmp_path_factory,
                                                          monkeypatch):
    local = tmp_path_factory.mktemp("local")
    monkeypatch.setenv("CARDIOLIQUID_DATA_MIRROR", str(databases))
    dm = MITBIHBeatDataModule(data_dir=str(databases / "mitdb"), train_records=["m1"],
                              test_records=["m2"], preprocessing=small_prep(),
                              extra_train_records=["svdb/800"], extra_data_dir=str(local))
    dm.prepare_data()
    for suffix in (".hea", ".dat", ".atr"):  # the record, as the mirror holds it
        pulled = local / "svdb" / f"800{suffix}"
        assert pulled.read_bytes() == (databases / "svdb" / f"800{suffix}").read_bytes()
    assert not (local / "svdb" / "801.hea").exists()  # only the record asked for


@pytest.mark.realdata
def test_a_real_record_stored_like_svdb_trains_with_all_its_beats(mitdb_dir, tmp_path):
    """MIT-BIH 209 re-stored at 128 Hz with SVDB's lead name, read as an extra database."""
    import wfdb
    from wfdb import processing

    rec = wfdb.rdrecord(str(mitdb_dir / "209"))
    ann = wfdb.rdann(str(mitdb_dir / "209"), "atr")
    sig, moved = processing.resample_multichan(rec.p_signal, ann, rec.fs, 128, resamp_ann_chan=0)
    (tmp_path / "svdb").mkdir()
    wfdb.wrsamp("209", fs=128, units=rec.units, sig_name=["ECG1", "ECG2"], p_signal=sig,
                fmt=["16", "16"], write_dir=str(tmp_path / "svdb"))
    wfdb.wrann("209", "atr", moved.sample, moved.symbol, write_dir=str(tmp_path / "svdb"))
    prep = BeatPreprocessing(rr_feature_set="robust", template_features=True)
    dm = MITBIHBeatDataModule(data_dir=str(mitdb_dir), train_records=["101"], test_records=["100"],
                              preprocessing=prep, cache_dir=str(tmp_path / "cache"),
                              extra_train_records=["svdb"], extra_data_dir=str(tmp_path))
    dm.setup("fit")
    alone = MITBIHBeatDataModule(data_dir=str(mitdb_dir), train_records=["101", "209"],
                                 test_records=["100"], preprocessing=prep,
                                 cache_dir=str(tmp_path / "cache"))
    alone.setup("fit")
    # 101 + 209 either way: the 128 Hz copy keeps every labelled beat and its class
    assert torch.equal(torch.bincount(dm.train_set.tensors[-1], minlength=5),
                       torch.bincount(alone.train_set.tensors[-1], minlength=5))
    assert int((dm.train_set.tensors[-1] == 1).sum()) > 300  # 209's S beats


def test_the_add_on_config_stacks_onto_the_arrhythmia_recipe(capsys):
    from cardioliquid.training.cli import main

    configs = Path(__file__).resolve().parents[3] / "pipelines" / "configs"
    with pytest.raises(SystemExit) as exc:
        main(["fit", "--config", str(configs / "arrhythmia.yaml"),
              "--config", str(configs / "add-ons" / "extra-databases.yaml"), "--print_config"])
    assert exc.value.code == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    init = printed["data"]["init_args"]
    assert init["extra_train_records"] == ["svdb", "incartdb"]
    assert init["train_records"] == "DS1" and init["test_records"] == "DS2"
    assert printed["export_metadata"]["adaptation"]["lr"] == 0.003  # the recipe's, kept


def _fit_config(databases, tmp_path, model_name, data_words, **init_args):
    """A one-epoch fit of MITBIHBeatDataModule on the synthetic databases, exported."""
    cfg = {
        "seed_everything": 0,
        "trainer": {"accelerator": "cpu", "devices": 1, "max_epochs": 1, "deterministic": True,
                    "default_root_dir": str(tmp_path / "runs"), "enable_progress_bar": False,
                    "logger": False, "limit_val_batches": 0},
        "model": {"model_name": model_name, "model_kwargs": {"units": 12}, "lr": 0.01},
        "data": {"class_path": "cardioliquid.training.datamodules.MITBIHBeatDataModule",
                 "init_args": {"data_dir": str(databases / "mitdb"), "train_records": ["m1"],
                               "test_records": ["m2"], "sampling": {"batch_size": 16},
                               "cache_dir": str(tmp_path / "cache"),
                               "preprocessing": {"rr_feature_set": "robust"}, **init_args}},
        "export_to": str(tmp_path / "m.safetensors"),
        "export_metadata": {"data": data_words},
    }  # fmt: skip
    path = tmp_path / "fit.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


def test_a_model_trained_with_extra_databases_says_so(databases, tmp_path, model_name):
    from cardioliquid.models.checkpoint import load_model
    from cardioliquid.training.cli import main

    config = _fit_config(databases, tmp_path, model_name, "synthetic m1",
                         extra_train_records=["svdb/801"], extra_data_dir=str(databases))
    assert main(["fit", "--config", config]) == 0
    meta = load_model(tmp_path / "m.safetensors").metadata
    assert meta["data"] == "synthetic m1"  # the recipe's words, kept
    # ...and what this run read, whatever the config's words say.
    assert meta["train_records"] == ["m1", "svdb/801"] and meta["test_records"] == ["m2"]
    assert meta["trained_on"].startswith(
        "train records 2 (m1, svdb/801; 1 from svdb); validation none")


def test_overridden_records_are_what_the_exported_file_lists(databases, tmp_path, model_name):
    """The audit's case: a config describing 22 + 39 records, a run told to read one."""
    from cardioliquid.models.checkpoint import load_model
    from cardioliquid.training.cli import main

    config = _fit_config(databases, tmp_path, model_name, "DS1 (22 records) + 39 SVDB records")
    assert main(["fit", "--config", config, "--data.init_args.train_records", "[m2]",
                 "--data.init_args.test_records", "[m1]"]) == 0
    meta = load_model(tmp_path / "m.safetensors").metadata
    assert meta["train_records"] == ["m2"] and meta["test_records"] == ["m1"]
    assert "train records 1 (m2)" in meta["trained_on"]


def test_train_cli_reports_a_project_error_in_one_line(databases, tmp_path, model_name,
                                                       capsys):
    """Patient leakage (a record in both splits) ends the run with its message, exit 2."""
    from cardioliquid.training.cli import main

    config = _fit_config(databases, tmp_path, model_name, "leaky", test_records=["m1"])
    assert main(["fit", "--config", config]) == 2
    err = capsys.readouterr().err
    assert "cardioliquid-train: error:" in err and "leakage" in err and "Traceback" not in err
    assert not (tmp_path / "m.safetensors").exists()


def test_all_leads_trains_each_beat_once_per_listed_lead(tmp_path):
    from cardioliquid.signal.leads import listed_leads

    write_record(tmp_path / "mitdb", "t1", 360, ["V5", "MLII"], 20)  # swapped, like 114
    write_record(tmp_path / "mitdb", "t2", 360, ["MLII", "V1"], 12)
    write_record(tmp_path / "mitdb", "t3", 360, ["MLII", "RESP"], 8)  # RESP is not a listed lead
    prep = small_prep()
    assert listed_leads(["V5", "MLII"], prep.lead_preference) == ["MLII", "V5"]
    assert listed_leads(["mlii ", "RESP"], prep.lead_preference) == ["mlii "]

    def built(train_leads: str) -> MITBIHBeatDataModule:
        dm = MITBIHBeatDataModule(data_dir=str(tmp_path / "mitdb"), train_records=["t1", "t3"],
                                  test_records=["t2"], val_patients=["t3"], preprocessing=prep,
                                  cache_dir=str(tmp_path / "cache"), train_leads=train_leads)
        dm.setup("fit")
        dm.setup("test")
        return dm

    one, every = built("preferred"), built("all")
    assert len(one.train_set) == 20 and len(every.train_set) == 40
    # the second copy is the same beats and labels from the other lead, not the same windows
    x, _, y = every.train_set.tensors
    assert torch.equal(y[:20], y[20:])
    assert not torch.allclose(x[:20], x[20:])
    assert torch.equal(x[:20], one.train_set.tensors[0])
    # held-out beats are read as at inference: the preferred lead only
    assert len(every.val_set) == 8 and len(every.test_set) == 12
    with pytest.raises(ValueError, match="train_leads"):
        MITBIHBeatDataModule(train_leads="both")


def test_stacked_leads_train_once_per_listed_lead_first(tmp_path):
    """With two leads stacked, ``train_leads="all"`` reads each record in each lead order."""
    write_record(tmp_path / "mitdb", "t1", 360, ["V5", "MLII"], 20)
    write_record(tmp_path / "mitdb", "t2", 360, ["MLII", "V1"], 12)
    prep = replace(small_prep(), stack_leads=2)

    def built(train_leads: str) -> MITBIHBeatDataModule:
        dm = MITBIHBeatDataModule(data_dir=str(tmp_path / "mitdb"), train_records=["t1"],
                                  test_records=["t2"], preprocessing=prep,
                                  cache_dir=str(tmp_path / "cache"), train_leads=train_leads)
        dm.setup("fit")
        return dm

    one, every = built("preferred"), built("all")
    assert one.n_chans == 2 and len(one.train_set) == 20 and len(every.train_set) == 40
    x, _, y = every.train_set.tensors
    assert x.shape[1:] == (2, prep.n_times) and torch.equal(y[:20], y[20:])
    assert torch.equal(x[:20], one.train_set.tensors[0])  # MLII first, V5 second
    assert torch.equal(x[20:, 0], x[:20, 1]) and torch.equal(x[20:, 1], x[:20, 0])
