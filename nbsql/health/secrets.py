"""Secrets in text, found with detect-secrets' own detectors.

Running every detector on every line costs about 80 µs a line, and even the union of their
patterns is slow on megabytes of outputs. So a literal gate (the words and token prefixes the
detectors key on; a test checks it lets each detector's example through) picks the lines, the
union of the detectors' patterns confirms them, and only then the detectors run.
"""

from __future__ import annotations

import re
from functools import lru_cache

#: Detectors left out: entropy guesses fire on hashes, ids and base64 data everywhere in
#: notebooks, and public IP addresses are not secrets.
_SKIPPED = {"Base64 High Entropy String", "Hex High Entropy String", "Public IP (ipv4)"}
_KEYWORDS = r"(?i:pass(?:word|wd|phrase)?|secret|token|api_?key|private_?key|credential|auth)"
#: Words and token prefixes the detectors key on (checked with ``in`` on lower-cased text: fast).
_GATE_WORDS = ("key", "pass", "pwd", "secret", "token", "auth", "cred", "akia", "asia", "akc", "xox", "k_live",
               "sk-", "sg.", "begin", "eyj", "npm_", "pypi", "sq0", "eaaa", "slack", "-us")
_GATE_PATTERN = re.compile(r"gh[pousr]_|gl[a-z]{2,4}-|AP[\dA-F][a-zA-Z0-9]{8}|://[^\s:@/]+:[^\s@]+@|\d{8,10}:|"
                           r"[MNO][\w-]{23,25}\.|\b(?:AC|SK)[a-z0-9]{32}")


def _gate(text: str) -> bool:
    lowered = text.lower()
    return any(word in lowered for word in _GATE_WORDS) or _GATE_PATTERN.search(text) is not None


@lru_cache(maxsize=1)
def _detectors():
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

    plugins = [cls() for kind, cls in get_mapping_from_secret_type_to_class().items() if kind not in _SKIPPED]
    patterns = [_scoped(p) for plugin in plugins for p in getattr(plugin, "denylist", ())]
    return plugins, re.compile("|".join(patterns + [_KEYWORDS]))


def _scoped(pattern: re.Pattern) -> str:
    """A detector's pattern as a group that keeps its own case-sensitivity inside a union."""
    text = re.sub(r"^\(\?[aiLmsux]+\)", "", pattern.pattern)
    return f"(?i:{text})" if pattern.flags & re.IGNORECASE else f"(?:{text})"


def prepare() -> None:
    _detectors()


def find_secrets(text: str) -> list[tuple[int, str]]:
    """(1-based line, kind of secret) for each secret in ``text``."""
    if not text:
        return []
    if not _gate(text):
        return []
    plugins, trigger = _detectors()
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        if len(line) > 2000 or not _gate(line) or not trigger.search(line):
            continue
        kinds = {secret.type for plugin in plugins
                 for secret in plugin.analyze_line(filename="cell.py", line=line, line_number=number)}
        found.extend((number, kind) for kind in sorted(kinds))
    return found
