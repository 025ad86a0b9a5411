"""Notebook content to safe HTML: sanitised markdown and HTML outputs, highlighted code, LaTeX math
as MathML (no script: browsers render MathML themselves), images.

Everything that came from a notebook passes through nh3 (the Rust ammonia sanitiser): no
script, no event handler, no ``javascript:`` URL, no iframe, no style element survives, and
images may only be ``data:`` URLs of raster formats (remote images would be beacons).
SVG is only ever shown through ``<img src="data:image/svg+xml;base64,...">``, where browsers
do not run its scripts. Sanitisers, the markdown parser and lexers are built once.
"""

from __future__ import annotations

import base64
import html
import re
from functools import lru_cache

import nh3
from latex2mathml.converter import convert as latex_to_mathml
from markdown_it import MarkdownIt
from markupsafe import Markup
from mdit_py_plugins.amsmath import amsmath_plugin
from mdit_py_plugins.dollarmath import dollarmath_plugin
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import TextLexer, get_lexer_by_name
from pygments.token import STANDARD_TYPES
from pygments.util import ClassNotFound

from ..text import strip_ansi

RASTER_MIMES = ("image/png", "image/jpeg", "image/gif", "image/webp")
#: Which representation of an output's bundle is shown: the first it has, in this order.
BUNDLE_ORDER = (*RASTER_MIMES, "image/svg+xml", "text/html", "text/markdown", "text/latex", "application/json",
                "text/plain")
_DATA_IMAGE = re.compile(r"^data:image/(png|jpeg|gif|webp);base64,[A-Za-z0-9+/=\s]*$")
_SAFE_LINK = re.compile(r"^(https?:|mailto:|#|/(?![/\\])|[\w.-]+(/|$|\.))", re.I)
#: MathML Core's elements, less annotation-xml (it may hold HTML) and maction.
MATHML_TAGS = {"math", "annotation", "menclose", "merror", "mfenced", "mfrac", "mi", "mmultiscripts", "mn", "mo",
               "mover", "mpadded", "mphantom", "mprescripts", "mroot", "mrow", "ms", "mspace", "msqrt", "mstyle",
               "msub", "msubsup", "msup", "mtable", "mtd", "mtext", "mtr", "munder", "munderover", "none",
               "semantics"}
_MATHML_ATTRIBUTES = {"display", "displaystyle", "scriptlevel", "mathvariant", "mathcolor", "mathbackground",
                      "mathsize", "dir", "fence", "form", "separator", "stretchy", "symmetric", "largeop",
                      "movablelimits", "accent", "accentunder", "lspace", "rspace", "minsize", "maxsize",
                      "linethickness", "width", "height", "depth", "voffset", "columnalign", "rowalign",
                      "columnspan", "rowspan", "columnlines", "rowlines", "columnspacing", "rowspacing", "frame",
                      "framespacing", "notation", "open", "close", "separators", "linebreak", "encoding", "xmlns"}
_TAGS = nh3.ALLOWED_TAGS | {"tfoot"} | MATHML_TAGS
_ATTRIBUTES = {**{tag: set(values) for tag, values in nh3.ALLOWED_ATTRIBUTES.items()},
               "table": {"summary", "align"}, "th": {"rowspan", "colspan", "align", "scope"},
               "td": {"rowspan", "colspan", "align"}, "*": {"title"},
               **{tag: set(_MATHML_ATTRIBUTES) for tag in MATHML_TAGS}}
#: Classes kept: pandas' tables, and highlighted code blocks (Pygments' token classes).
_CLASSES = {"table": {"dataframe"}, "pre": {"nbsql-code"}, "span": {c for c in STANDARD_TYPES.values() if c},
            "code": {"nbsql-tex"}}
FORMATTER = HtmlFormatter(cssclass="nbsql-code", nowrap=False)
_SPANS = HtmlFormatter(nowrap=True)
_LANGUAGE_ALIASES = {"python3": "python", "ipython3": "python", "ipython": "python", "pyspark": "python",
                     "r": "r", "julia": "julia", "c++": "cpp", "c#": "csharp"}


def _attribute_filter(tag: str, attribute: str, value: str) -> str | None:
    if tag == "img" and attribute == "src":
        return value if _DATA_IMAGE.match(value) else None
    if attribute == "href":
        return value if _SAFE_LINK.match(value.strip()) else None
    return value


def sanitize(markup: str) -> Markup:
    """HTML from a notebook, made safe (tables keep their structure; pandas' class is kept)."""
    if (long := _too_long(markup)) is not None:
        return long
    cleaned = nh3.clean(markup, tags=_TAGS, attributes=_ATTRIBUTES, attribute_filter=_attribute_filter,
                        allowed_classes=_CLASSES, url_schemes={"http", "https", "mailto", "data"},
                        link_rel="noopener noreferrer nofollow")
    return Markup(cleaned)


#: Beyond this many characters, text is shown plain and cut (highlighting or sanitising megabytes
#: takes seconds, during which the server answers nobody); the row's JSON holds all of it.
MAX_RENDERED = 100_000


def _too_long(text: str) -> Markup | None:
    if len(text) <= MAX_RENDERED:
        return None
    note = f"\n… showing the first {MAX_RENDERED:,} of {len(text):,} characters"
    return Markup(f'<pre class="nbsql-text">{html.escape(strip_ansi(text[:MAX_RENDERED]))}{note}</pre>')


def math(tex: str, block: bool = False) -> str:
    """LaTeX as MathML (sanitised with the rest of the page), or the TeX as code when it does not convert."""
    try:
        return latex_to_mathml(tex.strip(), display="block" if block else "inline")
    except Exception:  # latex2mathml raises many kinds of error on TeX it does not know
        return f'<code class="nbsql-tex">{html.escape(tex)}</code>'


