"""Every global option of ``bitstore`` works after the command's name too (the later wins),
for every command, nested ones and commands added later included."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import click
import pytest

from asyncbitstore.cli import cli
from asyncbitstore.cli._run import App
from tests.cli_local import Local


@pytest.fixture
def local(tmp_path: Path) -> Local:
    made = Local(tmp_path)
    made.write_config()
    return made


def test_json_after_the_command_is_the_same_as_before_it(local: Local) -> None:
    (a,) = local.store(b"alpha")
    before = local.run("--json", "exists", a, "f" * 40)
    after = local.run("exists", a, "f" * 40, "--json")
    assert before.exit_code == after.exit_code == 1
    assert json.loads(after.stdout) == json.loads(before.stdout) == {a: True, "f" * 40: False}


def test_config_after_the_command_chooses_the_file(local: Local) -> None:
    other = local.home / "other.toml"
    other.write_text(f'[[tier]]\nrole = "source"\nuri = "{local.home}/other/"\n')
    shown = local.run("config", "show", "--json", "--config", str(other))
    assert shown.exit_code == 0, shown.stderr
    assert json.loads(shown.stdout)["origin"] == str(other)


def test_retries_and_timeout_after_a_nested_command_reach_the_chain(local: Local) -> None:
    local.write_config(down=True)
    shown = local.run("--timeout", "5", "config", "show", "--timeout", "7")
    assert shown.exit_code == 0, shown.stderr
    assert "operation_timeout = 7.0" in shown.stdout  # the later --timeout wins
    bad = local.run("config", "show", "--timeout", "soon")
    assert bad.exit_code == 2 and "not a positive number of seconds" in bad.stderr
    assert local.run("config", "show", "--retries", "-1").exit_code == 2


def test_concurrency_progress_and_verbose_after_the_command(local: Local) -> None:
    (a,) = local.store(b"alpha")
    assert local.run("exists", a, "--concurrency", "0").exit_code == 2  # checked there too
    shown = local.run("--no-progress", "exists", a, "--progress")
    assert shown.exit_code == 0 and "checking" in shown.stderr
    hidden = local.run("--progress", "exists", a, "--no-progress")
    assert hidden.exit_code == 0 and "checking" not in hidden.stderr
    quiet = local.run("get", "not-a-key")
    handlers, level = list(logging.root.handlers), logging.root.level
    try:
        loud = local.run("get", "not-a-key", "-v")
    finally:  # -v set up logging to the runner's stderr, which is gone now
        logging.root.handlers[:], logging.root.level = handlers, level
    assert quiet.exit_code == loud.exit_code == 2
    assert "Traceback" in loud.stderr and "Traceback" not in quiet.stderr


FIELDS = ("config_path", "concurrency", "progress", "retries", "timeout", "json", "verbose")


def test_a_command_added_later_accepts_every_global_option(local: Local) -> None:
    seen: list[tuple[object, ...]] = []

    @cli.command("probe-options")
    @click.pass_obj
    def probe(app: App) -> None:
        seen.append(tuple(getattr(app, name) for name in FIELDS))

    everything = ["--config", "x.toml", "--concurrency", "3", "--progress", "--retries", "2"]
    everything += ["--timeout", "4.5", "--json", "-vv"]
    try:
        assert local.run("probe-options", *everything).exit_code == 0
        assert local.run(*everything, "probe-options").exit_code == 0
        assert local.run("--concurrency", "3", "probe-options", "--concurrency", "5").exit_code == 0
        assert local.run("--no-progress", "probe-options").exit_code == 0
    finally:
        del cli.commands["probe-options"]
    assert seen[0] == seen[1] == ("x.toml", 3, True, 2, 4.5, True, 2)
    assert seen[2][1] == 5
    assert seen[3] == (None, 64, False, None, None, False, 0)


def test_help_says_where_the_options_go(local: Local) -> None:
    top = local.run("--help")
    assert "later one wins" in " ".join(top.stdout.split())
    sub = local.run("exists", "--help")
    assert "--json" in sub.stdout and "--concurrency" in sub.stdout
