"""The back office's navigation. A section is a link once its app routes the url name
below, and a disabled "soon" item until then: later apps light up their section by
adding the url name, without touching the base template."""

from dataclasses import dataclass
from typing import Any

from django import template
from django.urls import NoReverseMatch, reverse

from accounts.models import Role

register = template.Library()

# (label, url name, the path the section will live at). The path is documentation only:
# the link always comes from `reverse()`. Until the client table takes "/", an
# "Overview" item leads to the home page.
SECTIONS = (
    ("Clients", "customers:list", "/"),
    ("Import", "imports:upload", "/import/"),
    ("Segments", "segments:builder", "/segments/"),
    ("Campaigns", "campaigns:list", "/campaigns/"),
    ("Leads", "leads:board", "/leads/"),
    ("Loyalty", "loyalty:overview", "/loyalty/"),
    ("Dashboard", "dashboard", "/dashboard/"),
)


@dataclass(frozen=True)
class NavItem:
    label: str
    url: str | None  # None: the section is not built yet
    current: bool = False


def _url_or_none(name: str) -> str | None:
    try:
        return reverse(name)
    except NoReverseMatch:
        return None


def _is_current(path: str, url: str | None) -> bool:
    if url is None:
        return False
    return path == url if url == "/" else path.startswith(url)


@register.simple_tag(takes_context=True)
def nav_sections(context: Any) -> list[NavItem]:
    """`{% nav_sections as sections %}`: every section, in order, with its link (or
    None) and whether the current page belongs to it."""
    request = context.get("request")
    path = getattr(request, "path", "")
    items = []
    if _url_or_none(SECTIONS[0][1]) is None:
        home = _url_or_none("home")
        items.append(NavItem(label="Overview", url=home, current=_is_current(path, home)))
    for label, url_name, _path in SECTIONS:
        url = _url_or_none(url_name)
        items.append(NavItem(label=label, url=url, current=_is_current(path, url)))
    return items


@register.simple_tag(takes_context=True)
def nav_is_current(context: Any, url_name: str) -> bool:
    """`{% nav_is_current "api-keys" as here %}`: whether the request is on that page."""
    request = context.get("request")
    return _is_current(getattr(request, "path", ""), _url_or_none(url_name))


@register.filter
def role_label(value: str | None) -> str:
    """`{{ current_role|role_label }}`: "Read only" for "read_only"."""
    try:
        return Role(value).label
    except ValueError:
        return ""
