"""The optional language model (`LLM_URL`, `LLM_API_KEY`): one JSON answer to one
question, over an OpenAI-compatible chat completions endpoint
(`{"model"?, "messages", "response_format": {"type": "json_object"}}` answered by
`{"choices": [{"message": {"content": "<JSON>"}}]}`); an endpoint answering the JSON
object itself is read as well.

Everything that can go wrong (not configured, unreachable, slow, an error status, an
answer that is not a JSON object) raises LlmUnavailable, and callers fall back to the
offline helpers: the model is never needed, and what it answers is checked by the same
validators as everything else before anyone sees it."""

import json
import logging
import re
from typing import Any

import httpx
from django.conf import settings

from campaigns.errors import LlmUnavailable

logger = logging.getLogger("campaigns.llm")

TIMEOUT = httpx.Timeout(8.0, connect=3.0)
MAX_ANSWER_BYTES = 200_000

_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.S)


def llm_configured() -> bool:
    return bool(settings.LLM_URL)


def llm_json(*, system: str, user: str, timeout: httpx.Timeout | float | None = None) -> dict:
    """The model's answer to `user` (instructed by `system`) as a JSON object."""
    url = settings.LLM_URL
    if not url:
        raise LlmUnavailable("LLM_URL is not set.")
    payload: dict[str, Any] = {
        "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
        "response_format": {"type": "json_object"},
        "temperature": 0,
    }
    model = getattr(settings, "LLM_MODEL", "")
    if model:
        payload["model"] = model
    headers = {"Accept": "application/json"}
    if settings.LLM_API_KEY:
        headers["Authorization"] = f"Bearer {settings.LLM_API_KEY}"
    try:
        response = httpx.post(url, json=payload, headers=headers, timeout=timeout or TIMEOUT)
    except httpx.HTTPError as exc:
        logger.warning("LLM request failed: %s", type(exc).__name__)
        raise LlmUnavailable(f"request failed: {type(exc).__name__}") from exc
    if response.status_code != 200:
        logger.warning("LLM answered HTTP %s", response.status_code)
        raise LlmUnavailable(f"HTTP {response.status_code}")
    if len(response.content) > MAX_ANSWER_BYTES:
        raise LlmUnavailable("answer too large")
    return _answer(response)


def _answer(response: httpx.Response) -> dict:
    try:
        data = response.json()
    except ValueError as exc:
        raise LlmUnavailable("answer is not JSON") from exc
    content: Any = data
    if isinstance(data, dict) and isinstance(data.get("choices"), list) and data["choices"]:
        choice = data["choices"][0]
        message = choice.get("message") if isinstance(choice, dict) else None
        content = message.get("content") if isinstance(message, dict) else None
    if isinstance(content, str):
        fenced = _FENCE.match(content)
        try:
            content = json.loads(fenced.group(1) if fenced else content)
        except ValueError as exc:
            raise LlmUnavailable("content is not JSON") from exc
    if not isinstance(content, dict):
        raise LlmUnavailable("answer is not a JSON object")
    return content
