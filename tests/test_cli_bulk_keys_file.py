"""Bulk commands over a keys file carry on past a bad line, report it as FILE:LINE on stderr,
end with counts, and exit with the highest code that applies (1 missing, 2 invalid, 3 tier)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_local import Local, sha1

A, B, C = b"alpha" * 100, b"bravo" * 200, b"charlie"


@pytest.fixture
def local(tmp_path: Path) -> Local:
    made = Local(tmp_path)
    made.write_config()
    return made


def keys_file(local: Local, *lines: str) -> None:
    (local.home / "keys.txt").write_text("\n".join(lines) + "\n")


def test_warm_reports_each_bad_line_and_carries_on(local: Local) -> None:
    a, b, c = local.store(A, B, C)
    keys_file(local, "# header", a, "0" * 40, "", b, "not-a-key", c)
    result = local.run("warm", "keys.txt")
    assert result.exit_code == 2, result.stderr  # an invalid key outranks a missing blob
    lines = result.stderr.splitlines()  # reported as the fetches end: in any order
    assert sorted(line[:12] for line in lines[:2]) == ["keys.txt:3: ", "keys.txt:6: "]
    assert f"keys.txt:3: '{'0' * 40}'" in result.stderr and "check the key" in result.stderr
    assert "keys.txt:6: invalid URI 'not-a-key'" in result.stderr
    assert lines[-1] == "bitstore: 3 warmed, 2 failed (1 missing, 1 invalid key)"
    assert "warmed 3 of 5 keys" in result.stdout
    assert sorted(p.name for p in local.cache.iterdir()) == sorted([a, b, c])


def test_warm_with_only_missing_blobs_exits_1(local: Local) -> None:
    (a,) = local.store(A)
    keys_file(local, a, "f" * 40)
    result = local.run("--json", "warm", "keys.txt")
    assert result.exit_code == 1
    assert '"where": "keys.txt:2"' in result.stderr
    assert '"counts": {"warmed": 1, "failed": 1, "missing": 1' in result.stderr


def test_a_failing_tier_exits_3_and_the_cached_keys_are_still_warmed(tmp_path: Path) -> None:
    local = Local(tmp_path)
    local.write_config(down=True)
    (cached,) = local.store(A, where="cache")
    keys_file(local, sha1(B), cached, "0" * 40)
    result = local.run("warm", "keys.txt", "--retries", "0")
    assert result.exit_code == 3, result.stderr
    assert "keys.txt:1: " in result.stderr and "not available" in result.stderr
    assert "keys.txt:3: " in result.stderr and "keys.txt:2" not in result.stderr
    assert result.stderr.splitlines()[-1] == "bitstore: 1 warmed, 2 failed (2 tier errors)"


def test_exists_reads_keys_from_stdin_and_keeps_their_order(local: Local) -> None:
    a, b = local.store(A, B)
    result = local.run("exists", "--keys-file", "-", stdin=f"{b}\nbad\n{'e' * 40}\n{a}\n")
    assert result.exit_code == 2
    assert result.stdout.splitlines() == [
        f"present  {b}",
        f"missing  {'e' * 40}",
        f"present  {a}",
    ]
    assert result.stderr.startswith("stdin:2: ") and "'bad'" in result.stderr
    assert (
        result.stderr.splitlines()[-1] == "bitstore: 2 present, 2 failed (1 missing, 1 invalid key)"
    )


def test_rm_deletes_every_valid_key_of_the_file(local: Local) -> None:
    a, b = local.store(A, B)
    keys_file(local, a, "zz", b)
    result = local.run("rm", "--keys-file", "keys.txt")
    assert result.exit_code == 2
    assert result.stderr.startswith("keys.txt:2: ")
    assert not list(local.source.iterdir())
    assert result.stderr.splitlines()[-1] == "bitstore: 2 deleted, 1 failed (1 invalid key)"


def test_cat_writes_the_blobs_in_order_and_skips_the_missing(local: Local) -> None:
    a, c = local.store(A, C)
    keys_file(local, c, "d" * 40, a)
    result = local.run("cat", "--keys-file", "keys.txt")
    assert result.exit_code == 1
    assert result.stdout_bytes == C + A
    assert result.stderr.startswith(f"keys.txt:2: '{'d' * 40}'")
    assert result.stderr.splitlines()[-1] == "bitstore: 2 written, 1 failed (1 missing)"


def test_an_overlong_line_is_reported_without_being_kept(local: Local) -> None:
    (a,) = local.store(A)
    keys_file(local, "x" * 100_000, a)
    result = local.run("warm", "keys.txt")
    assert result.exit_code == 2
    assert result.stderr.startswith("keys.txt:1: ") and "longer than" in result.stderr
    assert "xxxxx" * 100 not in result.stderr
    assert "1 warmed, 1 failed" in result.stderr


def test_keys_and_a_keys_file_together_are_a_usage_error(local: Local) -> None:
    keys_file(local, "a" * 40)
    both = local.run("exists", "a" * 40, "--keys-file", "keys.txt")
    assert both.exit_code == 2 and "not both" in both.stderr
    neither = local.run("rm")
    assert neither.exit_code == 2 and "--keys-file" in neither.stderr


def test_the_summary_names_at_most_a_thousand_missing_keys(local: Local) -> None:
    keys_file(local, *(f"{n:040x}" for n in range(1005)))
    result = local.run("--json", "warm", "keys.txt")
    assert result.exit_code == 1
    summary = json.loads(result.stdout)
    assert summary["missing"] == 1005 and len(summary["missing_keys"]) == 1000
    assert result.stderr.count("\n") == 1006  # every line reported, then the counts
