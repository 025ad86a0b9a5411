"""``/-/nbsql/rules`` and ``/-/nbsql/rules/<code>``: the health rules' documentation as pages,
read from the database's ``rules`` table (the rules that made its findings), with how often each fires."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from datasette.utils.asgi import Response

from . import render
from .links import notebook_url, rule_url
from .pages import _SECURITY_HEADERS, _database, _error_page, _time_limited

#: The documentation's sections: (column of the rules table, heading).
SECTIONS = (("what_it_does", "What it does"), ("why_bad", "Why is this bad?"), ("example", "Example"),
            ("use_instead", "Use instead"))
#: Notebooks listed under a rule, those with the most findings of it first.
SHOWN_NOTEBOOKS = 20


@_time_limited
async def rules_page(request, datasette):
    """Every rule with its severity, scope, summary and how many findings and notebooks it has."""
    db = await _database(datasette, request)
    rows = (await db.execute(
        "SELECT r.code, r.slug, r.severity, r.scope, r.summary, "
        "(SELECT count(*) FROM findings f WHERE f.rule = r.code) AS findings, "
        "(SELECT count(DISTINCT f.notebook) FROM findings f WHERE f.rule = r.code) AS notebooks "
        "FROM rules r ORDER BY r.code")).rows
    rules = [{**dict(row), "url": rule_url(datasette, db.name, row["code"])} for row in rows]
    html = await datasette.render_template("nbsql_rules.html", {"rules": rules, "database": db.name},
                                           request=request)
    return Response.html(html, headers=_SECURITY_HEADERS)


@_time_limited
async def rule_page(request, datasette):
    """One rule: its four sections as HTML (examples highlighted), its thresholds, and the
    notebooks where it fires, each linked to its first finding's cell."""
    db = await _database(datasette, request)
    code = request.url_vars["code"]
    rule = (await db.execute("SELECT * FROM rules WHERE code = ? OR slug = ?", [code, code])).first()
    if rule is None:
        return await _error_page(datasette, request, 404, "No such rule")
    sections = [(heading, render.markdown(rule[column])) for column, heading in SECTIONS if rule[column]]
    try:
        thresholds = json.loads(rule["thresholds"] or "{}")
    except ValueError:
        thresholds = {}
    counts = (await db.execute("SELECT count(*), count(DISTINCT notebook) FROM findings WHERE rule = ?",
                               [rule["code"]])).first()
    where = (await db.execute(
        "SELECT f.notebook, n.path, count(*) AS findings, min(f.position) AS first FROM findings f "
        "JOIN notebooks n ON n.id = f.notebook WHERE f.rule = ? GROUP BY f.notebook "
        "ORDER BY findings DESC, n.path LIMIT ?", [rule["code"], SHOWN_NOTEBOOKS])).rows
    notebooks = [{"path": row["path"], "findings": row["findings"],
                  "url": notebook_url(datasette, db.name, row["notebook"], row["first"])} for row in where]
    context = {"rule": dict(rule), "sections": sections, "thresholds": thresholds if isinstance(thresholds, dict)
               else {}, "findings": counts[0], "notebook_count": counts[1], "notebooks": notebooks,
               "database": db.name, "rules_url": datasette.urls.path("/-/nbsql/rules") + "?" + urlencode(
                   {"database": db.name}),
               "findings_url": datasette.urls.table(db.name, "findings") + "?" + urlencode({"rule": rule["code"]})}
    html = await datasette.render_template("nbsql_rule.html", context, request=request)
    return Response.html(html, headers=_SECURITY_HEADERS)
