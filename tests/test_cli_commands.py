"""``bitstore head``, ``du``, ``mv``, ``ls -l``, ``cat --range``, ``put --compress`` and
wildcards, through click's CliRunner against a named chain on a local file store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from asyncbitstore.compression.frame import MAGIC
from tests.test_cli_paths import Shell, shell  # noqa: F401 - the fixture


@pytest.fixture
def digits(shell: Shell) -> Shell:  # noqa: F811
    (shell.home / "digits").write_bytes(b"0123456789")
    assert shell("put", "-k", "n/digits", "digits").exit_code == 0
    return shell


def stored(where: Shell, key: str) -> Path:
    return where.conf / "store" / key


def test_head_prints_the_object_meta_as_a_table_or_json(digits: Shell) -> None:
    table = digits("head", "n/digits")
    assert table.exit_code == 0, table.stderr
    rows = dict(line.split(None, 1) for line in table.stdout.splitlines())
    assert (rows["key"], rows["size"], rows["content_type"]) == ("n/digits", "10", "-")
    assert rows["last_modified"].endswith("+00:00") and rows["etag"].startswith('"')
    shown = json.loads(digits("--json", "head", "n/digits").stdout)
    assert set(shown) == {
        "key",
        "size",
        "etag",
        "last_modified",
        "content_type",
        "version",
        "metadata",
    }
    assert (shown["size"], shown["metadata"]) == (10, {})
    missing = digits("head", "n/none")
    assert missing.exit_code == 1 and "not found" in missing.stderr
    local = digits("--json", "head", "./digits")  # a local path, outside the chain
    assert json.loads(local.stdout)["key"] == str(digits.home / "digits")


@pytest.mark.parametrize(
    ("spec", "expected"),
    [("2-4", b"234"), ("7-", b"789"), ("-3", b"789"), ("5-100", b"56789"), ("0-0", b"0")],
)
def test_cat_range_reads_the_bytes_http_would(digits: Shell, spec: str, expected: bytes) -> None:
    got = digits("cat", "--range", spec, "n/digits")
    assert (got.exit_code, got.stdout_bytes) == (0, expected)


@pytest.mark.parametrize("spec", ["10-", "4-2", "abc", "-", "1-2-3"])
def test_cat_range_refuses_a_bad_or_unsatisfiable_range(digits: Shell, spec: str) -> None:
    got = digits("cat", "--range", spec, "n/digits")
    assert (got.exit_code, got.stdout_bytes) == (2, b"")
    assert "START-END" in got.stderr or "past the end" in got.stderr


def test_put_compress_stores_compressed_and_reads_back_plain(shell: Shell) -> None:  # noqa: F811
    (shell.home / "text").write_bytes(b"abc" * 1000)
    put = shell("put", "--compress", "gzip", "-k", "t.txt", "text")
    assert (put.exit_code, put.stdout) == (0, "t.txt\n")
    assert stored(shell, "t.txt").read_bytes().startswith(MAGIC)
    assert stored(shell, "t.txt").stat().st_size < 3000
    assert shell("cat", "t.txt").stdout_bytes == b"abc" * 1000
    bad = shell("put", "--compress", "lzma", "-k", "u.txt", "text")
    assert bad.exit_code == 2
    assert "'lzma' is not one of 'br', 'gzip', 'zstd'" in bad.stderr
    assert not stored(shell, "u.txt").exists()


def test_ls_l_shows_size_and_time_and_prefixes(digits: Shell) -> None:
    (digits.home / "other").write_bytes(b"xy")
    assert digits("put", "-k", "n/deeper/o", "other").exit_code == 0
    long = digits("ls", "-l", "-d", "n/")
    assert long.exit_code == 0, long.stderr
    lines = [line.split() for line in long.stdout.splitlines()]
    assert [line[-1] for line in lines] == ["n/deeper/", "n/digits"]
    assert lines[0] == ["PRE", "n/deeper/"]
    assert lines[1][0] == "10" and lines[1][1].endswith("+00:00")
    rows = json.loads(digits("--json", "ls", "-l", "n/").stdout)
    assert [(r["key"], r["size"]) for r in rows] == [("n/deeper/o", 2), ("n/digits", 10)]


def test_du_sizes_summary_and_human_sizes(digits: Shell) -> None:
    (digits.home / "big").write_bytes(b"b" * 3000)
    assert digits("put", "-k", "n/big", "big").exit_code == 0
    each = digits("du", "n/")
    assert each.exit_code == 0, each.stderr
    assert [line.split() for line in each.stdout.splitlines()] == [
        ["3000", "n/big"],
        ["10", "n/digits"],
        ["3010", "n/", "(2", "objects)"],
    ]
    human = digits("du", "-s", "-h", "n/")
    assert human.stdout.split() == ["2.9", "KiB", "n/", "(2", "objects)"]
    summary = json.loads(digits("--json", "du", "-s", "n/").stdout)
    assert summary == {"prefix": "n/", "objects": 2, "bytes": 3010}
    assert digits("du", "--help").exit_code == 0


def test_mv_moves_a_blob_and_a_prefix(digits: Shell) -> None:
    (digits.home / "f").write_bytes(b"file")
    moved = digits("mv", "f", "g")
    assert moved.exit_code == 0, moved.stderr
    assert not (digits.home / "f").exists() and (digits.home / "g").read_bytes() == b"file"
    (digits.home / "tree" / "sub").mkdir(parents=True)
    (digits.home / "tree" / "sub" / "x").write_bytes(b"x")
    tree = digits("--json", "mv", "-r", "tree", "moved/")
    assert json.loads(tree.stdout)["removed"] == 1
    assert (digits.home / "moved" / "sub" / "x").read_bytes() == b"x"
    assert not (digits.home / "tree" / "sub" / "x").exists()
    missing = digits("mv", "f", "h")
    assert missing.exit_code == 1 and missing.stderr.startswith("bitstore: error: SOURCE 'f'")


def test_globs_in_ls_cp_and_rm(shell: Shell) -> None:  # noqa: F811
    for name in ("a.txt", "b.txt", "c.log", "sub/d.txt", "sub/deep/e.txt"):
        path = shell.home / "src" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(name.encode())
        assert shell("put", "-k", f"g/{name}", str(path)).exit_code == 0
    listed = shell("ls", "g/*.txt")
    assert listed.stdout.split() == ["g/a.txt", "g/b.txt"]  # * stays in its level
    assert shell("ls", "g/**.txt").stdout.split() == [
        "g/a.txt",
        "g/b.txt",
        "g/sub/d.txt",
        "g/sub/deep/e.txt",
    ]
    assert shell("ls", "g/[ac].*").stdout.split() == ["g/a.txt", "g/c.log"]
    assert shell("ls", "g/?.log").stdout.split() == ["g/c.log"]
    assert shell("ls", "g/*.png").exit_code == 1

    copied = shell("cp", "src/**.txt", "out/")
    assert copied.exit_code == 0, copied.stderr
    found = sorted(str(p.relative_to(shell.home / "out")) for p in (shell.home / "out").rglob("*"))
    assert found == ["a.txt", "b.txt", "sub", "sub/d.txt", "sub/deep", "sub/deep/e.txt"]
    nothing = shell("cp", "src/*.png", "out/")
    assert nothing.exit_code == 1 and "SOURCE 'src/*.png'" in nothing.stderr

    assert shell("rm", "g/sub/**").exit_code == 0
    assert shell("ls", "g/").stdout.split() == ["g/a.txt", "g/b.txt", "g/c.log"]
    assert shell("rm", "g/*.zip").exit_code == 1


def test_mv_and_cp_refuse_a_target_that_is_the_source_or_inside_it(shell: Shell) -> None:  # noqa: F811
    (shell.home / "d" / "sub").mkdir(parents=True)
    (shell.home / "d" / "a").write_bytes(b"a")
    (shell.home / "d" / "sub" / "b").write_bytes(b"b")
    for args in (
        ("mv", "d/a", "d/a"),
        ("mv", "d/a", "d/"),
        ("mv", "-r", "d", "d/sub/"),
        ("mv", "d/*", "d/"),
        ("cp", "-r", "d/", "d/"),
        ("cp", "d/**", "d/sub/"),
    ):
        refused = shell(*args)
        assert refused.exit_code == 2, args
        assert "TARGET" in refused.stderr and "inside it" in refused.stderr
    assert (shell.home / "d" / "a").read_bytes() == b"a"
    assert (shell.home / "d" / "sub" / "b").read_bytes() == b"b"
    assert sorted(p.name for p in (shell.home / "d").rglob("*")) == ["a", "b", "sub"]
