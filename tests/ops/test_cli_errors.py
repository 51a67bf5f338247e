"""Every `claims-api` command, given arguments it cannot use, says so in one `Error:` line
on stderr and exits 2: no traceback, nothing on stdout, nothing done."""

from pathlib import Path

import pytest

from tests.helpers import run_cli

BAD_ARGUMENTS = {
    ("serve", "--port", "abc"): "Error: Invalid value for '--port': "
    "Input should be a valid integer, unable to parse string as an integer",
    ("worker", "--concurrency", "abc"): "Error: Invalid value for '--concurrency': "
    "Input should be a valid integer, unable to parse string as an integer",
    ("migrate", "extra"): "Error: Got unexpected extra argument(s) (extra)",
    ("seed", "--bogus"): "Error: No such option: --bogus",
    ("import", "missing.ndjson"): "Error: cannot read missing.ndjson: No such file or directory",
    ("import", "."): "Error: cannot read .: Is a directory",
    ("import", "-", "--batch-size", "0"): "Error: Invalid value for '--batch-size': "
    "Input should be greater than or equal to 1",
    ("check", "--bogus"): "Error: No such option: --bogus",
    ("keys", "create", "--scope", "root"): "Error: Invalid value for '--scope': "
    "Value error, 'root' is not one of 'read', 'write', 'admin'.",
    ("keys", "revoke"): "Error: Missing argument 'ID'.",
    ("keys", "revoke", "999"): "Error: no active key has ID or prefix '999'",
    ("keys", "revoke", "ck_unknown"): "Error: no active key has ID or prefix 'ck_unknown'",
    ("keys", "list", "--bogus"): "Error: No such option: --bogus",
    ("bogus",): "Error: No such command 'bogus'.",
}


@pytest.mark.parametrize("args", list(BAD_ARGUMENTS), ids=" ".join)
def test_bad_arguments_are_one_error_line_and_exit_2(tmp_path: Path, args: tuple[str]) -> None:
    result = run_cli(f"sqlite:///{tmp_path / 'claims.db'}", tmp_path, *args)
    assert (result.returncode, result.stdout) == (2, ""), result.stderr
    assert result.stderr.splitlines()[-1] == BAD_ARGUMENTS[args]
    assert "Traceback" not in result.stderr
    # Refused before the argument was used: the bad import loaded nothing (no database).
    if args[0] == "import":
        assert not (tmp_path / "claims.db").exists()
