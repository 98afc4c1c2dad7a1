"""`flush` (also what transactional tests run between tests) as the database owner:
it empties tables with TRUNCATE, which ignores row-level security and which the
application role is therefore not granted."""

from django.core.management.commands.flush import Command as DjangoFlushCommand

from crm_project.tenancy import dangerously_as_database_owner


class Command(DjangoFlushCommand):
    def handle(self, *args, **options):
        with dangerously_as_database_owner():
            return super().handle(*args, **options)
