"""Per-account numbers (customers, orders) from PostgreSQL sequences, one per account and
kind, instead of a counter row that every create locked until its transaction ended (a
1,000-row bulk call held every other create of the account for seconds). `nextval` is
never rolled back and never waits for another transaction: numbers stay unique, gaps
(after a rollback) are allowed.

`crm_number_reserve(account, name, count)` is the only way in: it creates the account's
sequence on its first use (starting after the last number of the counter row it
replaces, which the caller's account scope makes visible; accounts.services makes them
when an account is created, so that only accounts older than this migration, or made
without the service, create theirs on a first number) and reserves `count`
consecutive numbers, returning the first. A block and a single number never interleave:
each call holds a session-level advisory lock of the sequence for its two statements
only, and lets it go even when it fails. SECURITY DEFINER: the application role may not
create relations; the function creates only `crm_number_<account>_<name>` sequences."""

from django.db import migrations

FUNCTION = r"""
CREATE OR REPLACE FUNCTION crm_number_reserve(p_account uuid, p_name text, p_count bigint)
RETURNS bigint
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
  seq text;
  lock_key bigint;
  floor_value bigint;
  first_value bigint;
BEGIN
  IF p_account IS NULL OR p_name IS NULL OR p_name !~ '^[a-z][a-z_]{0,18}$'
     OR p_count IS NULL OR p_count < 0 THEN
    RAISE EXCEPTION 'crm_number_reserve(%, %, %): bad arguments', p_account, p_name, p_count
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  seq := 'public.' || quote_ident(
    'crm_number_' || replace(p_account::text, '-', '') || '_' || p_name);
  IF to_regclass(seq) IS NULL THEN
    SELECT last_value INTO floor_value FROM public.accounts_accountsequence
     WHERE account_id = p_account AND name = p_name;
    BEGIN
      EXECUTE format('CREATE SEQUENCE IF NOT EXISTS %s AS bigint MINVALUE 1 START %s',
                     seq, coalesce(floor_value, 0) + 1);
    EXCEPTION WHEN unique_violation OR duplicate_table THEN
      NULL;  -- created meanwhile by a concurrent first number, committed since
    END;
  END IF;
  IF p_count = 0 THEN
    RETURN NULL;
  END IF;
  lock_key := hashtextextended(seq, 0);
  PERFORM pg_advisory_lock(lock_key);
  BEGIN
    first_value := nextval(seq);
    IF p_count > 1 THEN
      PERFORM setval(seq, first_value + p_count - 1);
    END IF;
    PERFORM pg_advisory_unlock(lock_key);
  EXCEPTION WHEN OTHERS OR query_canceled THEN
    PERFORM pg_advisory_unlock(lock_key);
    RAISE;
  END;
  RETURN first_value;
END
$$;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_uuid7_ids"),
    ]

    operations = [
        migrations.RunSQL(
            FUNCTION, "DROP FUNCTION IF EXISTS crm_number_reserve(uuid, text, bigint)"
        ),
    ]
