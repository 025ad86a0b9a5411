"""Bytes -> :class:`Notebook`: decoding, JSON, version upgrade and normalisation.

Hot path: ``orjson`` (stdlib ``json`` as the fallback for NaN, huge integers and error
messages); nbformat is only imported to upgrade nbformat 1-3 files. The loader's large files are
parsed in about twice their size (:func:`parse_buffer`).
"""

from __future__ import annotations

import codecs
import json
import re
import secrets
import sys
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeGuard

import orjson

from .model import JSON, Cell, Notebook, NotebookError, Output

SUPPORTED_MAJOR = 4
# Each pattern runs in linear time on any text (a lazy group before an optional run, or a search
# for a closing tag from every opening one, made a 100 KB cell take most of a minute).
_ATX_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.*)$", re.M)
_HTML_HEADING = re.compile(r"<h[1-6](?:\s[^<>]{0,1000})?>", re.I)
_HTML_HEADING_END = re.compile(r"</h[1-6]>", re.I)
_TAG = re.compile(r"<[^<>]+>")
_KERNEL_LANGUAGES = {"ir": "r", "python2": "python", "python3": "python", "pyspark": "python",
                     "pyspark3": "python", "spark": "scala", "sparkr": "r"}


def parse_json(data: bytes) -> JSON:
    """Decode notebook bytes to JSON, raising :class:`NotebookError` with a one-line reason."""
    return parse_json_repaired(data)[0]


