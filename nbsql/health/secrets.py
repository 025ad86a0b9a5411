"""Secrets in text, found with detect-secrets' own detectors.

Running every detector on every line costs about 80 µs a line, and even the union of their
patterns is slow on megabytes of outputs. So a literal gate (the words and token prefixes the
detectors key on; the rule fixtures and tests check it lets secrets through) picks the lines, and
on those only the detectors whose own patterns match run: a regex-based detector when one of
its patterns matches, the keyword detector when a secret-like word is assigned a string.

Base64 images (``data:image/png;base64,...``) are never read: their letters make tokens by chance.
A secret is reported once per line, with what names it and its value masked.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache

#: Detectors left out: entropy guesses fire on hashes, ids and base64 data everywhere in
#: notebooks, and public IP addresses are not secrets.
_SKIPPED = {"Base64 High Entropy String", "Hex High Entropy String", "Public IP (ipv4)"}
#: Words and token prefixes the detectors key on (checked with ``in`` on lower-cased text: fast).
_GATE_WORDS = ("key", "pass", "pw", "secret", "token", "auth", "cred", "contrase", "aws", "softlayer", "akia", "asia",
               "abia", "acca", "a3t", "akc", "xox", "k_live", "sk-", "sg.", "begin", "eyj", "npm_", "pypi", "sq0",
               "eaaa", "slack", "-us", "gr1348941")
#: Token shapes without a gate word, as separate patterns that each start with a literal (a union,
#: or a pattern starting with a character class, is tried at every position: ten times slower).
_GATE_PATTERNS = tuple(re.compile(p) for p in (
    r"gh[pousr]_", r"gl[a-z]{2,6}-",  # GitHub and GitLab tokens
    r"AP[\dA-F][a-zA-Z0-9]{8}",  # Artifactory
    r"://[^\s:@/]{1,256}:[^\s@]{1,256}@",  # a password in a URL (bounded: unbounded runs took quadratic time)
    r":[\w-]{35}",  # Telegram bot token: digits, ':', 35 characters
    r"\.[\w-]{6}\.[\w-]{27}",  # Discord bot token: three dot-separated parts
    r"AC[a-z0-9]{32}", r"SK[a-z0-9]{32}",  # Twilio
))


def _gate(text: str) -> bool:
    lowered = text.lower()
    for word in _GATE_WORDS:
        if word in lowered:
            return True
    return any(pattern.search(text) for pattern in _GATE_PATTERNS)


def _gate_offsets(text: str) -> list[int] | None:
    """Sorted offsets in ``text`` where a gate word or pattern starts (None: lower-casing moves them).

    Each line holding an offset is one the gate lets through, since no word or pattern spans a
    line break; the patterns' non-overlapping matches still reach every line that holds one.
    """
    lowered = text.lower()
    if len(lowered) != len(text):  # a few characters lower-case to two ("İ"), shifting what follows
        return None
    offsets = []
    for word in _GATE_WORDS:
        start = lowered.find(word)
        while start >= 0:
            offsets.append(start)
            start = lowered.find(word, start + 1)
    for pattern in _GATE_PATTERNS:
        offsets.extend(match.start() for match in pattern.finditer(text))
    return sorted(offsets)


@lru_cache(maxsize=1)
def _detectors():
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
    from detect_secrets.plugins.keyword import DENYLIST

    keyword = re.compile("|".join(DENYLIST), re.IGNORECASE)  # every pattern of the keyword detector has one
    classes: dict[str, type] = get_mapping_from_secret_type_to_class()
    plugins = [cls() for kind, cls in classes.items() if kind not in _SKIPPED]
    return [(plugin, re.compile("|".join(_scoped(p) for p in plugin.denylist)) if getattr(plugin, "denylist", None)
             else keyword) for plugin in plugins]


def _scoped(pattern: re.Pattern) -> str:
    """A detector's pattern as a group that keeps its own case-sensitivity inside a union."""
    text = re.sub(r"^\(\?[aiLmsux]+\)", "", pattern.pattern)
    return f"(?i:{text})" if pattern.flags & re.IGNORECASE else f"(?:{text})"


def prepare() -> None:
    _detectors()


