"""Memory bounded by the input: a large output is not copied over and over on its way to SQLite."""

from __future__ import annotations

import json
import random
import sys

import pytest

from nbsql import read, rows
from nbsql.model import NotebookError
from nbsql.read import parse_json_repaired

from .conftest import CORPUS, REPO, SAMPLES, notebook_files

sys.path.insert(0, str(REPO / "benchmarks"))
from bench_memory import TARGET, peak_mb, write_notebook  # noqa: E402


@pytest.mark.parametrize("kind, mib", [("plain", 60), ("short", 20), ("emoji", 100)])
def test_peak_memory_is_at_most_three_times_the_file(tmp_path, kind, mib):
    """A load of a notebook that is nearly all one output peaks at most at 3x the file above a
    tiny notebook's load: 60 MiB of a result's text/plain (stored in outputs and output_data; it
    took 8x), 20 MiB of 8-character lines (a str per line; it took 11x), 100 MiB of lines with an
    emoji (4 bytes a character as a str, the ASCII too; it took 4.5x: now the constant is the text
    cut at 16 Mi characters, held by a few stages, about 250 MiB)."""
    tiny, large = tmp_path / "tiny.ipynb", tmp_path / "large.ipynb"
    write_notebook(tiny, 0.01, kind)
    size = write_notebook(large, mib, kind) / 2 ** 20
    baseline = peak_mb(tiny, tmp_path / "tiny.db")[0]
    peak = peak_mb(large, tmp_path / "large.db")[0]
    assert peak <= TARGET * size + baseline, f"peak {peak:.0f} MiB for a {size:.0f} MiB file (baseline {baseline:.0f})"


def outcome(data: bytes | bytearray):
    """What reading ``data`` gives (a bytearray as the loader reads a file): the error, or the
    notebook and the JSON as normalise leaves it."""
    try:
        raw, repairs = read.parse_buffer(data) if isinstance(data, bytearray) else parse_json_repaired(data)
        return read.normalise(raw, repairs), raw
    except NotebookError as exc:
        return exc.kind, exc.message


def lines(count: int, width: int = 12) -> list[str]:
    return [f"{i:>{width}}\n" for i in range(count)]


V4 = {"nbformat": 4, "nbformat_minor": 5, "metadata": {"list": lines(50)}, "cells": [
    {"cell_type": "code", "id": "a", "metadata": {}, "execution_count": 1, "source": lines(50), "outputs": [
        {"output_type": "stream", "name": "stdout", "text": lines(50)},
        {"output_type": "execute_result", "execution_count": 1, "metadata": {},
         "data": {"text/plain": lines(50), "application/json": lines(50), "text/html": ["<b>", 1]}},
        {"output_type": "error", "ename": "E", "evalue": "v", "traceback": lines(50)}]},
    {"cell_type": "markdown", "metadata": {}, "source": lines(50), "outputs": [{"text": lines(50)}],
     "attachments": {"a.txt": {"text/plain": lines(50)}}}]}
HOSTILE = [
    json.dumps(V4),
    json.dumps(V4, indent=1),
    json.dumps({**V4, "nbformat": 3, "worksheets": [{"cells": [{"cell_type": "code", "input": lines(50)}]}]}),
    json.dumps(V4).replace('"metadata": {"list"', '"metadata": {"list": [1], "list"'),  # a duplicate key
    json.dumps(V4).replace('"source"', '"source": ["x\\ud800"], "source"'),  # a lone surrogate escape
    json.dumps(V4).replace('"nbformat_minor": 5', '"nbformat_minor": NaN'),
    json.dumps(V4).replace('"metadata": {"list": ', '"metadata": {"list": ["a", "b"], '),  # an array as a key
    json.dumps(V4).replace('   5\\n"', '   5\\q"'),  # an escape JSON does not have
    json.dumps(V4).replace('   5\\n"', '   5\n"'),  # a raw line break in a string
    json.dumps(V4).replace('   5\\n"', '   5\\"'),  # a string that does not end where it seems to
    json.dumps(V4)[:-100],
    json.dumps(V4) + "]",
    "[" * 100_000 + "]" * 100_000,
]


@pytest.mark.parametrize("wide", [False, True], ids=["narrow", "wide"])
@pytest.mark.parametrize("text", HOSTILE, ids=range(len(HOSTILE)))
def test_a_large_file_is_read_as_any_other(monkeypatch, text, wide):
    """A large file's text is parsed with its long arrays of strings apart: the same notebook, the
    same JSON after normalising (its multiline strings joined), the same error; with characters
    beyond U+00FF in its strings too (read from the bytes, not decoded whole)."""
    monkeypatch.setattr(read, "LARGE_FILE", 0)
    monkeypatch.setattr(read, "_CUT_ARRAY", 100)
    data = (text.replace('0\\n"', '\u2588\\n"') if wide else text).encode()
    assert not wide or '"' not in text or "\u2588".encode() in data
    assert outcome(bytearray(data)) == outcome(data)


