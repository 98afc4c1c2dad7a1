"""The base classes every API view builds on.

`ScopedAPIView` runs each request inside the scope its credentials give: the account's
scope (one transaction, PostgreSQL's `app.account_id` set) for tenant views, an explicit
`unscoped()` block for platform views. `TenantViewSet.get_queryset` is final: it always
filters by the request's account; views narrow it in `get_scoped_queryset`."""

from contextlib import ExitStack
from typing import Any

from django.db import models
from rest_framework import mixins, status, viewsets
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from crm_project.api import idempotency
from crm_project.api.authentication import Access, credential_id, resolve_access
from crm_project.api.permissions import HasAccountRole, IsPlatformAdmin
from crm_project.tenancy import account_scope, unscoped


class ScopedAPIView(APIView):
    """An API view whose whole request runs inside the caller's account scope."""

    platform = False  # platform views run unscoped and need superuser credentials
    scope_opened = False

    def dispatch(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        with ExitStack() as stack:
            self._scope_stack = stack
            response = super().dispatch(request, *args, **kwargs)
            # The browsable API renders querysets (forms, filters): render inside the
            # scope, not after it has closed.
            if hasattr(response, "render") and not getattr(response, "is_rendered", True):
                response.render()
        return response

    def perform_authentication(self, request: Request) -> None:
        super().perform_authentication(request)
        access: Access | None = resolve_access(request)
        request.access = access  # type: ignore[attr-defined]
        if access is None:
            return
        if self.platform:
            self._scope_stack.enter_context(unscoped())
            self.scope_opened = True
        elif access.account is not None:
            self._scope_stack.enter_context(account_scope(access.account))
            self.scope_opened = True

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        self._idempotency_claim = None
        access = getattr(request, "access", None)
        if access is not None and access.account is not None and not self.platform:
            self._idempotency_claim = idempotency.claim(
                request, access.account.pk, credential_id(request) or ""
            )

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, idempotency.Replay):
            return exc.response
        return super().handle_exception(exc)

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        claim = getattr(self, "_idempotency_claim", None)
        if claim is not None and isinstance(response, Response):
            if status.is_success(response.status_code):
                idempotency.store(claim, response)
            else:
                idempotency.release(claim)
            self._idempotency_claim = None
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Cache-Control"] = "no-store"
        return response

    def get_permissions(self) -> list[Any]:
        if self.platform:
            return [IsPlatformAdmin()]
        return super().get_permissions()

    @property
    def account(self) -> Any:
        """The request's account: from the credentials, never from the body or URL."""
        return self.request.access.account  # type: ignore[attr-defined]


class TenantViewSetMixin:
    """Querysets of tenant data, always filtered by the request's account. Declare
    `model` (a class-level queryset cannot exist: there is no scope at import time)."""

    model: type[models.Model] | None = None
    permission_classes = [HasAccountRole]

    def get_scoped_queryset(self) -> models.QuerySet:
        """Narrow the account's rows (select_related, annotations, filters)."""
        assert self.model is not None, f"{type(self).__name__} needs a model"
        return self.model._default_manager.all()

    def get_queryset(self) -> models.QuerySet:
        # Final: subclasses override get_scoped_queryset, never this.
        if getattr(self, "swagger_fake_view", False):  # schema generation, no request
            assert self.model is not None
            return self.model._default_manager.none()
        account = self.request.access.account  # type: ignore[attr-defined]
        return self.get_scoped_queryset().filter(account=account)

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()  # type: ignore[misc]
        access = getattr(self.request, "access", None)  # type: ignore[attr-defined]
        context["account"] = access.account if access else None
        return context


def _final_get_queryset(cls: type) -> None:
    if "get_queryset" in vars(cls) and cls.__module__ != __name__:
        raise TypeError(
            f"{cls.__qualname__} overrides get_queryset; override get_scoped_queryset instead."
        )


class TenantGenericViewSet(TenantViewSetMixin, ScopedAPIView, viewsets.GenericViewSet):
    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _final_get_queryset(cls)


class PartialUpdateMixin(mixins.UpdateModelMixin):
    """Updates where PUT and PATCH are both partial (the seeds update with partial
    PUTs; SPEC: API conventions)."""

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        kwargs["partial"] = True
        return super().update(request, *args, **kwargs)


class TenantModelViewSet(
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    PartialUpdateMixin,
    mixins.DestroyModelMixin,
    mixins.ListModelMixin,
    TenantGenericViewSet,
):
    """CRUD over one tenant model. Writes go through the services named by the
    subclass's `perform_create` / `perform_update` / `perform_destroy`."""


class PlatformGenericViewSet(ScopedAPIView, viewsets.GenericViewSet):
    platform = True


def require_list(data: Any, key: str, *, max_rows: int) -> list[Any]:
    """The rows of a bulk body: `{key: [...]}` or a bare list, at most `max_rows`."""
    rows = data.get(key) if isinstance(data, dict) else data
    if not isinstance(rows, list):
        raise ValidationError({key: ["Expected a list of rows."]}, code="not_a_list")
    if not rows:
        raise ValidationError({key: ["At least one row is required."]}, code="empty")
    if len(rows) > max_rows:
        raise ValidationError(
            {key: [f"At most {max_rows} rows per call; got {len(rows)}."]}, code="too_many_rows"
        )
    return rows
