"""Indexes for the client table's sorts at a million customers.

Every sort ends with the id (keyset pages: `(column, id) > (value, id)`), so a sortable
column with wide ties (every customer without orders has spend 0.00 and 0 orders; a
city holds a twentieth of the customers) needs an (account, column, id) index for a
deep page to cost what the first one does. Spend comparisons can be index conditions
under RLS since 0005 marked numeric's comparisons LEAKPROOF."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0003_drop_redundant_indexes"),
        ("customers", "0005_segment_indexes"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="customer",
            name="customer_spend_idx",
        ),
        migrations.RemoveIndex(
            model_name="customer",
            name="customer_city_idx",
        ),
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(
                fields=["account", "lifetime_spend", "id"], name="customer_spend_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(
                fields=["account", "total_orders", "id"], name="customer_orders_idx"
            ),
        ),
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(fields=["account", "city", "id"], name="customer_city_idx"),
        ),
        migrations.AddIndex(
            model_name="customer",
            index=models.Index(fields=["account", "status"], name="customer_status_idx"),
        ),
    ]
