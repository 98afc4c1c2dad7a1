from imports.management.commands._base import ImportCommand


class Command(ImportCommand):
    help = (
        "Import leads from a CSV file into an account (the engine of POST /api/v1/imports/), "
        "with a progress bar; prints created=N updated=N skipped=N failed=N and the error "
        "report's path."
    )
    kind = "leads"
