"""Record ids: UUID version 7 (RFC 9562), the time in their first 48 bits.

Ids created one after another sort together, so every index on an id (primary keys,
`(account_id, id)`, keyset pages) grows at its right edge instead of taking random
pages: bulk writes touch a few hot pages rather than the whole index. The rest of the
id is random, so ids stay unguessable. `crm_uuid7()` (migration
crm_project.0004_uuid7) makes the same ids in SQL for set-based writers (imports)."""

from __future__ import annotations

import os
import time
import uuid


def uuid7() -> uuid.UUID:
    unix_ms = time.time_ns() // 1_000_000
    value = int.from_bytes(unix_ms.to_bytes(6, "big") + os.urandom(10), "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 9562 variant
    return uuid.UUID(int=value)


# The SQL twin, for INSERT ... SELECT: gen_random_uuid()'s 122 random bits with the
# first 48 replaced by the time in milliseconds and the version nibble set to 7 (the
# variant bits of gen_random_uuid() are already RFC 9562's).
CREATE_SQL = """
CREATE OR REPLACE FUNCTION crm_uuid7() RETURNS uuid
LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
  SELECT encode(
    set_bit(set_bit(
      overlay(uuid_send(gen_random_uuid())
              PLACING substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint)
                                FROM 3)
              FROM 1 FOR 6),
      52, 1), 53, 1),
    'hex')::uuid
$$;
"""
DROP_SQL = "DROP FUNCTION IF EXISTS crm_uuid7()"
