"""The one bulk format (SPEC: Bulk endpoints). Each row is validated and applied in
its own savepoint, so one bad row never blocks or half-writes the others, and the
answer reports every row: a row that raises anything at all fails with a reason, its
savepoint rolled back, and the next row goes on."""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from drf_standardized_errors.formatter import flatten_errors
from rest_framework import serializers
from rest_framework.exceptions import APIException, ValidationError

from crm_project.api.errors import api_exception
from crm_project.errors import ServiceError
from crm_project.writes import CREATED, FAILED, OUTCOMES, SKIPPED, UPDATED

log = logging.getLogger(__name__)

MAX_BULK_ROWS = 1000


@dataclass
class RowResult:
    status: str
    id: Any = None
    errors: list[dict[str, Any]] = field(default_factory=list)


def row_errors(exc: APIException) -> list[dict[str, Any]]:
    return [
        {"code": e.code, "detail": e.detail, "attr": e.attr} for e in flatten_errors(exc.detail)
    ]


def _failed_row(exc: Exception, index: int) -> RowResult:
    """The reason a row failed, for every kind of exception a row can raise."""
    if isinstance(exc, DjangoValidationError):
        exc = ValidationError(serializers.as_serializer_error(exc))
    if isinstance(exc, ServiceError):
        exc = api_exception(exc)
    if isinstance(exc, APIException):
        return RowResult(FAILED, errors=row_errors(exc))
    if isinstance(exc, IntegrityError):
        error = {"code": "conflict", "detail": "Conflicts with an existing row.", "attr": None}
        return RowResult(FAILED, errors=[error])
    # A defect, not the caller's input: logged with its traceback for the operators;
    # the caller learns only that this row was not applied.
    log.error("Bulk row %d failed unexpectedly", index, exc_info=exc)
    error = {"code": "error", "detail": "This row could not be applied.", "attr": None}
    return RowResult(FAILED, errors=[error])


def _answer(results: list[RowResult]) -> dict[str, Any]:
    """The SPEC's answer: the counts of each outcome and every row's result."""
    counts = {CREATED: 0, UPDATED: 0, SKIPPED: 0, FAILED: 0}
    for result in results:
        counts[result.status] += 1
    rows = [
        {
            "index": index,
            "status": result.status,
            "id": str(result.id) if result.id is not None else None,
            "errors": result.errors,
        }
        for index, result in enumerate(results)
    ]
    return {**counts, "results": rows}


def _must_be_an_object(row: Any) -> None:
    if not isinstance(row, dict):
        raise ValidationError({"non_field_errors": ["Each row must be an object."]}, code="invalid")


def run_bulk(rows: list[Any], apply_row: Callable[[Any], RowResult]) -> dict[str, Any]:
    """Apply `apply_row` to each row in its own savepoint; collect the SPEC's answer."""
    results = []
    for index, row in enumerate(rows):
        try:
            _must_be_an_object(row)
            # Leaving the block by an exception rolls the row's savepoint back.
            with transaction.atomic():
                result = apply_row(row)
        except Exception as exc:  # noqa: BLE001  (every failure is reported on its row)
            result = _failed_row(exc, index)
        results.append(result)
    return _answer(results)


Applied = tuple[str, Any] | Exception  # (outcome, id), or why the row was not written


def run_bulk_at_once(
    rows: list[Any],
    validate_row: Callable[[dict], Any],
    apply_rows: Callable[[list[Any]], list[Applied]],
) -> dict[str, Any]:
    """run_bulk's answer for a service that writes many rows at once: each row is
    validated alone (`validate_row`: an exception fails that row), then the valid ones
    go to `apply_rows` together, which answers each one's outcome in order (it writes
    nothing for a row it refuses)."""
    results: list[RowResult | None] = [None] * len(rows)
    positions, valid = [], []
    for index, row in enumerate(rows):
        try:
            _must_be_an_object(row)
            valid.append(validate_row(row))
        except Exception as exc:  # noqa: BLE001  (every failure is reported on its row)
            results[index] = _failed_row(exc, index)
        else:
            positions.append(index)
    for index, applied in zip(positions, apply_rows(valid) if valid else [], strict=True):
        if isinstance(applied, Exception):
            results[index] = _failed_row(applied, index)
        else:
            results[index] = RowResult(*applied)
    return _answer([result for result in results if result is not None])


class BulkRowResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    status = serializers.ChoiceField(choices=list(OUTCOMES))
    id = serializers.UUIDField(allow_null=True)
    errors = serializers.ListField(child=serializers.DictField())


class BulkResultSerializer(serializers.Serializer):
    """For the schema: the answer of every `/bulk/` endpoint."""

    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    skipped = serializers.IntegerField()
    failed = serializers.IntegerField()
    results = BulkRowResultSerializer(many=True)
