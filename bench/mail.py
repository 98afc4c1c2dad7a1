"""A mail backend that does everything but talk to a server: each message is rendered
to bytes (as SMTP would send it) and counted; counts go to Redis when the connection
closes, so the benchmark reads one total across worker processes."""

from typing import Any

import redis
from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend

COUNTER = "bench:mail:sent"
BYTES = "bench:mail:bytes"


class CountingBackend(BaseEmailBackend):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sent = 0
        self.size = 0

    def send_messages(self, email_messages: Any) -> int:
        for message in email_messages:
            self.size += len(message.message().as_bytes())
            self.sent += 1
        return len(email_messages)

    def close(self) -> None:
        if self.sent:
            client = redis.Redis.from_url(settings.REDIS_URL)
            client.incrby(COUNTER, self.sent)
            client.incrby(BYTES, self.size)
            self.sent = self.size = 0
