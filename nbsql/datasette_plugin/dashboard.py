"""``/-/nbsql/``: the corpus at a glance, charts drawn on the server in plain HTML and CSS (bars
are elements with a width or height; no script, no notebook content but names and numbers)."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from urllib.parse import urlencode

from datasette.utils.asgi import Response

from .links import notebook_url, rule_url
from .pages import _SECURITY_HEADERS, _database, _time_limited

#: Bars in each ranked chart.
TOP = 10
#: The execution-order table's kinds of notebook: (key, label, rule whose page explains it).
ORDERS = (("in_order", "in order (1, 2, 3, ...)", None), ("skips", "skips or starts late", "NB002"),
          ("out_of_order", "out of order", "NB001"), ("never_executed", "never executed", "NB007"),
          ("empty", "no code cells", None))
#: Each notebook's kind, from the execution counts of its code cells in notebook order.
EXECUTION_ORDER_SQL = """
WITH counted AS (
  SELECT notebook, execution_count AS n,
         lag(execution_count) OVER (PARTITION BY notebook ORDER BY position) AS before
  FROM cells WHERE cell_type = 'code' AND execution_count IS NOT NULL),
per AS (SELECT notebook, max(n < before) AS backwards, max(n > before + 1) AS gaps, min(n) AS first
        FROM counted GROUP BY notebook)
SELECT CASE WHEN coalesce(nb.code_cell_count, 0) = 0 THEN 'empty'
            WHEN per.notebook IS NULL THEN 'never_executed'
            WHEN per.backwards THEN 'out_of_order'
            WHEN per.gaps OR per.first > 1 THEN 'skips'
            ELSE 'in_order' END AS kind, count(*)
FROM notebooks nb LEFT JOIN per ON per.notebook = nb.id GROUP BY kind"""


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    share: float  # of the chart's largest value, 0-100
    href: str | None = None
    note: str = ""


def bars(rows, href=lambda row: None, note=lambda row: "") -> list[Bar]:
    """Ranked (label, value, ...) rows as bars scaled to the largest, each with a link and a note."""
    rows = list(rows)
    top = max((row[1] for row in rows), default=0) or 1
    return [Bar(str(row[0]), row[1], round(100 * row[1] / top, 1), href(row), note(row)) for row in rows]


def _facts(conn: sqlite3.Connection) -> dict:
    one = lambda sql: conn.execute(sql).fetchone()  # noqa: E731
    totals = one("SELECT (SELECT count(*) FROM notebooks), (SELECT coalesce(sum(cell_count), 0) FROM notebooks), "
                 "(SELECT count(*) FROM findings), (SELECT coalesce(sum(image_count), 0) FROM notebooks), "
                 "(SELECT count(*) FROM load_errors)")
    scores = dict(conn.execute("SELECT min(score / 10, 9), count(*) FROM notebook_health GROUP BY 1").fetchall())
    return {
        "totals": dict(zip(("notebooks", "cells", "findings", "images", "load_errors"), totals, strict=True)),
        "scores": [scores.get(bucket, 0) for bucket in range(10)],
        "rules": conn.execute("SELECT f.rule, count(*), r.slug, r.severity FROM findings f LEFT JOIN rules r "
                              "ON r.code = f.rule GROUP BY f.rule ORDER BY 2 DESC, 1 LIMIT ?", [TOP]).fetchall(),
        "packages": conn.execute("SELECT package, count(DISTINCT notebook) FROM imports WHERE NOT is_stdlib AND "
                                 "package IS NOT NULL AND kind NOT IN ('pip', 'conda') GROUP BY package "
                                 "ORDER BY 2 DESC, 1 LIMIT ?", [TOP]).fetchall(),
        "languages": conn.execute("SELECT coalesce(language, '(unknown)'), count(*) FROM notebooks GROUP BY 1 "
                                  "ORDER BY 2 DESC, 1 LIMIT ?", [TOP]).fetchall(),
        "kernels": conn.execute("SELECT coalesce(kernel_name, '(none)'), count(*) FROM notebooks GROUP BY 1 "
                                "ORDER BY 2 DESC, 1 LIMIT ?", [TOP]).fetchall(),
        "orders": dict(conn.execute(EXECUTION_ORDER_SQL).fetchall()),
        "largest": conn.execute("SELECT path, size, id, cell_count FROM notebooks ORDER BY size DESC LIMIT ?",
                                [TOP]).fetchall(),
    }


@_time_limited
async def dashboard_page(request, datasette):
    """Health scores, frequent rules, imported packages, languages and kernels, execution order and
    the largest notebooks, each bar a link to the rows behind it."""
    db = await _database(datasette, request)
    facts = await db.execute_fn(_facts)
    name = db.name

    def table(table_name: str, **filters) -> str:
        return datasette.urls.table(name, table_name) + ("?" + urlencode(filters) if filters else "")

    health = table("notebook_health")
    top_score = max(facts["scores"]) or 1
    scores = [{"label": f"{10 * b}–{10 * b + 9}" if b < 9 else "90–100", "value": count,
               "share": round(100 * count / top_score, 1),
               "href": f"{health}?{urlencode({'score__gte': 10 * b, 'score__lt': 10 * b + 10 if b < 9 else 101})}"}
              for b, count in enumerate(facts["scores"])]
    notebooks = facts["totals"]["notebooks"] or 1
    orders = [{"label": label, "value": facts["orders"].get(key, 0),
               "share": round(100 * facts["orders"].get(key, 0) / notebooks, 1),
               "href": rule_url(datasette, name, rule) if rule else table("notebooks", code_cell_count=0)
               if key == "empty" else None, "key": key} for key, label, rule in ORDERS]
    charts = {
        "rules": bars(facts["rules"], lambda row: rule_url(datasette, name, row[0]),
                      lambda row: f"{row[2] or ''} · {row[3] or ''}"),
        "packages": bars(facts["packages"], lambda row: datasette.urls.path(f"/{name}/notebooks_importing") +
                         "?" + urlencode({"package": row[0]})),
        "languages": bars(facts["languages"], lambda row: table("notebooks", language=row[0])),
        "kernels": bars(facts["kernels"], lambda row: table("notebooks", kernel_name=row[0])),
        "largest": bars(facts["largest"], lambda row: notebook_url(datasette, name, row[2]),
                        lambda row: f"{row[3]:,} cells"),
    }
    context = {"database": name, "totals": facts["totals"], "scores": scores, "orders": orders, "charts": charts,
               "health_url": health, "findings_url": table("findings"), "notebooks_url": table("notebooks"),
               "errors_url": table("load_errors")}
    html = await datasette.render_template("nbsql_dashboard.html", context, request=request)
    return Response.html(html, headers=_SECURITY_HEADERS)