def parse_json_repaired(data: bytes | bytearray) -> tuple[JSON, list[str]]:
    """:func:`parse_json`, plus what had to be repaired for the text to be stored (as warnings)."""
    if not data or data.isspace():  # data.strip() would copy the whole file
        raise NotebookError("empty", "the file is empty")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            data = data.decode("utf-16").encode()
        except UnicodeDecodeError as exc:
            raise NotebookError("encoding", f"invalid UTF-16: {exc.reason} at byte {exc.start}") from None
    elif data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    try:
        return orjson.loads(data), []
    except orjson.JSONDecodeError:
        pass
    if b"\x00" in data[:4096]:
        raise NotebookError("binary", "binary data, not a JSON text file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotebookError("encoding", f"not valid UTF-8: {exc.reason} at byte {exc.start}") from None
    return _parse_text(text)


#: From this size on, :func:`parse_buffer` parses a file with :func:`_parse_large`: orjson copies
#: its input, so it would hold the file twice while building the value, and one str per line of a
#: long output (49 bytes each besides the text) can take several times the file.
LARGE_FILE = 16 * 1024 * 1024
_BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


def parse_buffer(buffer: bytearray) -> tuple[JSON, list[str]]:
    """:func:`parse_json_repaired` of a file's bytes, which empties ``buffer`` when the file is
    large (:data:`LARGE_FILE`): the bytes are not held with the value."""
    if len(buffer) < LARGE_FILE or not buffer or buffer.isspace() or buffer.startswith(_BOMS) or \
            b"\x00" in buffer[:4096] or _LONG_VALUE is None:
        return parse_json_repaired(buffer)
    try:
        return _parse_large(buffer) or parse_json_repaired(buffer)
    except UnicodeDecodeError:
        return parse_json_repaired(buffer)  # its error
    finally:
        buffer.clear()


def _parse_text(text: str) -> tuple[JSON, list[str]]:
    """The stdlib's parse of a notebook's text (it takes NaN and integers beyond 64 bits)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        ends_early = exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string")
        kind = "truncated" if ends_early else "json"
        what = "truncated JSON" if kind == "truncated" else "invalid JSON"
        raise NotebookError(kind, f"{what}: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise NotebookError("json", "invalid JSON: nested too deeply") from None
    return _repaired(value, _SURROGATE_ESCAPE.search(text) is not None)


def _repaired(value: JSON, escapes: bool) -> tuple[JSON, list[str]]:
    """``value`` with lone surrogates replaced, when its text had surrogate ``escapes``, and the warning."""
    if not escapes:
        return value, []
    try:
        repaired = _without_lone_surrogates(value)
    except RecursionError:
        raise NotebookError("json", "invalid JSON: nested too deeply") from None
    if repaired == value:
        return value, []
    return repaired, ["lone UTF-16 surrogate escapes (\\ud800-\\udfff) replaced with U+FFFD"]


#: A JSON escape of a UTF-16 surrogate; stdlib json decodes a lone one (orjson refuses it) to a
#: string that is not valid Unicode, which SQLite cannot store as text.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_SURROGATE_ESCAPE_BYTES = re.compile(_SURROGATE_ESCAPE.pattern.encode())
#: Strings, and arrays of strings, at least this long (bytes of JSON) are cut out of a large
#: file's text before it is parsed.
_CUT_ARRAY = 64 * 1024
#: A valid JSON string (no control characters, only JSON's escapes).
_STRING = rb'"(?:[^"\\\x00-\x1f]++|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*+"'
_SPACE = rb"[ \t\n\r]*+"
_POSSESSIVE = sys.version_info >= (3, 11)  # possessive patterns run in linear time and without a stack
#: A string, or an array of strings.
_LONG_VALUE = re.compile(rb"%s|\[%s%s(?:%s,%s%s)*+%s\]" % (_STRING, _SPACE, _STRING, _SPACE, _SPACE, _STRING, _SPACE)) \
    if _POSSESSIVE else None
#: Up to 10,000 strings of an array, with the comma after them.
_RUN = re.compile(rb"%s%s(?:%s,%s%s){0,9999}%s,?" % (_SPACE, _STRING, _SPACE, _SPACE, _STRING, _SPACE)) \
    if _POSSESSIVE else None
_ONE_STRING = re.compile(_STRING) if _POSSESSIVE else None
#: Up to about 1 MiB of a JSON string's content: whole characters and escapes (a surrogate pair together).
_PIECE = re.compile(rb'(?:[^"\\\x00-\x1f]{1,512}+[\x80-\xbf]*+|\\["\\/bfnrt]|'
                    rb"\\u[dD][89abAB][0-9a-fA-F]{2}\\u[dD][c-fC-F][0-9a-fA-F]{2}|\\u[0-9a-fA-F]{4}){1,2048}+") \
    if _POSSESSIVE else None
_KEY_END = re.compile(_SPACE + b":")
#: A run of strings this long (bytes of JSON) is decoded string by string, in pieces.
_LONG_RUN = 1024 * 1024


def _parse_large(data: bytearray) -> tuple[JSON, list[str]] | None:
    """Parse a large file from its bytes, with its long strings and arrays of strings apart, in
    about its size and a constant; None when it has none, or the rest is not valid JSON (its error
    is that of the whole text). Raises UnicodeDecodeError for bytes that are not UTF-8.

    The file is never decoded whole (a text with one character beyond U+00FF takes 2 or 4 bytes a
    character as a str, the ASCII too). The rest of its text is parsed with a placeholder string
    in the place of each long value. Where the notebook has a multiline string, an array's lines
    are joined as they are decoded (a str per line would take 49 bytes besides its text), and an
    output's text is cut at :data:`OUTPUT_TEXT_LIMIT` (and counted on); elsewhere it is decoded
    as the list it is. Nothing is cut from a text whose strings the pattern cannot all pair up (it
    is invalid JSON), so the value, or the error, is that of the whole text.
    """
    spans = _long_values(data)
    if not spans:
        return None
    marker = f"\x00nbsql {secrets.token_hex(8)} "
    parts: list[bytes | bytearray] = []
    end = 0
    for index, (start, stop) in enumerate(spans):
        parts += [data[end:start], json.dumps(f"{marker}{index}").encode()]
        end = stop
    parts.append(data[end:])
    try:
        value = json.loads(b"".join(parts))
    except (json.JSONDecodeError, RecursionError):
        return None
    del parts
    cuts: list[str] = []

    def resolve(item: JSON, join: bool, where: str | None) -> JSON:
        if not isinstance(item, str) or not item.startswith(marker):
            return item
        start, stop = spans[int(item[len(marker):])]
        if not join:
            return json.loads(data[start:stop])
        if data[start] == ord("["):
            start, stop = start + 1, stop - 1
        joined, length = _join_cut(_decoded(data, start, stop), None if where is None else OUTPUT_TEXT_LIMIT)
        if len(joined) < length:
            cuts.append(_cut_note(where, length))
        return joined

    try:
        _join_multiline(value, resolve)
        value = _resolve_all(value, resolve)
    except RecursionError:
        raise NotebookError("json", "invalid JSON: nested too deeply") from None
    value, repairs = _repaired(value, _SURROGATE_ESCAPE_BYTES.search(data) is not None)
    return value, repairs + cuts


def _long_values(data: bytearray) -> list[tuple[int, int]]:
    """Spans of the long strings and arrays of strings that are values in ``data`` (none when a
    string does not pair up: no quote may lie between the strings the pattern finds)."""
    spans, end = [], 0
    for match in _LONG_VALUE.finditer(data) if _LONG_VALUE else ():
        start, stop = match.span()
        if data.find(b'"', end, start) >= 0:
            return []
        if stop - start >= _CUT_ARRAY and not _KEY_END.match(data, stop):
            spans.append((start, stop))
        end = stop
    return spans if data.find(b'"', end) < 0 else []


def _decoded(data: bytearray, start: int, stop: int) -> Iterator[str]:
    """The text of the strings between ``start`` and ``stop``, in pieces: a run of short strings at
    a time, a long string about a MiB at a time."""
    assert _RUN and _ONE_STRING and _PIECE  # compiled wherever parse_buffer calls this
    for run in _RUN.finditer(data, start, stop):
        if run.end() - run.start() < _LONG_RUN:
            yield "".join(json.loads(b"[%s]" % run.group().rstrip(b", \t\n\r")))
            continue
        for string in _ONE_STRING.finditer(data, run.start(), run.end()):
            for piece in _PIECE.finditer(data, string.start() + 1, string.end() - 1):
                yield json.loads(b'"%s"' % piece.group())


def _join_cut(pieces: Iterable[str], limit: int | None) -> tuple[str, int]:
    """The ``pieces`` joined, cut at ``limit`` characters (pieces beyond it are only counted), and
    the full length."""
    kept, length = [], 0
    for piece in pieces:
        if limit is None:
            kept.append(piece)
        elif length < limit:
            kept.append(piece[:limit - length])
        length += len(piece)
    return "".join(kept), length


def _join_multiline(raw: JSON, resolve: Callable[[JSON, bool, str | None], JSON]) -> None:
    """Resolve, joined, the placeholders where :func:`normalise` joins a multiline string of a v4
    notebook (naming the output texts it cuts, as it does)."""
    cells = raw.get("cells") if isinstance(raw, dict) and type(raw.get("nbformat")) is int and \
        raw["nbformat"] == SUPPORTED_MAJOR else None
    for position, cell in enumerate(cells if isinstance(cells, list) else ()):
        if not isinstance(cell, dict):
            continue
        if "source" in cell:
            cell["source"] = resolve(cell["source"], True, None)
        outputs = cell.get("outputs") if cell.get("cell_type") == "code" else None
        for index, output in enumerate(outputs if isinstance(outputs, list) else ()):
            where = f"cell {position} output {index}"
            if isinstance(output, dict) and "text" in output:
                output["text"] = resolve(output["text"], True, f"{where} text")
            data = output.get("data") if isinstance(output, dict) else None
            if isinstance(data, dict):
                for mime in data:
                    if not is_json_mime(mime):
                        data[mime] = resolve(data[mime], True, f"{where} {mime}")


def _resolve_all(value: JSON, resolve: Callable[[JSON, bool, str | None], JSON]) -> JSON:
    """``value`` with every placeholder left resolved to its list (lists and objects changed in place)."""
    if isinstance(value, list):
        for index, item in enumerate(value):
            value[index] = _resolve_all(item, resolve)
    elif isinstance(value, dict):
        for key, item in value.items():
            value[key] = _resolve_all(item, resolve)
    else:
        return resolve(value, False, None)
    return value


def _without_lone_surrogates(value: JSON) -> JSON:
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, list):
        return [_without_lone_surrogates(item) for item in value]
    if isinstance(value, dict):
        return {_without_lone_surrogates(key): _without_lone_surrogates(item) for key, item in value.items()}
    return value


def read_notebook(data: bytes) -> Notebook:
    """Parse and normalise one ``.ipynb`` file's bytes."""
    return normalise(*parse_json_repaired(data))


def normalise(raw: JSON, repairs: Iterable[str] = ()) -> Notebook:
    """Turn parsed JSON of any nbformat version into the v4 :class:`Notebook` model.

    ``repairs``: what parsing already had to repair, kept first among the notebook's warnings.
    Multiline strings saved as lists of lines (sources, stream text, mime data) are joined in
    ``raw`` too, which stays valid against the same schema.
    """
    if not isinstance(raw, dict):
        raise NotebookError("not_a_notebook", f"the JSON is {_kind_of(raw)}, not a notebook object")
    warnings: list[str] = list(repairs)
    major, minor = _version(raw, warnings)
    cell_languages: list[str] = []
    if major < SUPPORTED_MAJOR:
        cell_languages = _v3_cell_languages(raw)
        raw = _upgrade(raw, major)
        upgraded = True
    else:
        upgraded = False
        if major > SUPPORTED_MAJOR:
            raise NotebookError("unsupported_version", f"nbformat {major} is newer than this reader (4)")
        if minor is not None and minor > 5:
            warnings.append(f"nbformat 4.{minor} is newer than 4.5; read as 4.5")
    cells_raw = raw.get("cells")
    if not isinstance(cells_raw, list):
        what = "no 'cells' list" if cells_raw is None else f"'cells' is {_kind_of(cells_raw)}, not a list"
        raise NotebookError("not_a_notebook", f"not a notebook: {what}")
    metadata = _dict(raw.get("metadata"), "notebook metadata", warnings)
    cells = tuple(_cell(i, c, warnings, keep_id=not upgraded) for i, c in enumerate(cells_raw))
    kernel_name, display_name, language, language_version = _kernel(metadata, cell_languages, warnings)
    orig = metadata.get("orig_nbformat")
    return Notebook(
        nbformat=major,
        nbformat_minor=minor,
        orig_nbformat=orig if is_integer(orig) and not upgraded else major,
        metadata=metadata,
        cells=cells,
        kernel_name=kernel_name,
        kernel_display_name=display_name,
        language=language,
        language_version=language_version,
        warnings=tuple(warnings),
    )


def title_of(notebook: Notebook) -> str | None:
    """The first heading of the first markdown cell that has one."""
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            title = _TAG.sub("", _first_heading(cell.source) or "").strip()
            if title:
                return title
    return None


def _first_heading(source: str) -> str | None:
    """The text of the first ATX ('# ...') or HTML ('<h2>...</h2>') heading of markdown source."""
    atx = _ATX_HEADING.search(source)
    html = _HTML_HEADING.search(source, 0, atx.start() if atx else len(source))
    # only the first opening tag can be closed: a later one would find no closing tag either
    end = _HTML_HEADING_END.search(source, html.end()) if html else None
    if html and end:
        return source[html.end():end.start()]
    return atx.group(1).rstrip(" \t#") if atx else None


def _kind_of(value: Any) -> str:
    names = {list: "a list", str: "a string", dict: "an object", bool: "a boolean", type(None): "null"}
    return names.get(type(value), "a number")


def is_integer(value: Any) -> TypeGuard[int]:
    """An integer SQLite can store (64-bit signed; JSON numbers may be larger), not a boolean."""
    return type(value) is int and -_INTEGER_LIMIT <= value < _INTEGER_LIMIT


_INTEGER_LIMIT = 2 ** 63


def _not_integer(value: Any) -> str:
    """Why ``value`` is not an integer :func:`is_integer` accepts."""
    if type(value) is int:
        return "an integer out of the 64-bit range"
    return "missing" if value is None else f"{_kind_of(value)}, not an integer"


def _version(raw: dict, warnings: list[str]) -> tuple[int, int | None]:
    major, minor = raw.get("nbformat"), raw.get("nbformat_minor")
    if not is_integer(major):
        problem = _not_integer(major)
        if "worksheets" in raw:
            major = 3
        elif "cells" in raw:
            major = 4
        else:
            raise NotebookError("not_a_notebook", "not a notebook: no 'nbformat' and no 'cells'")
        warnings.append(f"'nbformat' is {problem}; read as nbformat {major}")
    if minor is not None and not is_integer(minor):
        warnings.append(f"'nbformat_minor' is {_not_integer(minor)}; ignored")
        minor = None
    if major < 1:
        raise NotebookError("unsupported_version", f"nbformat {major} does not exist")
    return major, minor


def _v3_cell_languages(raw: dict) -> list[str]:
    worksheets = raw.get("worksheets")
    languages = []
    for sheet in worksheets if isinstance(worksheets, list) else []:
        for cell in sheet.get("cells") or [] if isinstance(sheet, dict) else []:
            if isinstance(cell, dict) and isinstance(cell.get("language"), str):
                languages.append(cell["language"])
    return languages


def _upgrade(raw: dict, major: int) -> dict:
    """Upgrade nbformat 1-3 with nbformat's own converter."""
    import nbformat
    from nbformat import converter

    from ._compat.nbformat import upgrade_unvalidated

    raw = dict(raw, nbformat=major)
    if not isinstance(raw.get("metadata"), dict):
        raw["metadata"] = {}
    if major == 3:
        sheets = raw.get("worksheets")
        sheets = [s for s in sheets if isinstance(s, dict)] if isinstance(sheets, list) else []
        raw["worksheets"] = [dict(s, cells=s.get("cells") or []) for s in sheets] or [{"cells": []}]
    try:
        node = nbformat.versions[major].to_notebook_json(raw)
        with upgrade_unvalidated():
            upgraded = converter.convert(node, SUPPORTED_MAJOR)
    except Exception as exc:  # the converter raises many kinds on malformed input
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise NotebookError("upgrade_failed", f"cannot upgrade nbformat {major} to 4: {reason}") from None
    return json.loads(json.dumps(upgraded))  # plain dicts again, without NotebookNode


def _text(value: JSON, what: str, warnings: list[str]) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        try:
            return "".join(value)  # lines of text, nearly always
        except TypeError:
            warnings.append(f"{what} holds items that are not text; joined as JSON")
            return "".join(v if isinstance(v, str) else json.dumps(v) for v in value)
    if value is None:
        return ""
    warnings.append(f"{what} is {_kind_of(value)}; stored as text")
    return json.dumps(value)


def _dict(value: JSON, what: str, warnings: list[str]) -> dict:
    if isinstance(value, dict):
        return value
    if value is not None:
        warnings.append(f"{what} is {_kind_of(value)}, not an object; ignored")
    return {}


def _int(value: JSON, what: str, warnings: list[str]) -> int | None:
    if value is None or is_integer(value):
        return value
    warnings.append(f"{what} is {_not_integer(value)}; ignored")
    return None


def _cell(position: int, raw: JSON, warnings: list[str], keep_id: bool) -> Cell:
    where = f"cell {position}"
    if not isinstance(raw, dict):
        warnings.append(f"{where} is {_kind_of(raw)}, not an object; kept as an 'invalid' cell")
        return Cell(position=position, cell_type="invalid", source=json.dumps(raw))
    cell_type = raw.get("cell_type")
    if not isinstance(cell_type, str):
        warnings.append(f"{where} has no cell_type; kept as 'invalid'")
        cell_type = "invalid"
    cell_id = raw.get("id") if keep_id and isinstance(raw.get("id"), str) else None
    if keep_id and "id" in raw and cell_id is None:
        warnings.append(f"{where} id is {_kind_of(raw['id'])}, not a string; ignored")
    outputs: tuple[Output, ...] = ()
    if cell_type == "code":
        raw_outputs = raw.get("outputs")
        if raw_outputs is None:
            warnings.append(f"{where}: code cell without 'outputs'")
        elif not isinstance(raw_outputs, list):
            warnings.append(f"{where}: 'outputs' is {_kind_of(raw_outputs)}, not a list; ignored")
        else:
            outputs = tuple(_output(o, f"{where} output {i}", warnings) for i, o in enumerate(raw_outputs))
    attachments = raw.get("attachments")
    return Cell(
        position=position,
        cell_type=cell_type,
        source=_text(_joined(raw, "source"), f"{where} source", warnings),
        metadata=_dict(raw.get("metadata"), f"{where} metadata", warnings),
        execution_count=_int(raw.get("execution_count"), f"{where} execution_count", warnings),
        cell_id=cell_id,
        attachments=attachments if isinstance(attachments, dict) and attachments else None,
        outputs=outputs,
    )


def _output(raw: JSON, where: str, warnings: list[str]) -> Output:
    if not isinstance(raw, dict):
        warnings.append(f"{where} is {_kind_of(raw)}, not an object; kept as 'invalid'")
        return Output(output_type="invalid", text=json.dumps(raw))
    output_type = raw.get("output_type")
    if not isinstance(output_type, str):
        warnings.append(f"{where} has no output_type")
        output_type = "invalid"
    data = _dict(raw.get("data"), f"{where} data", warnings)
    traceback = raw.get("traceback")
    return Output(
        output_type=output_type,
        name=raw.get("name") if isinstance(raw.get("name"), str) else None,
        text=_text(_output_text(raw, "text", f"{where} text", warnings), f"{where} text", warnings)
        if "text" in raw else None,
        data={mime: data[mime] if is_json_mime(mime) else _output_text(data, mime, f"{where} {mime}", warnings)
              for mime in data},
        metadata=_dict(raw.get("metadata"), f"{where} metadata", warnings),
        execution_count=_int(raw.get("execution_count"), f"{where} execution_count", warnings),
        ename=_text(raw["ename"], f"{where} ename", warnings) if "ename" in raw else None,
        evalue=_text(raw["evalue"], f"{where} evalue", warnings) if "evalue" in raw else None,
        traceback=tuple(_text(line, f"{where} traceback", warnings) for line in traceback)
        if isinstance(traceback, list) else None,
    )


def _joined(raw: dict, key: str) -> JSON:
    """``raw[key]`` (None when missing), a list of lines joined and put back in its place: a long text
    is then held once, not also as its lines (the nbformat schema takes either as a multiline string)."""
    value = raw.get(key)
    if isinstance(value, list):
        try:
            raw[key] = value = "".join(value)
        except TypeError:  # not all text: kept as it is
            pass
    return value


#: The longest output text stored (characters): beyond it, the text is cut there, as soon as it is
#: read, and the notebook's warnings record its full length. A load then holds at most about three
#: times its largest file whatever the text's characters (Python keeps 1 to 4 bytes a character).
OUTPUT_TEXT_LIMIT = 16 * 1024 * 1024


def _output_text(raw: dict, key: str, where: str, warnings: list[str]) -> JSON:
    """An output's text (:func:`_joined`), cut at :data:`OUTPUT_TEXT_LIMIT` characters in ``raw``
    too, so that the whole text is not held while the notebook is analysed and written."""
    value = _joined(raw, key)
    if isinstance(value, str) and len(value) > OUTPUT_TEXT_LIMIT:
        warnings.append(_cut_note(where, len(value)))
        raw[key] = value = value[:OUTPUT_TEXT_LIMIT]
    return value


def _cut_note(where: str | None, length: int) -> str:
    return f"{where} has {length:,} characters; stored cut to the first {OUTPUT_TEXT_LIMIT:,}"


def is_json_mime(mime: str) -> bool:
    return mime == "application/json" or mime.endswith("+json")


def _kernel(metadata: dict, cell_languages: list[str], warnings: list[str]):
    spec = metadata.get("kernelspec")
    if spec is not None and not isinstance(spec, dict):
        warnings.append(f"kernelspec is {_kind_of(spec)}, not an object; ignored")
    spec = spec if isinstance(spec, dict) else {}
    info = metadata.get("language_info")
    info = info if isinstance(info, dict) else {}
    name = _str(spec.get("name"))
    display = _str(spec.get("display_name"))
    language = _str(info.get("name")) or _str(spec.get("language"))
    if not language and name:
        language = _KERNEL_LANGUAGES.get(name.lower()) or re.sub(r"[-_.]?\d.*$", "", name) or None
    if not language and cell_languages:
        language = max(set(cell_languages), key=cell_languages.count)
    jupytext = metadata.get("jupytext")
    if not language and isinstance(jupytext, dict):  # a notebook paired with a script names its language
        language = _str(jupytext.get("main_language"))
    return name, display, language.lower() if language else None, _str(info.get("version"))


def _str(value: JSON) -> str | None:
    return value if isinstance(value, str) and value else None
