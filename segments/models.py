from django.db import models
from django.db.models import Q

from crm_project.models import TenantModel


class Segment(TenantModel):
    """A named rule over the account's customers (section 5 of the spec). `rules` holds
    the normalized rule (segments.rules.validate_rule); `customers_count` is how many
    customers matched when it was last counted (on save, on activation, and by the
    periodic task for active segments), null until then."""

    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    active = models.BooleanField(default=True)
    rules = models.JSONField()
    customers_count = models.IntegerField(null=True, blank=True, editable=False)
    counted_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [
            models.Index(fields=["account", "name", "id"], name="segment_name_idx"),
            # The periodic count and /customers/{id}/segments/ read active segments only.
            models.Index(
                fields=["account", "id"], condition=Q(active=True), name="segment_active_idx"
            ),
        ]

    def __str__(self) -> str:
        return self.name
