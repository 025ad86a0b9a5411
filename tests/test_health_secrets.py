"""NB109 (issue 14 point 4): what a secret is and where, masked in every format; outputs and
tracebacks read, base64 images and placeholders not."""

from __future__ import annotations

import json

import pytest

from nbsql.health.report import read_report, render

from nbsql import check

CLIENT_SECRET = "keZdvIa1Ge257NKEm3v-eGEdv8M"
AWS = "AKIAIOSFODNN7EXAMPLE"
GITHUB = "ghp_" + "A1b2" * 9


def _cell(source: str, *outputs: dict) -> dict:
    return {"cell_type": "code", "execution_count": 1, "metadata": {}, "outputs": list(outputs), "source": source}


@pytest.fixture
def leaky(tmp_path):
    cells = [
        _cell(f'import praw\nclient_secret = "{CLIENT_SECRET}"'),
        _cell('client_secret = "my-client-secret"\napi_key = "<your-key>"\npassword = os.environ["PASSWORD"]'),
        _cell("print(keys)", {"output_type": "stream", "name": "stdout", "text": f"id: {AWS}\n"}),
        _cell("connect()", {"output_type": "error", "ename": "AuthError", "evalue": f"refused: token = {GITHUB}",
                            "traceback": ["\x1b[0;31mAuthError\x1b[0m", f"  token = {GITHUB}"]}),
        _cell("log()", {"output_type": "stream", "name": "stderr", "text": f"WARNING aws_key={AWS}\n"}),
        _cell("show()", {"output_type": "display_data", "metadata": {},
                         "data": {"text/html": f'<img src="data:image/png;base64,iVBORw0KGgo{AWS}AAAA==">',
                                  "image/png": f"iVBORw0KGgo{AWS}AAAA=="}}),
    ]
    folder = tmp_path / "nbs"
    folder.mkdir()
    (folder / "reddit.ipynb").write_text(json.dumps({"cells": cells, "nbformat": 4, "nbformat_minor": 4, "metadata": {
        "kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"}}}))
    check([folder], db=tmp_path / "nb.db")
    return tmp_path / "nb.db"


def test_secrets_in_source_outputs_and_tracebacks_but_not_images_or_placeholders(leaky):
    rows = [r for r in read_report(db=leaky).rows if r.code == "NB109"]
    assert [(r.position, r.line, r.details["where"]) for r in rows] == [(0, 2, "source"), (2, None, "output"),
                                                                       (3, None, "output"), (4, None, "output")]
    assert rows[0].message == "the string assigned to `client_secret` looks like a secret ('keZd…', 27 characters)"
    assert rows[1].message == "the cell's output shows an AWS Access Key ('AKIA…', 20 characters)"
    assert rows[2].message.startswith("the cell's output shows a GitHub Token ('ghp_…'")  # in its evalue first


def test_a_secret_only_in_a_traceback_is_found(tmp_path):
    folder = tmp_path / "nbs"
    folder.mkdir()
    error = {"output_type": "error", "ename": "AuthError", "evalue": "refused", "traceback": [f"  token = {GITHUB}"]}
    (folder / "a.ipynb").write_text(json.dumps({"cells": [_cell("connect()", error)], "nbformat": 4,
                                                "nbformat_minor": 4, "metadata": {}}))
    rows = [r for r in check([folder], db=tmp_path / "nb.db").rows if r.code == "NB109"]
    assert [(r.position, r.details["where"]) for r in rows] == [(0, "traceback")]


@pytest.mark.parametrize("output_format", ["text", "json", "csv", "sarif", "github"])
def test_no_format_shows_a_secret_whole(leaky, output_format):
    shown = render(read_report(db=leaky).rows, output_format)
    assert "NB109" in shown and "keZd" in shown
    for secret in (CLIENT_SECRET, AWS, GITHUB):
        assert secret not in shown
