"""The ``cardioliquid`` command itself: quick help, an example per command, defaults shown."""

from __future__ import annotations

import subprocess
import sys

import pytest

from cardioliquid.cli import SUBCOMMANDS, main


def test_top_level_help_imports_no_command_module():
    """--help must not pay for torch, MNE or wfdb: none of the commands' modules load."""
    code = ("import sys\nfrom cardioliquid.cli import main\ntry:\n    main(['--help'])\n"
            "except SystemExit:\n    pass\nheavy = {'torch', 'mne', 'wfdb', 'lightning'}\n"
            "print(sorted(heavy & set(sys.modules)))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"
    assert "examples:" in out and "cardioliquid score data/mitdb" in out
    assert "``" not in out  # plain text, not reStructuredText



def test_score_help_imports_no_torch():
    """`cardioliquid score --help` answers without torch (cardioliquid.scoring loads it lazily)."""
    code = ("import sys\nfrom cardioliquid.cli import main\ntry:\n    main(['score', '--help'])\n"
            "except SystemExit:\n    pass\nprint('torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip().splitlines()[-1] == "False"

@pytest.mark.parametrize("command", sorted(SUBCOMMANDS))
def test_each_command_has_help_with_an_example(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert f"usage: cardioliquid {command}" in text
    assert f"example:\n  cardioliquid {command}" in text


def test_defaults_are_shown_once(capsys):
    with pytest.raises(SystemExit):
        main(["score", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "windows per forward pass (default: 2048)" in text
    assert "(default: None)" not in text and "(default 1) (default" not in text
    assert "arrhythmia: ECG beats (WFDB)" in text  # --task says what each task reads


@pytest.mark.parametrize("argv, flag", [
    (["score", "in", "--out", "o", "--task", "seizure", "--threshold", "1.5"], "--threshold"),
    (["score", "in", "--out", "o", "--smooth-windows", "-1"], "--smooth-windows"),
    (["score", "in", "--out", "o", "--batch-size", "0"], "--batch-size"),
    (["score", "in", "--out", "o", "--segment-s", "0"], "--segment-s"),
    (["score", "in", "--out", "o", "--segment-s", "0.1"], "--segment-s"),  # 36,000 per hour
    (["score", "in", "--out", ""], "--out"),  # an unset variable, not the current folder
    (["evaluate", "seizure", "--data", "x.edf", "--min-duration", "-3"], "--min-duration"),
    (["evaluate", "arrhythmia", "--data", "d", "--window", "-1"], "--window"),
    (["evaluate", "arrhythmia", "--data", "d", "--calibrate-minutes", "nan"],
     "--calibrate-minutes"),
    (["profile", "--heart-rate", "0"], "--heart-rate"),
    (["profile", "--threads", "0"], "--threads"),
    (["profile", "--repeats", "two"], "--repeats"),
])
def test_out_of_range_numbers_are_usage_errors(argv, flag, capsys):
    """A number out of range stops before any work, naming the flag (exit 2, no traceback)."""
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {flag}: expected" in err and "Traceback" not in err


def test_a_place_that_cannot_be_written_is_one_error_naming_it(tmp_path, capsys):
    """An OSError (here: --dest under a plain file) ends in one line naming the path, exit 2."""
    (tmp_path / "afile").write_text("")
    mirror = tmp_path / "mirror" / "mitdb"
    mirror.mkdir(parents=True)
    (mirror / "RECORDS").write_text("100\n")
    rc = main(["data", "pull", "mitdb", "--records", "100", "--dest",
               str(tmp_path / "afile" / "data"), "--mirror", str(tmp_path / "mirror")])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    assert err.startswith(f"cardioliquid data: error: {tmp_path / 'afile'}")


def test_score_out_that_is_a_file_is_named_as_such(tmp_path, capsys):
    (tmp_path / "afile").write_text("")
    assert main(["score", str(tmp_path), "--task", "arrhythmia", "--out",
                 str(tmp_path / "afile")]) == 2
    assert "expected a folder (created if missing), got a file" in capsys.readouterr().err
