"""Drop customer_tags_gin, the plain GIN index on customers' tags: no query can use it.

The only query on `tags` itself is the customer list's `?tag=` filter (`tags @> ARRAY[...]`).
Its function (arraycontains) is not LEAKPROOF, so under row-level security, where the
application and the maintenance roles always run, PostgreSQL evaluates it row by row
after the policy and never through an index (EXPLAIN as crm_app, even with
enable_seqscan off, at 200,000 customers: a scan of the account's rows, the filter
beside). Segments' tag conditions read customer_tags_lower_gin (segments/migrations/0003).
The index cost an entry per tag on every insert and tag update (imports included). See
the README's "Index budget"."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("customers", "0017_order_stats_365d")]

    operations = [
        migrations.RemoveIndex(model_name="customer", name="customer_tags_gin"),
    ]
