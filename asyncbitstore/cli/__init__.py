"""The ``bitstore`` command (also ``python -m asyncbitstore``): a configured chain in a shell.

::

    bitstore put photo.jpg            # prints the key
    bitstore put --key img/1.png photo.jpg   # a named chain: the key is given
    bitstore get <key> -o copy.jpg    # streams; stdout without -o
    bitstore warm keys.txt            # prefetch into the caches, with a progress bar
    bitstore config show              # the chain in use, secrets masked

The chain comes from ``--config``, ``$BITSTORE_CONFIG``, ``./bitstore.toml`` or the user
config folder (see [`asyncbitstore.config`][asyncbitstore.config]); with none, a local file store.
Exit codes: 0
success, 1 not found, 2 usage or configuration error, 3 a tier unavailable. Needs the ``cli``
extra: ``pip install 'asyncbitstore[cli]'``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import IO, Any

try:
    import click
except ModuleNotFoundError as exc:  # pragma: no cover - depends on the installed extras
    raise SystemExit("bitstore needs click: pip install 'asyncbitstore[cli]'") from exc

from .._core.version import package_version
from ..compression.codecs import CODEC_NAMES
from . import _copy, _du, _head, _keys, _limits, _listing, _ops, _range, _show, _stats
from ._group import GlobalOptionsGroup
from ._run import App

__all__ = ["cli", "main"]

_VERSION = package_version()

_KEYS = click.argument("keys", nargs=-1)
_KEYS_FILE = click.option(
    "--keys-file",
    type=click.File("r"),
    metavar="FILE",
    help="Read the keys from FILE, one per line (- for stdin), instead of KEYS.",
)
_FORCE = click.option(
    "-f", "--force", is_flag=True, help="Write to stdout even when it is a terminal."
)


@click.group(cls=GlobalOptionsGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    help="Configuration file (default: $BITSTORE_CONFIG, ./bitstore.toml, the user's).",
)
@click.option(
    "--concurrency",
    type=click.IntRange(min=1),
    default=64,
    show_default=True,
    help="Blobs in flight at once in bulk commands.",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Progress bars on stderr, in bytes and blobs (default: when stderr is a terminal).",
)
@click.option(
    "--retries",
    type=click.IntRange(min=0),
    metavar="N",
    help="Retries of a failed request after the first attempt, for every tier "
    "(default: each tier's retry in the file, else 6).",
)
@click.option(
    "--timeout",
    callback=_limits.parse_timeout,
    metavar="SECONDS",
    help="Time budget of one operation, over all the tiers it asks, retries included "
    "(default: the file's operation_timeout and tier timeouts, else none).",
)
@click.option("--json", "json", is_flag=True, help="Machine-readable output (and errors).")
@click.option(
    "-v", "--verbose", count=True, help="Log to stderr, each retry included; -vv for debug."
)
@click.version_option(_VERSION, prog_name="bitstore")
@click.pass_context
def cli(ctx: click.Context, /, progress: bool | None, **options: Any) -> None:
    """Blobs through a tier chain: caches in front of sources, as configured.

    The options below may also be given after the command's name
    (`bitstore exists KEY --json`); given in both places, the later one wins.

    Bulk commands (warm, and cat, exists, rm with --keys-file) carry on past a bad line,
    report it as FILE:LINE on stderr and end with counts. Their exit code is the highest that
    applies: 1 a blob missing, 2 an invalid key, 3 a tier failed.
    """
    if progress is None:
        progress = sys.stderr.isatty()
    ctx.obj = App(progress=progress, **options)


@cli.command()
@click.argument("key")
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False), help="File to write (default: stdout)."
)
@_FORCE
@click.pass_obj
def get(app: App, key: str, output: str | None, force: bool) -> None:
    """Stream the blob KEY to stdout or to a file (written whole or not at all).

    Refuses to write to a terminal without --force: give -o FILE or a pipe.
    """
    app.run(lambda: _ops.get(app, key, output, force))


@cli.command()
@_KEYS
@click.option(
    "--range",
    "byte_range",
    callback=_range.parse_range,
    metavar="START-END",
    help="Only these bytes of each blob, as in HTTP: START-END (both included), START- "
    "(to the end) or -N (the last N bytes).",
)
@_KEYS_FILE
@_FORCE
@click.pass_obj
def cat(
    app: App,
    keys: tuple[str, ...],
    byte_range: _range.ByteRange | None,
    keys_file: IO[str] | None,
    force: bool,
) -> None:
    """Write the blobs KEYS (or those of --keys-file) to stdout, one after another.

    A blob that cannot be read is reported on stderr and skipped. Refuses to write to a
    terminal without --force.
    """
    app.run(lambda: _ops.cat(app, _keys.gather(keys, keys_file), byte_range, force))


@cli.command()
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(dir_okay=False, allow_dash=True, exists=True)
)
@click.option(
    "-k",
    "--key",
    metavar="KEY",
    help="Store the one FILE under KEY: a name in a named chain (img/1.png), a full URI in a "
    "plain chain (s3://bucket/a.png). Without it (content-addressed chains), each file is "
    "stored under its digest.",
)
@click.option(
    "--compress",
    type=click.Choice(CODEC_NAMES),
    help="Store each blob compressed with this codec (reads decode it; keys stay the digests "
    "of the files' bytes).",
)
@click.pass_obj
def put(app: App, files: tuple[str, ...], key: str | None, compress: str | None) -> None:
    """Store FILES (- for stdin) and print the key of each, in order.

    In a content-addressed chain the key is each file's digest. In a chain of names or URIs,
    give the key: `bitstore put --key img/1.png photo.png`.
    """
    app.run(lambda: _ops.put(app, list(files), key, compress))


@cli.command()
@_KEYS
@_KEYS_FILE
@click.pass_obj
def exists(app: App, keys: tuple[str, ...], keys_file: IO[str] | None) -> None:
    """Say whether each of KEYS (or those of --keys-file) is stored; exit 1 if any is
    missing."""
    app.run(lambda: _ops.exists(app, _keys.gather(keys, keys_file)))


@cli.command()
@_KEYS
@_KEYS_FILE
@click.pass_obj
def rm(app: App, keys: tuple[str, ...], keys_file: IO[str] | None) -> None:
    """Delete KEYS (or those of --keys-file) from every writable tier and cache (missing
    keys are fine); a KEY with wildcards (* ? [..] **) stands for the chain's keys it
    matches."""

    async def work() -> int:
        expanded = await _listing.expanded_keys(app, list(keys))
        return await _ops.rm(app, _keys.gather(expanded, keys_file))

    app.run(work)


@cli.command()
@click.argument("prefix", default="")
@click.option("-d", "--flat", is_flag=True, help="One level: keys, and sub-prefixes ending in /.")
@click.option("-l", "--long", is_flag=True, help="Each blob's size and modification time too.")
@click.pass_obj
def ls(app: App, prefix: str, flat: bool, long: bool) -> None:
    """List the keys under PREFIX, sorted, each once.

    A key prefix lists the chain's sources (caches are not listed): names in a named chain
    (img/), URIs in a plain chain, digests in a content-addressed chain. A local path (./data/)
    or a URI in the bucket of a configured tier (s3://bucket/logs/) lists that store directly,
    whichever tier it is and whatever its keys. Wildcards (* ? [..] **) list what matches.
    Nothing under PREFIX: said on stderr, exit 1.
    """
    app.run(lambda: _ops.ls(app, prefix, flat, long))


@cli.command(context_settings={"help_option_names": ["--help"]})
@click.argument("prefix", default="")
@click.option("-s", "--summarize", is_flag=True, help="The total only.")
@click.option("-h", "--human-readable", "human", is_flag=True, help="Sizes as 1.5 KiB, 20 MiB.")
@click.pass_obj
def du(app: App, prefix: str, summarize: bool, human: bool) -> None:
    """Bytes stored under PREFIX (a key prefix, URI, local path or pattern): each blob's size,
    then the total."""
    app.run(lambda: _du.du(app, prefix, summary=summarize, human=human))


@cli.command()
@click.argument("key")
@click.pass_obj
def head(app: App, key: str) -> None:
    """What the store knows about the blob KEY (a key, URI or local path) without reading it:
    size, etag, last_modified, content_type, version, metadata."""
    app.run(lambda: _head.head(app, key))


@cli.command()
@click.argument("keys_file", type=click.File("r"))
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    help="Run the prefetch on a Dask cluster (e.g. tcp://host:8786); needs asyncbitstore[dask].",
)
@click.pass_obj
def warm(app: App, keys_file: IO[str], scheduler: str | None) -> None:
    """Fetch every key in KEYS_FILE (one per line; - for stdin) so the caches hold them.

    A line that fails (an invalid key, a missing blob, a tier failing) is reported on stderr
    as KEYS_FILE:LINE and the others carry on; the counts end the run.
    """
    if scheduler is None:
        app.run(lambda: _ops.warm(app, _keys.gather((), keys_file)))
    app.run(lambda: _ops.warm_on_cluster(app, list(_ops.read_keys(keys_file)), scheduler))


_SOURCES = click.argument("sources", metavar="SOURCE...", nargs=-1, required=True)
_TARGET = click.argument("target", metavar="TARGET")


def _sources_to_target(verb: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    """The arguments of a command that takes SOURCE... TARGET and -r (``verb`` each source)."""
    recursive = click.option(
        "-r", "--recursive", is_flag=True, help=f"{verb} everything under each SOURCE."
    )

    def decorate(command: Callable[..., None]) -> Callable[..., None]:
        return _SOURCES(_TARGET(recursive(click.pass_obj(command))))

    return decorate


@cli.command()
@_sources_to_target("Copy")
def cp(app: App, sources: tuple[str, ...], target: str, recursive: bool) -> None:
    """Copy SOURCE to TARGET: URIs, local paths (from the working folder) or - (stdin as the
    source, stdout as the target).

    A SOURCE ending in / (or any SOURCE with -r) copies everything under it; wildcards
    (* ? [..] **) copy what matches. With several sources, or a TARGET ending in / or naming
    a local folder, each blob goes into TARGET under its name.
    """
    app.run(lambda: _copy.copy(app, sources, target, recursive=recursive))


@cli.command()
@_sources_to_target("Move")
def mv(app: App, sources: tuple[str, ...], target: str, recursive: bool) -> None:
    """Move SOURCE to TARGET: copy, then delete each source blob copied whole (paths as in cp)."""
    app.run(lambda: _copy.copy(app, sources, target, recursive=recursive, move=True))


@cli.command()
@click.argument("source", metavar="SOURCE_PREFIX")
@click.argument("target", metavar="TARGET_PREFIX")
@click.pass_obj
def sync(app: App, source: str, target: str) -> None:
    """Copy the blobs under SOURCE_PREFIX that TARGET_PREFIX lacks (or holds with another
    size); either may be a local folder or a URI."""
    app.run(lambda: _copy.copy(app, [source], target, sync=True))


@cli.command()
@click.option("--reset", is_flag=True, help="Forget the figures (says which file, how many tiers).")
@click.pass_obj
def stats(app: App, reset: bool) -> None:
    """Hits, misses, errors and latency per tier, summed over the runs of this configuration."""

    async def show() -> int:
        path = _stats.stats_file(app.config.origin)
        if reset:
            tiers = _stats.reset(path)
            app.emit(
                {"reset": str(path), "tiers": tiers},
                f"reset the figures of {tiers} tier{'' if tiers == 1 else 's'} in {path}",
            )
            return 0
        figures = _stats.load(path)
        app.emit(figures.as_dict(), figures.table() if figures.tiers else "no figures yet")
        return 0

    app.run(show)


@cli.group()
def config() -> None:
    """The configuration in use."""


@config.command("show")
@click.pass_obj
def config_show(app: App) -> None:
    """The resolved chain: where it was read from, each tier and its store (secrets masked)."""

    async def show() -> int:
        shown = _show.resolved(app.config)
        app.emit(shown, _show.as_toml(shown))
        return 0

    app.run(show)


def main(argv: Any = None) -> None:
    """The console script's entry point."""
    cli.main(args=argv, prog_name="bitstore")
