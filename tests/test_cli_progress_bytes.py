"""Progress bars of the bulk commands count blobs against the keys file's total, say what the
command does, and show the bytes moved (forced on with ``--progress``; on stderr)."""

from __future__ import annotations

from pathlib import Path

from tests.cli_local import Local


def test_warm_shows_the_blob_total_and_the_bytes(tmp_path: Path) -> None:
    local = Local(tmp_path)
    local.write_config()
    keys = local.store(b"a" * 1024, b"b" * 1024, b"c" * 1024)
    (local.home / "keys.txt").write_text("\n".join(keys) + "\n")
    result = local.run("--progress", "warm", "keys.txt")
    assert result.exit_code == 0, result.stderr
    final = result.stderr.replace("\r", "\n").splitlines()
    line = next(text for text in reversed(final) if text.startswith("warming"))
    assert "3/3" in line and "3.00kB" in line
    assert "3.00kB" not in result.stdout


def test_cat_and_exists_bars_name_what_they_do(tmp_path: Path) -> None:
    local = Local(tmp_path)
    local.write_config()
    keys = local.store(b"x" * 2048, b"y" * 2048)
    (local.home / "keys.txt").write_text("\n".join(keys) + "\n")
    cat = local.run("--progress", "cat", "--keys-file", "keys.txt", "--force")
    assert cat.stdout_bytes == b"x" * 2048 + b"y" * 2048
    assert "writing" in cat.stderr and "4.00kB" in cat.stderr and "2/2" in cat.stderr
    exists = local.run("--progress", "exists", "--keys-file", "keys.txt")
    assert "checking" in exists.stderr and "2/2" in exists.stderr


def test_no_bar_when_not_asked_and_not_a_terminal(tmp_path: Path) -> None:
    local = Local(tmp_path)
    local.write_config()
    keys = local.store(b"a")
    (local.home / "keys.txt").write_text(keys[0] + "\n")
    result = local.run("warm", "keys.txt")
    assert "warming" not in result.stderr


def test_put_of_files_counts_bytes_against_their_total(tmp_path: Path) -> None:
    local = Local(tmp_path)
    local.write_config()
    for name in ("a.bin", "b.bin"):
        (local.home / name).write_bytes(name.encode() * 1024)  # 5 kB each
    result = local.run("--progress", "put", "a.bin", "b.bin")
    assert result.exit_code == 0, result.stderr
    final = result.stderr.replace("\r", "\n").splitlines()
    line = next(text for text in reversed(final) if text.startswith("storing"))
    assert "10.0k/10.0k" in line and "2/2 blobs" in line