def long_text(rng: random.Random, size: int) -> str:
    """Text of every kind of character JSON escapes or not, surrogate pairs included."""
    alphabet = ["x", " ", "é", "\u2588", "\U0001f600", "\n", '"', "\\", "\t", "/", "\u00bf"]
    return "".join(rng.choice(alphabet) * rng.randrange(1, 600) for _ in range(size // 300))


@pytest.mark.parametrize("ascii_only", [True, False], ids=["escaped", "raw"])
def test_long_strings_are_decoded_in_pieces_as_a_whole(monkeypatch, ascii_only):
    """Strings over a MiB are decoded in pieces that split no character, escape or surrogate pair."""
    monkeypatch.setattr(read, "LARGE_FILE", 0)
    rng = random.Random(5)
    text = long_text(rng, 3 * 2 ** 20)
    lines = [text[i:i + 400_000] for i in range(0, len(text), 400_000)]
    notebook = {**V4, "cells": [{"cell_type": "code", "id": "a", "metadata": {}, "execution_count": 1,
                                 "source": lines, "outputs": [
                                     {"output_type": "stream", "name": "stdout", "text": text},
                                     {"output_type": "stream", "name": "stdout", "text": [text, "end"]}]}],
                "metadata": {"long": text}}
    data = json.dumps(notebook, ensure_ascii=ascii_only).encode()
    read_whole = outcome(data)
    monkeypatch.setattr(read, "parse_json_repaired", None)  # no second reading of the whole
    assert outcome(bytearray(data)) == read_whole
    assert read_whole[0].cells[0].outputs[1].text == text + "end"


@pytest.mark.parametrize("character", ["x", "\u2588"])
def test_an_output_text_is_cut_as_it_is_read(monkeypatch, character):
    """A large file's long output texts are cut as they are decoded, with the warning the
    notebook gets when they are cut later; a source is not cut."""
    monkeypatch.setattr(read, "LARGE_FILE", 0)
    monkeypatch.setattr(read, "_CUT_ARRAY", 100)
    monkeypatch.setattr(read, "OUTPUT_TEXT_LIMIT", 1000)
    lines = [f"{i:>6} {character * (i % 20)}\n" for i in range(400)]
    notebook = {**V4, "cells": [{"cell_type": "code", "id": "a", "metadata": {}, "execution_count": 1,
                                 "source": lines, "outputs": [
                                     {"output_type": "stream", "name": "stdout", "text": lines},
                                     {"output_type": "execute_result", "execution_count": 1, "metadata": {},
                                      "data": {"text/plain": "".join(lines), "application/json": lines}}]}]}
    data = json.dumps(notebook, ensure_ascii=False).encode()
    read_whole = outcome(data)
    monkeypatch.setattr(read, "parse_json_repaired", None)
    assert outcome(bytearray(data)) == read_whole
    cell = read_whole[0].cells[0]
    assert cell.source == "".join(lines)
    assert cell.outputs[0].text == cell.outputs[1].data["text/plain"] == "".join(lines)[:1000]
    length = len("".join(lines))
    assert read_whole[0].warnings == (f"cell 0 output 0 text has {length:,} characters; stored cut to the first 1,000",
                                      f"cell 0 output 1 text/plain has {length:,} characters; stored cut to the "
                                      "first 1,000")


def test_every_notebook_of_the_corpus_is_read_alike_as_a_large_file(monkeypatch):
    monkeypatch.setattr(read, "LARGE_FILE", 0)
    monkeypatch.setattr(read, "_CUT_ARRAY", 1)
    rng = random.Random(11)
    for path in notebook_files(CORPUS) + notebook_files(SAMPLES):
        data = path.read_bytes()
        cut = rng.randrange(len(data) + 1)
        for variant in (data, data[:cut], data[:cut] + b'"' + data[cut:]):
            assert outcome(bytearray(variant)) == outcome(variant), path


@pytest.mark.parametrize("character", ["x", "é", "\u2588", "\U0001f600"])
def test_a_large_buffer_is_emptied_once_read(character):
    """Narrow text is decoded whole and the buffer emptied at once; text with characters beyond
    U+00FF (2 or 4 bytes each decoded whole, the ASCII too) is read from the buffer, emptied after."""
    data = json.dumps({**V4, "metadata": {"pad": "x" * read.LARGE_FILE + character}}, ensure_ascii=False).encode()
    buffer = bytearray(data)
    assert outcome(buffer) == outcome(data)
    assert not buffer


@pytest.mark.parametrize("character", ["x", "\u2588"])
def test_a_large_buffer_that_is_not_utf8_gets_the_usual_error(character):
    data = json.dumps({**V4, "metadata": {"pad": "x" * read.LARGE_FILE, "wide": character}},
                      ensure_ascii=False).encode().replace(b"xx", b"\x80", 1)
    assert outcome(bytearray(data)) == outcome(data) == ("encoding", outcome(data)[1])


def test_the_fts_index_holds_the_start_of_a_long_output_text(monkeypatch):
    monkeypatch.setattr(rows, "FTS_OUTPUT_LIMIT", 10)
    for texts in (["abc"], ["abcd", "ef"], ["abcd", "efghi"], ["abcd", "efgh", "ij"], ["a" * 9, "b"], ["a" * 10, "b"],
                  ["a" * 11], ["a" * 30, "b"], []):
        assert rows._indexed(texts) == ("\n".join(texts)[:10] or None)
    text = "a text"
    assert rows._indexed([text]) is text  # not copied


def test_utf8_size_without_encoding_the_whole_text(monkeypatch):
    monkeypatch.setattr(rows, "_CHUNK", 3)
    for text in ("", "ascii", "é" * 7, "a\U0001f600b" * 5, "x\ud800y\udfffz"):
        assert rows._utf8_size(text) == len(text.encode("utf-8", "surrogatepass"))