@dataclass(frozen=True, slots=True)
class Secret:
    """A line holding a secret: the detectors' kind (``Secret Keyword``, ``AWS Access Key``...), the
    secret as written there, and the name or key it is assigned to, when the line assigns it."""

    line: int  # 1-based
    kind: str
    value: str
    name: str | None = None

    @property
    def shown(self) -> str:
        """The value as it may be shown: its first characters (at most a fifth of them, four at
        most), never the whole."""
        return self.value[:min(4, len(self.value) // 5)] + "…"

    @property
    def masked(self) -> str:
        """The shown value and the value's length."""
        return f"'{self.shown}', {len(self.value)} characters"


def find_secrets(text: str) -> list[Secret]:
    """Each line of ``text`` holding a secret."""
    return [secret for _, secret in find_secrets_in([text])]


def find_secrets_in(texts: Sequence[str]) -> list[tuple[int, Secret]]:
    """(index of the text, secret) for each line of any of ``texts`` holding a secret.

    The gate scans them joined: one pass per gate word for a whole notebook, rather than one per
    text, most of which (outputs, small cells) hold none.
    """
    texts = [_BASE64_IMAGE.sub(_no_image, text) if "base64," in text else text for text in texts]
    joined = "\n".join(texts)
    offsets = _gate_offsets(joined)
    if offsets is None:
        return [(index, secret) for index, text in enumerate(texts) for secret in _gated_lines(text)]
    found: list[tuple[int, Secret]] = []
    start = 0  # of the text in the joined string
    for index, text in enumerate(texts):
        end = start + len(text)
        first, last = bisect_left(offsets, start), bisect_left(offsets, end)
        if first < last:
            lines = _lines_at(text, [offset - start for offset in offsets[first:last]])
            found.extend((index, secret) for secret in _secrets_on(lines))
        start = end + 1
    return found


def _lines_at(text: str, offsets: list[int]) -> Iterator[tuple[int, str]]:
    """(1-based number, line without its break) of each line of ``text`` holding one of the sorted offsets."""
    position = 0
    pending = iter(offsets)
    offset = next(pending, None)
    for number, line in enumerate(text.splitlines(keepends=True), 1):
        position += len(line)
        if offset is not None and offset < position:
            yield number, line.splitlines()[0]
            while offset is not None and offset < position:
                offset = next(pending, None)
            if offset is None:
                return


def _no_image(match: re.Match) -> str:
    """A base64 image's data left out, its line breaks kept."""
    return "data:image;base64," + "\n" * match.group().count("\n")


#: An image in a data URL, as HTML and markdown outputs embed them.
_BASE64_IMAGE = re.compile(r"data:image/[\w.+-]+;base64,[A-Za-z0-9+/=\s]*")


def _gated_lines(text: str) -> list[Secret]:
    """find_secrets for one text, gating it and then each of its lines on their own."""
    if not text or not _gate(text):
        return []
    return _secrets_on((number, line) for number, line in enumerate(text.splitlines(), 1) if _gate(line))


def _secrets_on(lines: Iterable[tuple[int, str]]) -> list[Secret]:
    """What the detectors find on each (number, line) the gate let through: one secret a line, of
    the most specific kind found there (a detector of its own before the keyword detector)."""
    detectors = _detectors()
    found: list[Secret] = []
    for number, line in lines:
        if len(line) > 2000:
            continue
        kinds = sorted({(secret.type == "Secret Keyword", secret.type, secret.secret_value or "")
                        for plugin, pattern in detectors if pattern.search(line)
                        for secret in plugin.analyze_line(filename="cell.py", line=line, line_number=number)
                        if not is_placeholder(secret.secret_value, line)})
        if kinds:
            _, kind, value = kinds[0]
            start = line.find(value) if value else -1
            if start >= 0:  # the whole secret where a detector keeps a part of it (GitHub's 'ghp')
                value += _TOKEN_REST.match(line, start + len(value)).group()  # type: ignore[union-attr]
            found.append(Secret(number, kind, value, _assigned_name(line[:start]) if start >= 0 else None))
    return found


#: The rest of a token of which a detector keeps the prefix ('ghp', 'glpat').
_TOKEN_REST = re.compile(r"(?:[_-][\w-]*)?")
#: The end of text that assigns the value after it: 'client_secret = "', '"password": "', 'key => \''.
_ASSIGNED = re.compile(r"""(['"]?)(?<![/\w.-])([A-Za-z_][\w.-]*(?:\[\s*['"]?[\w.-]+['"]?\s*\])*)\1\s*(?:=>|:=|=|:)\s*"""
                       r"""[rRbBuUfF]{0,2}['"`]?$""")


def _assigned_name(before: str) -> str | None:
    """The name or key that the text ``before`` a value assigns it to, if it does."""
    match = _ASSIGNED.search(before)
    return match.group(2) if match else None


#: Values that stand for a secret rather than being one: 'YOUR_API_KEY', 'ENTER PASSWORD', 'xxxxxx',
#: and words only, one of them a secret's name: 'my-client-secret', 'api_key', 'mysecretpassword'.
_PLACEHOLDER = re.compile(r"(?i)\byour\b|your[_ -]|enter[_ -]?your|^(?:enter|insert|replace|put|add|paste)[_ ]|"
                          r"placeholder|changeme|change[_ ]me|redacted|^(.)\1+$|"
                          r"^(?=[a-z_.-]*$).*(?:secret|pass|pwd|key|token|credential|auth)|"
                          r"^(?:dev|test|testing|example|sample|dummy|demo|fake|foo|bar|baz|todo|tbd|fixme|none|null)$")
#: A quoted value joined to others with '+' ('PWD=' + PASSWORD, 'Bearer ' + token): a piece of a
#: string built from another value, which holds the secret if any does.
_JOINED = r"""\+\s*[rRbBuUfF]{{0,2}}(['"]){value}\1|(['"]){value}\2\s*\+"""


def is_placeholder(value: str | None, line: str = "") -> bool:
    """A value that only holds a secret's place: ours above, a piece of a string built with '+' on
    ``line``, or detect-secrets' own heuristics (templates like '<token>' or '${TOKEN}', sequences
    like 'abcdef', nothing alphanumeric)."""
    from detect_secrets.filters import heuristic

    if not value:  # some detectors keep no value: nothing to judge
        return False
    if "+" in line and re.search(_JOINED.format(value=re.escape(value)), line):
        return True
    return bool(_PLACEHOLDER.search(value)) or heuristic.is_templated_secret(value) or \
        heuristic.is_sequential_string(value) or heuristic.is_not_alphanumeric_string(value) or \
        heuristic.is_prefixed_with_dollar_sign(value)


def masked(text: str) -> str:
    """``text`` with each secret found in it masked, for messages that quote outputs."""
    for secret in find_secrets(text):
        if secret.value:
            text = text.replace(secret.value, secret.shown)
    return text
