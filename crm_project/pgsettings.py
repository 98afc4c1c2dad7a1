"""PostgreSQL settings changed for one statement: `local_settings` sets them in the
caller's transaction (an account scope always holds one; without one, the block gets
its own) and gives the earlier values back after, so the statements after it plan and
run as before."""

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

from django.db import connection, transaction


@contextmanager
def local_settings(**values: str) -> Iterator[None]:
    """Run the block with these settings (`jit="off"`, `work_mem="256MB"`...), each
    transaction-local, restored after the block whatever happens in it."""
    names = list(values)
    own = nullcontext() if connection.in_atomic_block else transaction.atomic()
    with own:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT "
                + ", ".join(["current_setting(%s)"] * len(names))
                + ", "
                + ", ".join(["set_config(%s, %s, true)"] * len(names)),
                [*names, *(item for name in names for item in (name, values[name]))],
            )
            earlier = cursor.fetchone()[: len(names)]
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT " + ", ".join(["set_config(%s, %s, true)"] * len(names)),
                    [
                        item
                        for name, value in zip(names, earlier, strict=True)
                        for item in (name, value)
                    ],
                )
