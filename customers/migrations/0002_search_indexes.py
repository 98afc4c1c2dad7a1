"""Customer search (`?q=`) served by indexes under row-level security.

Under RLS, PostgreSQL evaluates a query's own conditions after the policy's, unless
they are leakproof; an index condition is evaluated first, so a non-leakproof
condition can never use an index. `lower(...) LIKE '%term%'` calls textlike, lower and
textcat, none of them marked leakproof in the catalog, and Concat's COALESCE counts as
leaky too; so the trigram indexes of 0001 were never used for the application's role.

- The name index is rebuilt on `lower(first_name || ' ' || last_name)`, without
  COALESCE (both columns are NOT NULL); queries use the same expression
  (customers.models.full_name_lower).
- A trigram index on phone serves "phone by its digits".
- textlike, lower(text) and textcat are marked LEAKPROOF: they raise no error that
  depends on the value of their text arguments (textlike's only own error concerns a
  malformed pattern, which is always the application's parameter), so evaluating them
  before the policy reveals nothing. Only a superuser may do this; without one, the
  migration warns and search still answers correctly, by scanning the account's rows.
"""

import django.contrib.postgres.indexes
import django.db.models.functions.comparison
import django.db.models.functions.text
from django.db import migrations, models

import crm_project.migration_operations as tenancy_ops
import customers.models


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0001_initial"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="customer",
            name="customer_name_trgm",
        ),
        migrations.AddIndex(
            model_name="customer",
            index=django.contrib.postgres.indexes.GinIndex(
                django.contrib.postgres.indexes.OpClass(
                    django.db.models.functions.text.Lower(
                        customers.models.PipesConcat(
                            django.db.models.functions.comparison.Cast(
                                models.F("first_name"), models.TextField()
                            ),
                            models.Value(" "),
                            django.db.models.functions.comparison.Cast(
                                models.F("last_name"), models.TextField()
                            ),
                        )
                    ),
                    name="gin_trgm_ops",
                ),
                name="customer_name_trgm",
            ),
        ),
        migrations.AddIndex(
            model_name="customer",
            index=django.contrib.postgres.indexes.GinIndex(
                django.contrib.postgres.indexes.OpClass("phone", name="gin_trgm_ops"),
                name="customer_phone_trgm",
            ),
        ),
        # The catalog flags are facts about the functions, shared by every table (leads
        # will search the same way): reversing this migration leaves them.
        tenancy_ops.MarkLeakproof(
            [
                "pg_catalog.textlike(text, text)",
                "pg_catalog.lower(text)",
                "pg_catalog.textcat(text, text)",
            ],
            purpose="customer search (?q=)",
        ),
        tenancy_ops.EnforceTenancy("customer"),
    ]
