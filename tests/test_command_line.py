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
