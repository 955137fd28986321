"""CHB-MIT seizure windows: split by patient; an empty split stays empty."""

from __future__ import annotations

import pytest

from cardioliquid.errors import CardioLiquidError
from cardioliquid.training.datamodules.chbmit import SeizureDataModule


@pytest.fixture
def edf_folder(tmp_path):
    for name in ["chb01_03_onset.edf", "chb01_26_ictal.edf", "chb02_16_ictal.edf",
                 "chb03_01_ictal.edf"]:
        (tmp_path / name).write_bytes(b"")
    return tmp_path


def test_seizure_split_is_by_patient(edf_folder):
    dm = SeizureDataModule(data_dir=str(edf_folder), val_records=["chb01_26"])
    s = {k: [p.name for p in v] for k, v in dm.split_files().items()}
    assert s == {"train": ["chb01_03_onset.edf", "chb02_16_ictal.edf"],
                 "val": ["chb01_26_ictal.edf"], "test": ["chb03_01_ictal.edf"]}
    assert dm.n_chans == 18
    with pytest.raises(ValueError, match="both training"):
        SeizureDataModule(train_patients=["chb03"], test_patients=["chb03"])


def test_no_test_patients_means_no_test_stage(edf_folder):
    dm = SeizureDataModule(data_dir=str(edf_folder), test_patients=[])
    assert dm.split_files()["test"] == []  # chb03 is not a default test patient any more
    dm.setup("test")  # reads nothing: the test split is empty
    with pytest.raises(CardioLiquidError, match=r"no test data: no files of test_patients \[\]"):
        dm.test_dataloader()
    with pytest.raises(CardioLiquidError, match="no training data: no files of train_patients"):
        SeizureDataModule(data_dir=str(edf_folder), train_patients=["chb09"]).setup("fit")
