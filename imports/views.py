"""The back office's import pages: `/import/` (upload form and recent imports) and
`/import/<id>/` (one import: a live progress bar fed by the job's JSON every second,
the summary, the first errors and the link to the error report)."""

import uuid

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import Role
from crm_project.errors import Conflict
from crm_project.views import account_role_required
from imports import selectors, services
from imports.kinds import KIND_NAMES
from imports.models import DateFormat, OnConflict

KIND_LABELS = {
    "customers": "Customers",
    "leads": "Leads",
    "orders": "Orders (one line per item)",
    "products": "Products",
}
ERRORS_SHOWN = 100
RECENT = 10


class ImportForm(forms.Form):
    kind = forms.ChoiceField(
        label="What the file holds", choices=[(k, KIND_LABELS[k]) for k in KIND_NAMES]
    )
    file = forms.FileField(
        label="CSV file",
        help_text="UTF-8 or Latin-1/Windows-1252; comma, semicolon or tab separated; "
        "the first line names the columns.",
    )
    on_conflict = forms.ChoiceField(
        label="A row matching a stored record",
        choices=OnConflict.choices,
        initial=OnConflict.UPDATE,
    )
    date_format = forms.ChoiceField(
        label="Dates such as 03/04/2024",
        choices=[
            (DateFormat.AUTO, "Detect from the file"),
            (DateFormat.DMY, "Day first (31/12/2024)"),
            (DateFormat.MDY, "Month first (12/31/2024)"),
        ],
        initial=DateFormat.AUTO,
        help_text="ISO dates (2024-12-31) are always read.",
    )
    dry_run = forms.BooleanField(
        label="Dry run: report what would happen, write nothing", required=False
    )

    def clean_file(self) -> object:
        upload = self.cleaned_data["file"]
        if upload.size > settings.FILE_UPLOAD_MAX_SIZE:
            raise forms.ValidationError(
                "The file is too large: at most "
                f"{settings.FILE_UPLOAD_MAX_SIZE // (1024 * 1024)} MB."
            )
        return upload


@require_http_methods(["GET", "POST"])
@account_role_required(Role.MEMBER)
def upload(request: HttpRequest) -> HttpResponse:
    account = request.account  # type: ignore[attr-defined]
    form = ImportForm(
        request.POST or None,
        request.FILES or None,
        initial={"kind": request.GET.get("kind", "customers")},
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        job = services.import_job_create(
            account=account,
            kind=data["kind"],
            filename=data["file"].name,
            chunks=data["file"].chunks(),
            on_conflict=data["on_conflict"],
            dry_run=data["dry_run"],
            date_format=data["date_format"],
            created_by=request.user,
        )
        return redirect("imports:detail", job_id=job.pk)
    recent = list(selectors.import_job_list(account)[:RECENT])
    status = 400 if request.method == "POST" else 200
    return render(request, "imports/upload.html", {"form": form, "recent": recent}, status=status)


def _job_or_404(request: HttpRequest, job_id: uuid.UUID) -> object:
    job = selectors.import_job_get(request.account, job_id)  # type: ignore[attr-defined]
    if job is None:
        raise Http404("No such import.")
    return job


@require_http_methods(["GET"])
@account_role_required(Role.READ_ONLY)
def detail(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    job = _job_or_404(request, job_id)
    return render(
        request,
        "imports/detail.html",
        {"job": job, "errors": (job.errors or [])[:ERRORS_SHOWN], "errors_shown": ERRORS_SHOWN},
    )


@require_POST
@account_role_required(Role.MEMBER)
def cancel(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    job = _job_or_404(request, job_id)
    try:
        services.import_job_cancel(job=job)  # type: ignore[arg-type]
        messages.info(request, "The import stops after its current chunk; what it wrote is kept.")
    except Conflict:
        messages.warning(request, "This import had already finished.")
    return redirect("imports:detail", job_id=job_id)
