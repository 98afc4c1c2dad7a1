"""What every write reports, and how a unique constraint's verdict reaches the caller.

Outcomes: a create-or-update (services' `*_upsert`, bulk rows, import rows) reports
`created`, `updated` or `skipped` (nothing would change); a bulk or import row that
could not be written is `failed`.

Unique constraints decide whether a key is taken (STYLE: idempotent by construction):
a write runs in a savepoint, and the violation of a known constraint becomes the error
the app chose for it (a 409 naming the field, mostly), never a check-then-write."""

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from django.db import IntegrityError, transaction

CREATED, UPDATED, SKIPPED, FAILED = "created", "updated", "skipped", "failed"
OUTCOMES = (CREATED, UPDATED, SKIPPED, FAILED)


def constraint_of(exc: IntegrityError) -> str | None:
    """The name of the constraint PostgreSQL reports as violated."""
    diag = getattr(exc.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None)


@contextmanager
def unique_conflicts(errors: Mapping[str, Callable[[], Exception]]) -> Iterator[None]:
    """Run the block in a savepoint; a violation of a constraint named in `errors`
    raises the exception its factory makes, any other IntegrityError propagates."""
    try:
        with transaction.atomic():
            yield
    except IntegrityError as exc:
        make = errors.get(constraint_of(exc) or "")
        if make is None:
            raise
        raise make() from None
