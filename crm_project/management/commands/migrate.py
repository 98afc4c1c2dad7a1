"""`migrate` as the database owner: the application role cannot create tables and
row-level security must not hide rows from data migrations."""

from django.core.management.commands.migrate import Command as DjangoMigrateCommand

from crm_project.tenancy import dangerously_as_database_owner


class Command(DjangoMigrateCommand):
    def handle(self, *args, **options):
        with dangerously_as_database_owner():
            return super().handle(*args, **options)
