"""The template language of messages: Django's, in a sandbox.

A message template is written by an account's user and rendered for each recipient
from a plain dict (never a model object), so the engine is a dedicated `Engine` with no
loaders and no libraries, whose only built-in tags and filters are the harmless ones:

- Tags allowed: `if`/`elif`/`else`, `with`, `firstof`, `filter`, `now`, `comment`,
  `spaceless`, `verbatim`, `templatetag`, `widthratio`. Refused, each for a reason:
  `load` (would reach libraries), `include`/`extends`/`block`/`partial`/`partialdef`
  (would reach other templates), `url`/`csrf_token`/`querystring`/`csp_nonce_attr`
  (need a request or the URL conf), `debug` (dumps the context), `autoescape` (would
  let customer data through unescaped in HTML), `for`/`cycle`/`ifchanged`/`regroup`/
  `resetcycle`/`lorem` (a message has nothing to iterate over, and loops are how a small
  template makes a huge output).
- Filters: a fixed list (ALLOWED_FILTERS). Refused: `safe`/`safeseq` (unescaped
  customer data), padding (`center`, `ljust`, `rjust`, `stringformat`: unbounded
  output), `pprint`, `random`, and the others a message has no use for. `add` only adds
  numbers, `floatformat` takes at most 20 places, and any filter's result is cut to
  nothing past MAX_FILTER_OUTPUT characters, so no chain of filters grows without bound.
  A filter that fails on a value (a number where text was expected) leaves the value
  as it was: rendering never raises for any context of strings, numbers and None.
- Values: `{{ first_name }}`, `{{ metadata.KEY }}`, `{{ account.name }}`... A missing
  value renders empty. The context is frozen before rendering (mappings become
  read-only proxies, lists tuples), so a template cannot change what it is given
  (`{{ metadata.clear }}` would otherwise empty a dict shared by a chunk).
- HTML email escapes values (autoescape on); SMS and plain-text email do not.

`template_compile` raises InvalidTemplate (with the line) for what does not compile;
compiled templates are cached by their text (bounded LRU)."""

import functools
import re
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from types import MappingProxyType
from typing import Any

from django.template import (
    Context,
    Engine,
    Library,
    Template,
    TemplateSyntaxError,
    defaultfilters,
    defaulttags,
)
from django.template.base import Lexer, TokenType

from campaigns.errors import InvalidTemplate

MAX_TEMPLATE_BYTES = 64 * 1024  # UTF-8; a 100 KB template is refused
MAX_FILTER_OUTPUT = 10_000  # characters of one filter's result
MAX_FLOAT_PLACES = 20
CACHE_SIZE = 512  # compiled templates kept

ALLOWED_TAGS = (
    "comment",
    "filter",
    "firstof",
    "if",
    "now",
    "spaceless",
    "templatetag",
    "verbatim",
    "widthratio",
    "with",
)
FORBIDDEN_TAGS = frozenset(
    {
        "autoescape",
        "block",
        "csp_nonce_attr",
        "csrf_token",
        "cycle",
        "debug",
        "extends",
        "for",
        "ifchanged",
        "include",
        "load",
        "lorem",
        "partial",
        "partialdef",
        "querystring",
        "regroup",
        "resetcycle",
        "ssi",
        "url",
    }
)
ALLOWED_FILTERS = (
    "capfirst",
    "cut",
    "date",
    "default",
    "default_if_none",
    "divisibleby",
    "escape",
    "filesizeformat",
    "first",
    "force_escape",
    "get_digit",
    "iriencode",
    "join",
    "last",
    "length",
    "linebreaks",
    "linebreaksbr",
    "lower",
    "pluralize",
    "slice",
    "slugify",
    "striptags",
    "time",
    "timesince",
    "timeuntil",
    "title",
    "truncatechars",
    "truncatechars_html",
    "truncatewords",
    "truncatewords_html",
    "upper",
    "urlencode",
    "urlize",
    "wordcount",
    "wordwrap",
    "yesno",
)

