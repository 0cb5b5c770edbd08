import subprocess
import sys

from floxls import __version__
from floxls.cli import main


def test_version_flag(capsys):
    try:
        main(["--version"])
    except SystemExit as exc:
        assert exc.code == 0
    assert capsys.readouterr().out.strip() == f"floxls {__version__}"


def test_no_command_prints_help_and_fails(capsys):
    assert main([]) == 2
    assert "usage: floxls" in capsys.readouterr().err


def test_module_entry_point_runs():
    out = subprocess.run(
        [sys.executable, "-m", "floxls", "--version"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("floxls ")
