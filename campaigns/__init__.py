"""Campaigns: the outbound ledger, its channels and delivery, the sandboxed template
language of messages, and the offline language helpers (a segment parser for English
prompts, message suggestions)."""