# What a preview or a check renders a template with: every documented variable set.
SAMPLE_CONTEXT: dict[str, Any] = {
    "first_name": "Alex",
    "last_name": "Martin",
    "name": "Alex Martin",
    "email": "alex.martin@example.com",
    "metadata": {},
    "attributes": {},
    "account": {"name": "Your Shop", "ai_assistant_name": "Assistant", "attributes": {}},
    "unsubscribe_url": "https://example.com/u/sample-token",
}

_FILTER_ERRORS = (
    TypeError,
    ValueError,
    ArithmeticError,
    AttributeError,
    LookupError,
    InvalidOperation,
    RecursionError,
)


def _guarded(func: Callable[..., Any]) -> Callable[..., Any]:
    """`func` leaving its value as it was when it fails on it, and answering nothing
    when its result would be longer than MAX_FILTER_OUTPUT."""

    @functools.wraps(func)
    def guarded(value: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            result = func(value, *args, **kwargs)
        except _FILTER_ERRORS:
            return value
        if isinstance(result, str) and len(result) > MAX_FILTER_OUTPUT:
            return ""
        return result

    return guarded


def _add(value: Any, arg: Any) -> Any:
    """Django's `add` for numbers only: joining strings or lists is how a chain of
    `with` tags doubles a value at each step."""
    try:
        return int(value) + int(arg)
    except (ValueError, TypeError):
        pass
    try:
        return Decimal(str(value)) + Decimal(str(arg))
    except (InvalidOperation, ValueError, TypeError):
        return value


def _floatformat(text: Any, arg: Any = -1) -> Any:
    places = re.search(r"\d+", str(arg))
    if places and int(places.group()) > MAX_FLOAT_PLACES:
        return text
    return defaultfilters.floatformat(text, arg)


def _library() -> Library:
    library = Library()
    for name in ALLOWED_TAGS:
        library.tags[name] = defaulttags.register.tags[name]
    own: dict[str, Callable[..., Any]] = {"add": _add, "floatformat": _floatformat}
    for name in (*ALLOWED_FILTERS, *own):
        original = defaultfilters.register.filters.get(name)
        func = own.get(name) or original
        assert func is not None
        flags = {
            flag: getattr(original, flag)
            for flag in ("expects_localtime", "is_safe", "needs_autoescape")
            if hasattr(original, flag)
        }
        library.filter(name, _guarded(func), **flags)
    return library


_LIBRARY = _library()


def _engine(*, autoescape: bool) -> Engine:
    engine = Engine(
        dirs=[],
        app_dirs=False,
        loaders=[],
        libraries={},
        autoescape=autoescape,
        debug=True,  # syntax errors carry their line
        string_if_invalid="",
    )
    # Engine always adds Django's default builtins: replace them with the sandbox's.
    engine.template_builtins = [_LIBRARY]
    return engine


_HTML_ENGINE = _engine(autoescape=True)
_TEXT_ENGINE = _engine(autoescape=False)


# A customer's columns templates read (the claim selects them; the preview reads them).
RECIPIENT_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "company",
    "city",
    "country",
    "metadata",
    "tags",
)


def recipient_values(
    *, first_name: str, last_name: str, email: str, phone: str, **extra: Any
) -> dict[str, Any]:
    """A recipient's values as templates read them (`name` is the full name): the same
    for delivery and for the composer's preview. `extra`: a customer's company, city,
    country, metadata and tags."""
    values = {
        "first_name": first_name,
        "last_name": last_name,
        "name": f"{first_name} {last_name}".strip(),
        "email": email,
        "phone": phone,
        **extra,
    }
    for key, empty in (("metadata", {}), ("tags", [])):
        if key in values and values[key] is None:
            values[key] = empty
    return values


def account_values(*, name: str, ai_assistant_name: str, attributes: Any) -> dict[str, Any]:
    """The account as templates read it (`{{ account.name }}`...)."""
    return {"name": name, "ai_assistant_name": ai_assistant_name, "attributes": attributes or {}}


_HTML_TAG = re.compile(r"<\s*[a-zA-Z][^>]*>")