def _fence(code: str, language: str, _attributes) -> str:
    """A fenced code block in markdown, highlighted when it names a language Pygments knows."""
    lexer = _lexer(language) if language else None
    if lexer is None or isinstance(lexer, TextLexer):
        return ""  # markdown-it's own <pre><code>
    return f'<pre class="nbsql-code">{highlight(code, lexer, _SPANS)}</pre>'


def _markdown_parser() -> MarkdownIt:
    """CommonMark with tables, strikethrough, ``$...$``, ``$$...$$`` and ``\\begin{equation}`` math
    (a ``$`` next to a digit is a dollar, not math: "$5 and $10"), fences highlighted."""
    parser = MarkdownIt("commonmark", {"html": True, "highlight": _fence}).enable("table").enable("strikethrough")
    parser.use(dollarmath_plugin, allow_digits=False, double_inline=True).use(amsmath_plugin)
    inline = lambda self, tokens, i, options, env: math(tokens[i].content)  # noqa: E731
    block = lambda self, tokens, i, options, env: f"<p>{math(tokens[i].content, block=True)}</p>\n"  # noqa: E731
    for name in ("math_inline", "math_inline_double"):
        parser.add_render_rule(name, inline)
    for name in ("math_block", "math_block_label", "amsmath"):
        parser.add_render_rule(name, block)
    return parser


def markdown(source: str, attachments: dict | None = None) -> Markup:
    """Markdown (with its inline HTML) rendered and sanitised; ``attachment:`` images resolved."""
    if (long := _too_long(source)) is not None:
        return long
    rendered = _markdown().render(source)
    if isinstance(attachments, dict) and "attachment:" in rendered:
        def inline(match: re.Match) -> str:
            bundle = attachments.get(html.unescape(match.group(1)))
            bundle = bundle if isinstance(bundle, dict) else {}
            for mime in RASTER_MIMES:
                if isinstance(bundle.get(mime), str):
                    return f'src="data:{mime};base64,{"".join(bundle[mime].split())}"'
            return 'src=""'

        rendered = re.sub(r'src="attachment:([^"]+)"', inline, rendered)
    return sanitize(rendered)


@lru_cache(maxsize=64)
def _lexer(language: str | None):
    name = _LANGUAGE_ALIASES.get((language or "python").lower(), (language or "python").lower())
    try:
        return get_lexer_by_name(name)
    except ClassNotFound:
        return TextLexer()


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    return _markdown_parser()


def latex(text: str) -> Markup:
    """A ``text/latex`` output (``$...$``, ``$$...$$`` or an equation environment) as MathML."""
    return markdown(text)


def code(source: str, language: str | None = "python") -> Markup:
    """Source highlighted by Pygments (its output escapes the source)."""
    if (long := _too_long(source)) is not None:
        return long
    return Markup(highlight(source, _lexer(language), FORMATTER))


def code_excerpt(lines: list[str], first: int, marked: set[int], language: str | None) -> Markup:
    """Lines of a cell highlighted by Pygments, numbered from ``first``, the ``marked`` line
    numbers (1-based in the cell) marked."""
    formatter = HtmlFormatter(cssclass="nbsql-code", linenos="inline", linenostart=first,
                              hl_lines=[number - first + 1 for number in marked])
    lexer = type(_lexer(language))(stripnl=False)  # a first blank line stays, so the numbers stay right
    return Markup(highlight("\n".join(lines) + "\n", lexer, formatter))


def marked_text(lines: list[str], marks: dict[int, list[tuple[int, int]]], css: str = "nbsql-text") -> Markup:
    """Lines as preformatted text with the ``marks`` (line index -> [(start, end)]) in ``<mark>``."""
    out = []
    for index, line in enumerate(lines):
        shown, cursor = [], 0
        for start, end in marks.get(index, []):
            shown += [html.escape(line[cursor:start]), "<mark>", html.escape(line[start:end]), "</mark>"]
            cursor = end
        out.append("".join(shown) + html.escape(line[cursor:]))
    return Markup(f'<pre class="{css}">' + "\n".join(out) + "</pre>")


def preformatted(text: str, css: str = "nbsql-text") -> Markup:
    if len(text) > MAX_RENDERED:
        text = f"{text[:MAX_RENDERED]}\n… showing the first {MAX_RENDERED:,} of {len(text):,} characters"
    return Markup(f'<pre class="{css}">{html.escape(strip_ansi(text))}</pre>')


def linked_image(src: str, alt: str, href: str | None = None) -> Markup:
    """An image the browser fetches (lazily) from this server, rather than bytes inlined in the page."""
    tag = Markup('<img class="nbsql-image" src="{}" alt="{}" loading="lazy">').format(src, alt)
    return Markup('<a href="{}">{}</a>').format(href, tag) if href else tag


def image(mime: str, data: bytes, alt: str = "output image", href: str | None = None,
          max_bytes: int = 2_000_000) -> Markup:
    """An inline image for raster bytes or SVG text (always as an ``<img>``), size-capped."""
    if len(data) > max_bytes:
        label = f"{mime} image, {len(data):,} bytes"
        return Markup(f'<a href="{html.escape(href)}">{label}</a>' if href else f"<span>{label}</span>")
    encoded = base64.b64encode(data).decode()
    tag = f'<img class="nbsql-image" src="data:{mime};base64,{encoded}" alt="{html.escape(alt)}" loading="lazy">'
    return Markup(f'<a href="{html.escape(href)}">{tag}</a>' if href else tag)


def pygments_css() -> str:
    return FORMATTER.get_style_defs(".nbsql-code")
