"""The ``nbsql`` command line: thin click commands over the library."""

from __future__ import annotations

import json
import sqlite3
import sys
import time
from contextlib import contextmanager
from typing import Iterator

import click

from . import __version__
from .database import DB_ENVIRONMENT_VARIABLE, DEFAULT_DB, NbsqlError
from .load import load as load_notebooks

DB_OPTION = click.option("--db", envvar=DB_ENVIRONMENT_VARIABLE, default=DEFAULT_DB, show_default=True,
                         type=click.Path(dir_okay=False),
                         help=f"Database file (or set ${DB_ENVIRONMENT_VARIABLE}).")


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn library errors into one-line messages with exit code 2."""
    try:
        yield
    except NbsqlError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    except sqlite3.Error as exc:  # locked, full disk, corrupted pages...
        click.echo(f"Error: database: {exc}", err=True)
        sys.exit(2)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="nbsql")
def cli() -> None:
    """Turn folders of Jupyter notebooks into a linked SQLite database."""


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@DB_OPTION
@click.option("--full", is_flag=True, help="Rebuild the database from scratch instead of refreshing it.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), help="Worker processes (default: all cores).")
@click.option("--exclude", multiple=True, metavar="GLOB",
              help="Skip files and folders whose relative path or name matches GLOB (repeatable).")
@click.option("--no-prune", is_flag=True, help="Keep notebooks whose files have vanished.")
@click.option("--follow-symlinks", is_flag=True, help="Descend into symlinked folders (loops are detected).")
@click.option("--strict", is_flag=True, help="Exit with 1 when any file failed to load.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary.")
def load(paths: tuple[str, ...], db: str, full: bool, jobs: int | None, exclude: tuple[str, ...], no_prune: bool,
         follow_symlinks: bool, strict: bool, quiet: bool) -> None:
    """Load every notebook below PATHS into the database (incrementally)."""
    show_bar = not quiet and sys.stderr.isatty()
    with _user_errors(), _progress_bar(show_bar) as progress:
        report = load_notebooks(paths, db, full=full, jobs=jobs, exclude=exclude, prune=not no_prune,
                                follow_symlinks=follow_symlinks, progress=progress)
    if not quiet:
        click.echo(f"{report.db}: {report.summary()}", err=True)
    if report.failed:
        if not quiet:
            first = report.errors[0]
            click.echo(f"{report.failed} file(s) could not be loaded, e.g. {first[0]}: {first[2]}; "
                       f"see the load_errors table", err=True)
        if strict:
            sys.exit(1)


@cli.command()
@click.option("--format", "output_format", type=click.Choice(["sql", "markdown", "metadata"]), default="sql",
              show_default=True, help="SQL statements, the README's Markdown tables, or Datasette metadata JSON.")
def schema(output_format: str) -> None:
    """Print the database schema, with a description of every table and column."""
    from . import schema as definitions

    if output_format == "metadata":
        click.echo(json.dumps(definitions.datasette_metadata(), indent=2, ensure_ascii=False))
    elif output_format == "markdown":
        click.echo(definitions.markdown(), nl=False)
    else:
        click.echo(";\n\n".join(definitions.schema_sql()) + ";")


@contextmanager
def _progress_bar(enabled: bool):
    if not enabled:
        yield None
        return
    with click.progressbar(length=0, label="Loading notebooks", file=sys.stderr) as bar:
        shown = 0.0

        def update(done: int, total: int) -> None:
            nonlocal shown
            if done == total or time.monotonic() - shown > 0.1:
                shown = time.monotonic()
                bar.length = total
                bar.update(done - bar.pos)

        yield update