def looks_like_html(template: str) -> bool:
    """An email whose template holds HTML markup goes as HTML (values escaped) with a
    plain-text alternative; any other email, and every SMS, is plain text."""
    return bool(_HTML_TAG.search(template))


def template_compile(text: str, *, html: bool) -> Template:
    """`text` compiled in the sandbox (autoescaping when `html`), or InvalidTemplate
    saying what is wrong and on which line. Compiled templates are cached."""
    if not isinstance(text, str):
        raise InvalidTemplate("A template is text.", code="invalid_type")
    if "\x00" in text:
        raise InvalidTemplate("Templates cannot contain NUL characters.", code="nul_character")
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidTemplate(
            "The template is not valid text (a lone surrogate character).", code="invalid"
        ) from None
    if size > MAX_TEMPLATE_BYTES:
        raise InvalidTemplate(
            f"Templates are at most {MAX_TEMPLATE_BYTES // 1024} KB (this one is "
            f"{size // 1024} KB).",
            code="too_large",
        )
    return _compile(text, html)


@functools.lru_cache(maxsize=CACHE_SIZE)
def _compile(text: str, html: bool) -> Template:
    _refuse_forbidden_tags(text)
    try:
        return Template(text, engine=_HTML_ENGINE if html else _TEXT_ENGINE)
    except TemplateSyntaxError as exc:
        debug = getattr(exc, "template_debug", None) or {}
        line = debug.get("line")
        raise InvalidTemplate(_explained(str(exc), line), line=line) from None
    except RecursionError:
        raise InvalidTemplate("The template nests too deeply.") from None


def _refuse_forbidden_tags(text: str) -> None:
    in_comment = False
    for token in Lexer(text).tokenize():
        if token.token_type != TokenType.BLOCK:
            continue
        name = token.contents.split(maxsplit=1)[0] if token.contents.strip() else ""
        if in_comment:
            in_comment = name != "endcomment"
            continue
        if name == "comment":
            in_comment = True
        elif name in FORBIDDEN_TAGS:
            raise InvalidTemplate(
                f"Line {token.lineno}: the tag {{% {name} %}} is not allowed in messages.",
                line=token.lineno,
                code="forbidden_tag",
            )


_INVALID_FILTER = re.compile(r"Invalid filter: '([^']*)'")
_INVALID_TAG = re.compile(r"Invalid block tag: '([^']*)'.*", re.DOTALL)
_ON_LINE = re.compile(r" on line \d+")


def _explained(message: str, line: int | None) -> str:
    """Django's message made about messages: the line first, forbidden filters named
    as such."""
    found = _INVALID_FILTER.search(message)
    if found and found.group(1) in defaultfilters.register.filters:
        message = f"the filter {found.group(1)!r} is not allowed in messages."
    message = _ON_LINE.sub("", message).rstrip()
    message = _INVALID_TAG.sub(r"unknown tag {% \1 %}.", message)
    return f"Line {line}: {message}" if line else message


def _frozen(value: Any) -> Any:
    if value is None:  # a null field renders empty, like a missing one
        return ""
    if isinstance(value, MappingProxyType):  # frozen already (frozen_context)
        return value
    if isinstance(value, Mapping):
        return MappingProxyType({key: _frozen(item) for key, item in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_frozen(item) for item in value)
    return value


def frozen_context(context: Mapping[str, Any]) -> Mapping[str, Any]:
    """`context` made read-only all the way down (a template can call a value's
    methods: none may change it), once for several renders; None values become ""."""
    return _frozen(context)


def render(compiled: Template, context: Mapping[str, Any]) -> str:
    """`compiled` rendered with `context`, a plain mapping (values: strings, numbers,
    booleans, None, dates, and mappings and lists of them) or one frozen_context made.
    None renders empty."""
    return compiled.render(Context(_frozen(context), autoescape=compiled.engine.autoescape))


def render_text(text: str, context: Mapping[str, Any], *, html: bool) -> str:
    """Compile (cached) and render in one step; InvalidTemplate as template_compile."""
    return render(template_compile(text, html=html), context)
