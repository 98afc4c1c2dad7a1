"""The product's settings for bench/campaigns.py: the same, with a mail backend that
builds every message in full (MIME, headers, encoding) and counts it instead of
handing it to a server."""

from crm_project.settings import *  # noqa: F403

MAILERS = {"default": {"BACKEND": "bench.mail.CountingBackend"}}
