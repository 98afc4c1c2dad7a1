"""The API's routes as the URL resolver knows them, for tests that must cover every
endpoint (a route added later is covered without editing the test)."""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.urls import NoReverseMatch, URLPattern, URLResolver, get_resolver, reverse


@dataclass(frozen=True)
class Route:
    name: str
    view_class: type
    actions: dict[str, str]
    kwargs: tuple[str, ...]
    initkwargs: dict[str, Any]

    def url(self, **kwargs: Any) -> str:
        return reverse(self.name, kwargs=kwargs)


def _walk(patterns: list[Any], namespace: str = "") -> Iterator[tuple[str, URLPattern]]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            yield from _walk(pattern.url_patterns, inner)
        elif isinstance(pattern, URLPattern):
            yield namespace, pattern


def api_routes() -> list[Route]:
    """Every named route under /api/v1/ served by a class-based DRF view."""
    routes = []
    for namespace, pattern in _walk(get_resolver().url_patterns):
        view_class = getattr(pattern.callback, "cls", None)
        if view_class is None or not pattern.name:
            continue
        name = namespace + pattern.name
        kwargs = tuple(pattern.pattern.regex.groupindex)
        try:
            path = reverse(name, kwargs={k: "00000000-0000-0000-0000-000000000000" for k in kwargs})
        except NoReverseMatch:  # its kwargs are not ids: not an API route
            continue
        if not path.startswith("/api/v1/"):
            continue
        actions = getattr(pattern.callback, "actions", None) or {"get": "get"}
        initkwargs = getattr(pattern.callback, "initkwargs", {})
        routes.append(Route(name, view_class, dict(actions), kwargs, initkwargs))
    return routes


def collection_routes() -> list[Route]:
    """GET routes that answer a collection (no object `pk` in the path): lists, searches,
    exports and a nested object's lists."""
    return [r for r in api_routes() if "get" in r.actions and "pk" not in r.kwargs]


def list_routes() -> list[Route]:
    """Routes whose GET is a viewset's `list`."""
    return [r for r in api_routes() if r.actions.get("get") == "list"]
