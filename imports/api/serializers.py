"""Shapes of the imports API."""

from typing import Any

from django.urls import reverse
from rest_framework import serializers

from crm_project.api.fields import ChoiceField, ModelSerializer
from imports.kinds import KIND_NAMES
from imports.models import DateFormat, ImportJob, OnConflict


class ImportErrorSerializer(serializers.Serializer):
    line = serializers.IntegerField(help_text="The physical line the row starts on (header: 1).")
    column = serializers.CharField(allow_null=True, help_text="The file's header, or null.")
    value = serializers.CharField(allow_null=True)
    message = serializers.CharField()


class ImportJobSerializer(ModelSerializer):
    errors = ImportErrorSerializer(many=True, read_only=True, help_text="The first 1,000.")
    warnings = serializers.ListField(child=serializers.CharField(), read_only=True)
    errors_url = serializers.SerializerMethodField(
        help_text="errors.csv: every failed row's original cells, then `line` and `reason`."
    )

    class Meta:
        model = ImportJob
        fields = [
            "id",
            "kind",
            "filename",
            "file_size",
            "status",
            "phase",
            "on_conflict",
            "dry_run",
            "date_format",
            "total_rows",
            "processed_rows",
            "created",
            "updated",
            "skipped",
            "failed",
            "errors",
            "error_count",
            "warnings",
            "message",
            "cancel_requested",
            "attempts",
            "heartbeat_at",
            "errors_url",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields

    def get_errors_url(self, job: ImportJob) -> str:
        path = reverse("import-report", kwargs={"pk": job.pk})
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request is not None else path


class ImportCreateSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True, help_text="A CSV file.")
    kind = serializers.CharField(help_text=f"One of: {', '.join(KIND_NAMES)}.")
    on_conflict = ChoiceField(choices=OnConflict.choices, default=OnConflict.UPDATE)
    dry_run = serializers.BooleanField(default=False)
    date_format = ChoiceField(
        choices=DateFormat.choices,
        default=DateFormat.AUTO,
        help_text="How to read dates such as 03/04/2024: dmy, mdy, or auto (from the file).",
    )

    def validate_kind(self, value: str) -> str:
        kind = value.strip().lower()
        if kind not in KIND_NAMES:
            raise serializers.ValidationError(
                f"Unknown kind {value!r}: use one of {', '.join(KIND_NAMES)}.",
                code="invalid_choice",
            )
        return kind


class CustomerImportSerializer(ImportCreateSerializer):
    """`POST /customers/import/`: the kind is customers."""

    kind = None  # type: ignore[assignment]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return {**attrs, "kind": "customers"}


class LeadImportSerializer(ImportCreateSerializer):
    """`POST /leads/import/`: the kind is leads."""

    kind = None  # type: ignore[assignment]

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return {**attrs, "kind": "leads"}
