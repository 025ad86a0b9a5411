"""``nbsql serve``: Datasette on an nbsql database, read-only, with nbsql's metadata and plugin."""

from __future__ import annotations

import errno
import json
import socket
import threading
import webbrowser
from pathlib import Path

from .database import NbsqlError, connect, default_db, existing_database, opens_immutable
from .metadata import datasette_metadata

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
#: Datasette settings: arbitrary SQL keeps a time limit; facets stay quick on big tables and short
#: above the rows (their "…" lists every value); no suggested facets (each is a query per column:
#: they took 60% of /db/cells?_search=plot on the corpus).
SETTINGS = {"sql_time_limit_ms": 3000, "facet_time_limit_ms": 500, "max_returned_rows": 1000,
            "suggest_facets": False, "default_facet_size": 8}


def make_datasette(db: str | Path | None = None, metadata: str | Path | None = None):
    """A Datasette app on ``db`` (opened read-only by Datasette) with nbsql's metadata.

    ``metadata`` names a metadata.json to use instead (for example an edited copy of the
    repository's ``metadata.json``); by default it is generated from the schema.
    """
    from datasette.app import Datasette

    path = existing_database(db)
    connect(path).close()  # refuses a database that is not nbsql's, in one line
    document = datasette_metadata(path.stem)
    if metadata is not None:
        try:
            document = json.loads(Path(metadata).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise NbsqlError(f"cannot read metadata {metadata}: {exc}") from None
        databases = document.get("databases", {})
        if path.stem not in databases and len(databases) == 1:  # written for another file name
            document["databases"] = {path.stem: next(iter(databases.values()))}
    immutable = opens_immutable(path)
    return Datasette([] if immutable else [str(path)], immutables=[str(path)] if immutable else [],
                     metadata=document, settings=SETTINGS, cors=False)


def serve(db: str | Path | None = None, host: str = "127.0.0.1", port: int = 8001, open_browser: bool = False,
          metadata: str | Path | None = None, warn=print) -> None:
    """Serve until interrupted. Binding beyond this machine prints a warning; a port that cannot be
    had (taken, or an address not of this machine) is a one-line :class:`NbsqlError`, said before
    anything else."""
    import uvicorn

    datasette = make_datasette(db, metadata)
    sock = bind(host, port)
    if host not in LOCAL_HOSTS:
        warn(f"Warning: serving on {host}: anyone who can reach this machine can read the notebooks.")
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{sock.getsockname()[1]}/"
    warn(f"Serving {db or default_db()} at {url} (Ctrl+C to stop)")
    if open_browser:
        threading.Timer(1.0, webbrowser.open, [url]).start()
    app = datasette.app()
    config = uvicorn.Config(local_only(app) if host in LOCAL_HOSTS else app, log_level="warning")
    uvicorn.Server(config).run(sockets=[sock])


def bind(host: str, port: int) -> socket.socket:
    """A socket bound to ``host``:``port`` (0: any free port), or a one-line :class:`NbsqlError`."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: a port in TIME_WAIT is free
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        taken = " (another program is listening there: choose another with --port)" \
            if exc.errno == errno.EADDRINUSE else ""
        raise NbsqlError(f"cannot serve on {host} port {port}: {exc.strerror or exc}{taken}") from None
    return sock


def local_only(app):
    """Refuse requests naming another host: a web page whose name was pointed at 127.0.0.1 (DNS
    rebinding) could otherwise read the notebooks through the visitor's browser."""
    async def wrapped(scope, receive, send):
        if scope["type"] == "http":
            host = dict(scope.get("headers", [])).get(b"host", b"").decode("latin-1")
            name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
            if name.strip("[]") not in LOCAL_HOSTS:
                await send({"type": "http.response.start", "status": 421,
                            "headers": [(b"content-type", b"text/plain; charset=utf-8")]})
                await send({"type": "http.response.body", "body": b"This server answers only to localhost.\n"})
                return
        await app(scope, receive, send)

    return wrapped
