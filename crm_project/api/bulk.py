"""The one bulk format (SPEC: Bulk endpoints). Each row is validated and applied in
its own savepoint, so one bad row never blocks or half-writes the others, and the
answer reports every row."""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from drf_standardized_errors.formatter import flatten_errors
from rest_framework import serializers
from rest_framework.exceptions import APIException, ValidationError

MAX_BULK_ROWS = 1000

CREATED, UPDATED, SKIPPED, FAILED = "created", "updated", "skipped", "failed"


@dataclass
class RowResult:
    status: str
    id: Any = None
    errors: list[dict[str, Any]] = field(default_factory=list)


def row_errors(exc: APIException) -> list[dict[str, Any]]:
    return [
        {"code": e.code, "detail": e.detail, "attr": e.attr} for e in flatten_errors(exc.detail)
    ]


def run_bulk(rows: list[Any], apply_row: Callable[[Any], RowResult]) -> dict[str, Any]:
    """Apply `apply_row` to each row in its own savepoint; collect the SPEC's answer."""
    counts = {CREATED: 0, UPDATED: 0, SKIPPED: 0, FAILED: 0}
    results = []
    for index, row in enumerate(rows):
        try:
            if not isinstance(row, dict):
                raise ValidationError(
                    {"non_field_errors": ["Each row must be an object."]}, code="invalid"
                )
            with transaction.atomic():
                result = apply_row(row)
        except APIException as exc:
            result = RowResult(FAILED, errors=row_errors(exc))
        except IntegrityError:
            result = RowResult(
                FAILED,
                errors=[
                    {"code": "conflict", "detail": "Conflicts with an existing row.", "attr": None}
                ],
            )
        counts[result.status] += 1
        results.append(
            {
                "index": index,
                "status": result.status,
                "id": str(result.id) if result.id is not None else None,
                "errors": result.errors,
            }
        )
    return {**counts, "results": results}


class BulkRowResultSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    status = serializers.ChoiceField(choices=[CREATED, UPDATED, SKIPPED, FAILED])
    id = serializers.UUIDField(allow_null=True)
    errors = serializers.ListField(child=serializers.DictField())


class BulkResultSerializer(serializers.Serializer):
    """For the schema: the answer of every `/bulk/` endpoint."""

    created = serializers.IntegerField()
    updated = serializers.IntegerField()
    skipped = serializers.IntegerField()
    failed = serializers.IntegerField()
    results = BulkRowResultSerializer(many=True)
