"""`claims-api import` piped (stderr not a terminal): plain progress lines on stderr, the
summary on stdout; no progress bar, whose redraws mean nothing in a log."""

from pathlib import Path

from tests.bulk_helpers import ndjson
from tests.helpers import run_cli

RECORDS = [
    {"type": "source", "id": "s1", "name": "Syrian state media", "kind": "state_media"},
    {"type": "claim", "id": "c1", "text": "Insurgents entered Hama."},
    {"type": "claim", "id": "c2", "text": "Clashes in the east of Hama."},
    {"type": "stance", "id": "t1", "claim_id": "c1", "source_id": "s1", "stance": "denies"},
]


def test_piped_import_prints_progress_lines_then_the_summary(tmp_path: Path) -> None:
    path = tmp_path / "data.ndjson"
    body = ndjson(*RECORDS)
    path.write_bytes(body)
    sizes = [len(line) + 1 for line in body.decode().splitlines()]
    url = f"sqlite:///{tmp_path / 'claims.db'}"
    # --progress-seconds 0: a line after every batch, where the default is every 5 s.
    args = ("import", str(path), "--batch-size", "1", "--progress-seconds", "0")
    result = run_cli(url, tmp_path, *args)
    assert result.returncode == 0, result.stderr
    total = sum(sizes)
    read = [sum(sizes[: n + 1]) for n in range(len(sizes))]
    assert result.stderr.splitlines() == [
        f"importing: 0 claims, 0 stances, {read[0]:,} of {total:,} bytes "
        f"({100 * read[0] // total}%)",
        f"importing: 1 claims, 0 stances, {read[1]:,} of {total:,} bytes "
        f"({100 * read[1] // total}%)",
        f"importing: 2 claims, 0 stances, {read[2]:,} of {total:,} bytes "
        f"({100 * read[2] // total}%)",
        f"importing: 2 claims, 1 stances, {total:,} of {total:,} bytes (100%)",
    ]
    [summary] = result.stdout.splitlines()
    assert summary.startswith(
        "imported: 1 sources created, 0 matched by name, 2 claims, 1 stances from 4 lines in "
    )


def test_a_quick_piped_import_prints_only_its_summary(tmp_path: Path) -> None:
    path = tmp_path / "data.ndjson"
    path.write_bytes(ndjson(*RECORDS))
    result = run_cli(f"sqlite:///{tmp_path / 'claims.db'}", tmp_path, "import", str(path))
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.startswith("imported: 1 sources created")
