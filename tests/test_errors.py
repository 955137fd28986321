"""The error types keep their file and reason across process boundaries."""

from __future__ import annotations

import pickle
from concurrent.futures import ProcessPoolExecutor

import pytest

from cardioliquid.errors import CheckpointError, RecordingError


def _fail(path: str) -> None:
    raise RecordingError(path, "expected reference beat annotations, got none")


@pytest.mark.parametrize("cls", [RecordingError, CheckpointError])
def test_errors_survive_pickling(cls):
    err = pickle.loads(pickle.dumps(cls("rec/100.hea", "expected 16-bit samples, got 8")))
    assert type(err) is cls
    assert (err.path, err.reason) == ("rec/100.hea", "expected 16-bit samples, got 8")
    assert str(err) == "rec/100.hea: expected 16-bit samples, got 8"
    assert str(pickle.loads(pickle.dumps(RecordingError(None, "no file")))) == "no file"


def test_a_workers_recording_error_reaches_the_parent_intact():
    with ProcessPoolExecutor(max_workers=1) as pool, pytest.raises(RecordingError) as info:
        pool.submit(_fail, "data/232").result()
    assert info.value.path == "data/232" and "annotations" in info.value.reason
