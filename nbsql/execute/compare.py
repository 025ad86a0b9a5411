"""New outputs against saved ones: the usual noise normalised away, images compared by pixels.

The comparison level (:data:`COMPARISON`, stored with each run) says what "same" meant:

- text (streams, ``text/plain``, errors' messages, HTML and other textual data) is compared once
  ANSI codes are stripped and masked: memory addresses (``at 0x7f...``), dates, times of day and
  durations (``12.3 ms``, ``Wall time: 2 s``), progress bars (tqdm's ``45%|████  |`` lines and
  what a carriage return overwrites), temporary paths (``/tmp/...``, ``/var/folders/...``), UUIDs,
  and the run's own folder (the throw-away copy) against the notebook's;
- images are decoded (Pillow) and are the same when they have the same size and at most
  :data:`IMAGE_TOLERANCE` of their pixels differ by more than :data:`PIXEL_TOLERANCE` in a channel;
- errors by name and normalised message.
"""

from __future__ import annotations

import base64
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..text import strip_ansi

COMPARISON = "normalised-1"
#: A pixel differs when a channel (0-255) differs by more than this.
PIXEL_TOLERANCE = 16
#: Images are the same when at most this share of their pixels differ.
IMAGE_TOLERANCE = 0.01

_MASKS = (
    (re.compile(r"(?m)^[^\n|%]{0,200}?\b\d{1,3}%\|[^\n]*\n?"), ""),  # tqdm's bars
    (re.compile(r"0x[0-9a-fA-F]{4,}"), "0x…"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "<uuid>"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"), "<time>"),
    (re.compile(r"\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?\b"), "<time>"),
    (re.compile(r"\b\d+(?:\.\d+)?\s*(?:ns|µs|μs|us|ms|s|sec|secs|seconds|min|mins|minutes|h|hours)\b"), "<duration>"),
    (re.compile(r"(?:/private)?/(?:tmp|var/folders|var/tmp)/[^\s'\"),\]]*"), "<tmp>"),
    (re.compile(r"[A-Za-z]:\\Users\\[^\\]+\\AppData\\Local\\Temp\\[^\s'\"]*"), "<tmp>"),
)


def normalise(text: str, folders: Iterable[str] = ()) -> str:
    """``text`` without the noise that differs from run to run (see the module's documentation)."""
    text = strip_ansi(text)
    for folder in folders:  # longest first: the copy may lie below the original's parent
        if folder:
            text = text.replace(folder, "<folder>")
    text = "\n".join(line.rsplit("\r", 1)[-1] for line in text.replace("\r\n", "\n").split("\n"))
    for pattern, replacement in _MASKS:
        text = pattern.sub(replacement, text)
    return text.strip()


@dataclass(frozen=True)
class Comparison:
    verdict: str  # same, different, missing or new
    differences: tuple[str, ...] = ()  # text, image, error, data


def compare(saved: list[dict], new: list[dict], folders: Iterable[str] = ()) -> Comparison:
    """How a cell's ``new`` outputs compare with its ``saved`` ones (nbformat output dicts)."""
    if not saved and not new:
        return Comparison("same")
    if not new:
        return Comparison("missing")
    if not saved:
        return Comparison("new")
    folders = sorted(folders, key=len, reverse=True)
    before, after = _parts(saved, folders), _parts(new, folders)
    differences = tuple(kind for kind in ("text", "image", "error", "data")
                        if not _same(kind, before.get(kind, []), after.get(kind, [])))
    return Comparison("different", differences) if differences else Comparison("same")


def _parts(outputs: list[dict], folders: list[str]) -> dict[str, list]:
    """The outputs' comparable parts by kind: texts, decoded images, errors, other data."""
    parts: dict[str, list] = {}
    streams: dict[str, str] = {}
    for output in outputs:
        kind = output.get("output_type")
        if kind == "stream":
            name = output.get("name", "stdout")
            streams[name] = streams.get(name, "") + output_text(output.get("text"))
        elif kind == "error":
            parts.setdefault("error", []).append(
                (output.get("ename"), normalise(output_text(output.get("evalue")), folders)))
        elif kind in ("execute_result", "display_data"):
            for mime, value in sorted((output.get("data") or {}).items()):
                if mime.startswith("image/") and mime != "image/svg+xml":
                    parts.setdefault("image", []).append(value)
                else:
                    where = "text" if mime == "text/plain" else "data"
                    parts.setdefault(where, []).append((mime, normalise(output_text(value), folders)))
    for name in sorted(streams):
        if text := normalise(streams[name], folders):
            parts.setdefault("text", []).append((name, text))
    return parts


def output_text(value) -> str:
    """An output's text or data value as one string (nbformat allows a list of lines; JSON data is dumped)."""
    if isinstance(value, list):
        return "".join(map(str, value))
    if isinstance(value, str):
        return value
    import json

    return json.dumps(value, sort_keys=True)


def _same(kind: str, before: list, after: list) -> bool:
    if kind != "image":
        return before == after
    return len(before) == len(after) and all(same_image(a, b) for a, b in zip(before, after, strict=True))


def same_image(saved: object, new: object) -> bool:
    """Whether two base64 images show the same picture (see :data:`IMAGE_TOLERANCE`)."""
    if saved == new:
        return True
    from PIL import Image, ImageChops

    try:
        first, second = (Image.open(io.BytesIO(base64.b64decode(output_text(v)))).convert("RGBA")
                         for v in (saved, new))
    except (OSError, ValueError, Image.DecompressionBombError):
        return False
    if first.size != second.size:
        return False
    difference = ImageChops.difference(first, second)
    # a pixel differs when its largest channel difference is above the tolerance
    largest = difference.convert("RGB").point(lambda value: 255 if value > PIXEL_TOLERANCE else 0).convert("L")
    pixels = first.size[0] * first.size[1]
    changed = pixels - largest.histogram()[0]
    return changed <= IMAGE_TOLERANCE * pixels
