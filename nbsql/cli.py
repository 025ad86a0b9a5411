"""The ``nbsql`` command line: thin click commands over the library."""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager

import click

from . import __version__
from .database import DB_ENVIRONMENT_VARIABLE, DEFAULT_DB, NbsqlError, another_load_running, connect, damaged, is_damage
from .health.choices import FAIL_ON, FORMATS, SEVERITIES

DB_OPTION = click.option("--db", envvar=DB_ENVIRONMENT_VARIABLE, default=DEFAULT_DB, show_default=True,
                         type=click.Path(dir_okay=False),
                         help=f"Database file (or set ${DB_ENVIRONMENT_VARIABLE}).")

CONFIG_OPTION = click.option("--config", type=click.Path(exists=True, dir_okay=False),
                             help="Settings file (default: nbsql.toml or [tool.nbsql] in pyproject.toml, "
                                  "searched from the working directory up).")


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn library errors into one-line messages with exit code 2."""
    try:
        yield
    except NbsqlError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    except sqlite3.Error as exc:  # locked, full disk, damaged pages...
        damage = isinstance(exc, sqlite3.DatabaseError) and is_damage(exc)
        click.echo(f"Error: {damaged('the database', str(exc)) if damage else f'database: {exc}'}", err=True)
        sys.exit(2)


@contextmanager
def _loading(announce_waits_on: str | None) -> Iterator[None]:
    """Around a load: first, saying when it waits for another load of the database
    ``announce_waits_on``; then Ctrl-C gives one line saying the database is sound, and exit 130
    (as shells report SIGINT)."""
    if announce_waits_on and another_load_running(announce_waits_on):
        click.echo(f"Waiting for another load of {announce_waits_on} to finish...", err=True)
    try:
        yield
    except KeyboardInterrupt:
        click.echo("Interrupted: the database keeps what was committed (a first load commits only at its end); "
                   "the same command run again finishes the load.", err=True)
        sys.exit(130)


def _emit(text: str, path: str = "-") -> None:
    """Write a report to stdout or ``path``: a file that cannot be written is a one-line error
    (exit 2), a reader closing the pipe an exit 1; either way, nothing more is written at exit."""
    try:
        if path == "-":
            sys.stdout.write(text)
            sys.stdout.flush()
        else:
            with open(path, "w", encoding="utf-8") as out:
                out.write(text)
    except OSError as exc:
        if path == "-":  # drop what is still buffered, which Python would try to flush again at exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        if isinstance(exc, BrokenPipeError):  # the reader left (| head)
            sys.exit(1)
        where = "the output" if path == "-" else path
        click.echo(f"Error: cannot write {where}: {exc.strerror or exc}", err=True)
        sys.exit(2)


REPORT_OPTION = click.option("--report", metavar="FILE.ipynb",
                             help="Write the results shown into a notebook: each cell with its saved outputs and "
                             "where it comes from (nothing is run).")
LINK_BASE_OPTION = click.option("--link-base", metavar="URL", default="http://127.0.0.1:8001", show_default=True,
                                help="Address of 'nbsql serve' that the report's links lead to.")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="nbsql")
def cli() -> None:
    """Turn folders of Jupyter notebooks into a linked SQLite database."""


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(readable=False))  # unreadable: a load error
@DB_OPTION
@click.option("--full", is_flag=True, help="Rebuild the database from scratch instead of refreshing it.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), help="Worker processes (default: all cores; with "
              "--dask local, its workers).")
@click.option("--exclude", multiple=True, metavar="GLOB",
              help="Skip files and folders whose relative path or name matches GLOB (repeatable).")
@click.option("--no-prune", is_flag=True, help="Keep notebooks whose files have vanished.")
@click.option("--follow-symlinks", is_flag=True, help="Descend into symlinked folders (loops are detected).")
@click.option("--no-checks", is_flag=True, help="Do not run the health rules while loading.")
@CONFIG_OPTION
@click.option("--dask", metavar="ADDRESS", help="Run the per-file work on a Dask cluster: its scheduler's address "
              "(tcp://HOST:PORT; the workers read the files by the same paths), or local[:N] for N worker processes "
              "here. Needs pip install 'nbsql[dask]'.")
@click.option("--strict", is_flag=True, help="Exit with 1 when any file failed to load.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary.")
def load(paths: tuple[str, ...], db: str, full: bool, jobs: int | None, exclude: tuple[str, ...], no_prune: bool,
         follow_symlinks: bool, no_checks: bool, config: str | None, dask: str | None, strict: bool,
         quiet: bool) -> None:
    """Load every notebook below PATHS into the database (incrementally)."""
    show_bar = not quiet and sys.stderr.isatty()
    with _user_errors(), _loading(None if quiet else db), _progress_bar(show_bar) as progress:
        from .health.config import load_settings
        from .load import LoadOptions, run  # its libraries' versions are checked on import

        options = LoadOptions.of(full=full, jobs=jobs, exclude=exclude, prune=not no_prune,
                                 follow_symlinks=follow_symlinks, checks=not no_checks,
                                 settings=None if no_checks else load_settings(config), dask=dask)
        report = run(paths, db, options, progress)
    if not quiet:
        click.echo(f"{report.db}: {report.summary()}", err=True)
    if report.failed:
        if not quiet:
            first = report.errors[0]
            click.echo(f"{report.failed} file(s) could not be loaded, e.g. {_shown(first[0])}: {first[2]}; "
                       f"see the load_errors table", err=True)
        if strict:
            sys.exit(1)


def _shown(path: str) -> str:
    """``path`` relative to the working directory when it is below it, as the user would type it."""
    relative = os.path.relpath(path) if os.path.isabs(path) else path
    return path if relative.startswith(os.pardir) else relative


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(readable=False))
@DB_OPTION
@click.option("--select", multiple=True, metavar="RULES", help="Only these rules: codes, slugs or prefixes "
              "(comma-separated or repeated).")
@click.option("--ignore", multiple=True, metavar="RULES", help="Leave out these rules (codes, slugs or prefixes).")
@click.option("--severity", type=click.Choice(SEVERITIES), default="info", show_default=True,
              help="Lowest severity shown.")
@click.option("--fail-on", type=click.Choice(FAIL_ON), help="Lowest severity that makes the exit code 1 "
              "[default: warning, or fail-on from the configuration].")
@click.option("--format", "output_format", type=click.Choice(FORMATS), default="text", show_default=True,
              help="Output format.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, allow_dash=True), default="-",
              help="Write the report to a file.")
@click.option("--statistics", is_flag=True, help="Counts and shares of notebooks per rule instead of findings.")
@CONFIG_OPTION
@click.option("--jobs", "-j", type=click.IntRange(min=1), help="Worker processes for loading PATHS.")
def health(paths: tuple[str, ...], db: str, select: tuple[str, ...], ignore: tuple[str, ...], severity: str,
           fail_on: str | None, output_format: str, output: str, statistics: bool, config: str | None,
           jobs: int | None) -> None:
    """Check notebooks. With PATHS, load them first (incrementally); without, report the database.

    Exit code 0 when no finding reaches the failing severity, 1 when one does, 2 on errors.
    """
    with _user_errors(), _loading(db if paths else None):
        from .api import check
        from .health import registry, report
        from .health.config import load_settings

        settings = load_settings(config).override(select=_split(select), ignore=_split(ignore), fail_on=fail_on)
        try:
            settings.enabled()
        except KeyError as exc:
            raise NbsqlError(f"unknown rule selector {exc.args[0]!r} (see 'nbsql rules')") from None
        result = check(paths, db, settings=settings, severity=severity, jobs=jobs)
    if result.unchecked:
        click.echo(f"Warning: {result.unchecked} notebook(s) were loaded with --no-checks and have no findings; "
                   "give their paths to 'nbsql health' to check them.", err=True)
    if result.corpus_outdated:
        codes = ", ".join(r.code for r in registry.ordered("corpus"))
        click.echo(f"Warning: the notebooks changed after the corpus-wide rules ({codes}) last ran; give paths to "
                   "'nbsql health' to run them.", err=True)
    if result.stale:
        click.echo(f"Warning: {result.stale} notebook(s) were checked with other rules or thresholds; give their "
                   "paths to 'nbsql health' to check them again.", err=True)
    if statistics:
        stats = report.statistics(result.rows, result.notebooks)
        _emit(report.render_statistics(stats, result.notebooks, output_format, result.figures), output)
    else:
        _emit(report.render(result.rows, output_format), output)
    sys.exit(1 if result.failed else 0)


@cli.command("run")
@click.argument("paths", nargs=-1, required=True, type=click.Path(readable=False))
@DB_OPTION
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=1, show_default=True,
              help="Notebooks run at once (one kernel each).")
@click.option("--timeout-cell", type=click.FloatRange(min=0, min_open=True), default=600, show_default=True,
              metavar="SECONDS", help="Longest a cell may run.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), default=3600, show_default=True,
              metavar="SECONDS", help="Longest a notebook may run.")
@click.option("--kernel", metavar="NAME", help="Run every notebook in this kernel instead of the one its kernelspec "
              "names.")
@click.option("--parameter", "-p", "parameters", nargs=2, multiple=True, metavar="NAME VALUE",
              help="Inject a parameter after the cell tagged parameters (papermill's convention; numbers, True, "
                   "False and None are read as such). Repeatable.")
@click.option("--order", type=click.Choice(["cells", "counts"]), default="cells", show_default=True,
              help="Run cells top to bottom, or in their saved execution-count order (notebooks whose counts are "
                   "ambiguous are then not run).")
@click.option("--changed-only", is_flag=True, help="Run only notebooks whose file changed since their last run "
              "in this order.")
@click.option("--network", is_flag=True, help="Give the runs the machine's network (by default they get none where "
              "the OS allows a network namespace).")
@click.option("--memory", type=click.FloatRange(min=0, min_open=True), default=8, show_default=True, metavar="GB",
              help="Address-space limit of each kernel (RLIMIT_AS), in GiB.")
@click.option("--statistics", is_flag=True, help="Then print the outcome of the notebooks' latest runs, as Pimentel "
              "et al. counted them: ran without error, same results, and each failure class.")
@CONFIG_OPTION
@click.option("--strict", is_flag=True, help="Exit with 1 when a notebook did not run without error.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bar and no summary.")
def run_command(paths: tuple[str, ...], db: str, jobs: int, timeout_cell: float, timeout: float, kernel: str | None,
                parameters: tuple[tuple[str, str], ...], order: str, changed_only: bool, network: bool,
                memory: float, statistics: bool, config: str | None, strict: bool, quiet: bool) -> None:
    """Run the notebooks below PATHS (loaded first, incrementally), each in a throw-away copy of its folder,
    and record whether they run and reproduce their saved outputs (executions, execution_cells).

    Exit code 0 when every notebook was run, whatever its outcome; 1 with --strict when one failed;
    2 on usage errors. Needs pip install 'nbsql[run]'.
    """
    show_bar = not quiet and sys.stderr.isatty()
    with _user_errors(), _running(), _progress_bar(show_bar, "Running notebooks") as progress:
        from .execute import RunOptions, run_with
        from .execute.kernel import parameter_value
        from .health.config import load_settings

        options = RunOptions(jobs=jobs, cell_timeout=timeout_cell, timeout=timeout, kernel=kernel,
                             parameters=tuple((name, parameter_value(value)) for name, value in parameters),
                             order=order, changed_only=changed_only, network=network,
                             memory_limit=int(memory * 1024 ** 3), settings=load_settings(config))
        report = run_with(paths, db, options, progress)
    if not quiet:
        click.echo(f"{report.db}: {report.summary()}", err=True)
    if statistics:
        from .execute.statistics import render
        from .execute.statistics import statistics as figures

        with _user_errors(), closing(connect(db)) as conn:
            _emit(render(figures(conn, report.notebooks)))
    if strict and report.failed:
        sys.exit(1)


@contextmanager
def _running() -> Iterator[None]:
    """Ctrl-C during a run: the kernels are killed, the finished runs kept; exit 130."""
    try:
        yield
    except KeyboardInterrupt:
        click.echo("Interrupted: the kernels were stopped; the runs that had finished are recorded.", err=True)
        sys.exit(130)


@cli.command()
@click.argument("rule", required=False)
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Output format.")
def rules(rule: str | None, output_format: str) -> None:
    """List the health rules, or print the documentation of RULE (a code or slug)."""
    from .health import registry

    if rule:
        with _user_errors():
            found = registry.find(rule)
            if found is None:
                raise NbsqlError(f"no rule {rule!r} (see 'nbsql rules')")
        if output_format == "json":
            click.echo(json.dumps(_rule_json(found), indent=2))
        else:
            click.echo(f"{found.code} {found.slug} ({found.severity}, {found.scope})\n\n{found.summary}.\n\n"
                       f"{found.doc}\n" + (f"\nThresholds: {json.dumps(found.thresholds)}\n" if found.thresholds
                                           else ""))
        return
    listed = list(registry.ordered())
    if output_format == "json":
        click.echo(json.dumps([_rule_json(r) for r in listed], indent=2))
        return
    for item in listed:
        click.echo(f"{item.code}  {item.slug:30} {item.severity:8} {item.scope:9} {item.summary}")


def _rule_json(rule) -> dict:
    return {"code": rule.code, "slug": rule.slug, "severity": rule.severity, "scope": rule.scope,
            "python_only": rule.python_only, "summary": rule.summary, "thresholds": rule.thresholds,
            "documentation": rule.doc}


def _split(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(v.strip() for value in values for v in value.split(",") if v.strip())


@cli.command()
@click.argument("query", default="")
@DB_OPTION
@click.option("--path", metavar="GLOB", help="Only notebooks whose path matches GLOB (a plain word matches "
              "anywhere in the path).")
@click.option("--language", help="Only notebooks in this language (python, r, julia...).")
@click.option("--imports", metavar="MODULE", help="Only notebooks that import MODULE (or a submodule of it).")
@click.option("--limit", "-n", type=click.IntRange(min=1), default=60, show_default=True,
              help="Most cells put in the report.")
@REPORT_OPTION
@LINK_BASE_OPTION
def gallery(query: str, db: str, limit: int, report: str | None, link_base: str, **filters) -> None:
    """List the code cells with image outputs whose source, output or the markdown just above them
    matches QUERY (as nbsql search reads it), or gather their charts into a --report notebook.
    Exit code 1 when there are none."""
    from .reports import ReportOptions, check_report_path, gallery_report, write_report
    from .reports.gallery import gallery_totals, showing
    from .search import Filters

    with _user_errors(), closing(connect(db)) as conn:
        if report:
            check_report_path(report)
        notebook, found = gallery_report(conn, query, Filters(**filters), limit, ReportOptions(link_base))
        if report and found:
            write_report(notebook, report)
    lines = [f"{item.path}:cell {item.position} ({item.images} image{'s' if item.images != 1 else ''}"
             f"{'; the markdown above matches' if item.via_markdown else ''})" for item in found[:limit]]
    total = gallery_totals(found)
    if report:
        lines = [total + (f"; {min(limit, len(found)):,} cells in the report written to {report}" if found else
                          "; no report written")]
    else:
        lines.append(f"{total}; {showing(0, min(limit, len(found)))}." if found else "No cell matches.")
    _emit("\n".join(lines) + "\n")
    sys.exit(0 if found else 1)


@cli.command()
@DB_OPTION
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to bind; anything beyond this machine prints a warning.")
@click.option("--port", "-p", type=click.IntRange(0, 65535), default=8001, show_default=True, help="Port.")
@click.option("--open", "open_browser", is_flag=True, help="Open the browser.")
@click.option("--metadata", "-m", type=click.Path(exists=True, dir_okay=False),
              help="A Datasette metadata.json to use instead of the one generated from the schema.")
def serve(db: str, host: str, port: int, open_browser: bool, metadata: str | None) -> None:
    """Explore the database in Datasette (read-only, with notebook-aware pages)."""
    from .serve import serve as run_server

    with _user_errors():
        run_server(db, host=host, port=port, open_browser=open_browser, metadata=metadata,
                   warn=lambda m: click.echo(m, err=True))


@cli.command()
@click.argument("query", default="")
@DB_OPTION
@click.option("--type", "cell_type", type=click.Choice(["code", "markdown", "raw"]), help="Only cells of this type.")
@click.option("--regex", is_flag=True, help="QUERY is a regular expression over cell sources and output texts, "
              "in RE2 syntax (linear time; no backreferences or lookaround; ^ and $ match at each line).")
@click.option("--path", metavar="GLOB", help="Only notebooks whose path matches GLOB (a plain word matches "
              "anywhere in the path).")
@click.option("--tag", help="Only cells carrying this tag.")
@click.option("--language", help="Only notebooks in this language (python, r, julia...).")
@click.option("--errors/--no-errors", "has_error", default=None, help="Only cells with (or without) an error "
              "output.")
@click.option("--imports", metavar="MODULE", help="Only notebooks that import MODULE (or a submodule of it).")
@click.option("--defines", metavar="NAME", help="Only cells that define a function, class or variable NAME.")
@click.option("--calls", metavar="NAME", help="Only cells that call NAME, alone or dotted (read_csv finds "
              "pd.read_csv).")
@click.option("--has-image", "has_image", is_flag=True, default=None, help="Only cells with an image output.")
@click.option("--limit", "-n", type=click.IntRange(min=1), default=20, show_default=True, help="Most hits shown.")
@click.option("--offset", type=click.IntRange(min=0), default=0, help="Hits to skip (the next page).")
@click.option("--context", "-C", type=click.IntRange(min=0), default=2, show_default=True,
              help="Lines of context around the match.")
@click.option("--timeout", type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
              help="Seconds the search may take before it stops with an error (exit 2).  [default: 5]")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Output format.")
@REPORT_OPTION
@click.option("--runnable", is_flag=True, help="With --report: put before each result the cells of its slice "
              "that the report does not hold yet (marked as context), so that it runs top to bottom.")
@LINK_BASE_OPTION
def search(query: str, db: str, regex: bool, limit: int, offset: int, context: int, timeout: float | None,
           output_format: str, report: str | None, runnable: bool, link_base: str, **filters) -> None:
    """Search cells' sources and outputs: full-text, ranked, or --regex; narrowed by filters (an
    empty QUERY with filters lists the cells they keep). Copies of a cell are one hit.

    QUERY's terms are all required: a word matches in any case and accents (csv finds read_csv),
    word* its prefix, "a phrase" its words in order, and anything else is code, matched as written
    (read_csv, pd.read_csv, @time, %timeit, !pip; read_* for names starting so; in any case unless
    it holds a capital). At most 64 distinct words and 1,000 characters. Exit code 1 when nothing
    is found, 2 on errors (a query beyond these bounds, or a search past its time limit).
    """
    from . import search as cells

    with _user_errors():
        if runnable and not report:
            raise click.UsageError("--runnable needs --report FILE.ipynb")
        if report:
            from .reports import check_report_path

            check_report_path(report)
        chosen = cells.Filters(**filters)
        results = cells.search(query, db, filters=chosen, regex=regex, limit=limit, offset=offset,
                               context=context, timeout=cells.DEFAULT_TIMEOUT if timeout is None else timeout)
        if report and results.hits:
            from .reports import ReportOptions, search_report, write_report

            with closing(connect(db)) as conn:
                write_report(search_report(conn, results, ReportOptions(link_base, runnable), chosen.describe()),
                             report)
    _emit(cells.render_json(results) if output_format == "json" else
          cells.render_text(results, color=sys.stdout.isatty() and not os.environ.get("NO_COLOR")))
    if report:
        click.echo(f"Report written to {report}." if results.hits else "No report written.", err=True)
    sys.exit(0 if results.total_cells else 1)


@cli.command("slice")
@click.argument("notebook")
@click.argument("cell", type=click.IntRange(min=0))
@DB_OPTION
@click.option("--output", "-o", type=click.Path(dir_okay=False, allow_dash=True),
              help="Also write the slice as a notebook (.ipynb) to FILE ('-': to stdout, instead of the positions).")
def slice_(notebook: str, cell: int, db: str, output: str | None) -> None:
    """Print the positions of the cells CELL needs to run, directly or through others, then CELL's:
    its slice, in notebook order.

    NOTEBOOK is a loaded notebook's path (as loaded, or as stored) or its id; CELL a code cell's
    0-based position over all cells. The notebook written by --output holds those cells, without
    outputs, under the notebook's kernelspec.
    """
    from .deps.slice import cell_slice

    with _user_errors():
        found = cell_slice(notebook, cell, db)
    if output == "-":
        _emit(found.ipynb())
        return
    if output:
        _emit(found.ipynb(), output)
    _emit(" ".join(map(str, found.positions)) + "\n")


@cli.command()
@click.option("--format", "output_format", type=click.Choice(["sql", "markdown", "metadata"]), default="sql",
              show_default=True, help="SQL statements, the README's Markdown tables, or Datasette metadata JSON.")
def schema(output_format: str) -> None:
    """Print the database schema, with a description of every table and column."""
    from . import schema as definitions
    from .metadata import datasette_metadata

    if output_format == "metadata":
        click.echo(json.dumps(datasette_metadata(), indent=2, ensure_ascii=False))
    elif output_format == "markdown":
        click.echo(definitions.markdown(), nl=False)
    else:
        click.echo(";\n\n".join(definitions.schema_sql()) + ";")


@contextmanager
def _progress_bar(enabled: bool, label: str = "Loading notebooks"):
    if not enabled:
        yield None
        return
    with click.progressbar(length=0, label=label, file=sys.stderr) as bar:
        shown = 0.0

        def update(done: int, total: int) -> None:
            nonlocal shown
            if done == total or time.monotonic() - shown > 0.1:
                shown = time.monotonic()
                bar.length = total
                bar.update(done - bar.pos)

        yield update
