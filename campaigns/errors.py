"""The campaigns app's own errors. Services and helpers raise them; they are
crm_project.errors.Invalid, so the API layer maps each to the one error shape (a 400
whose `attr` is the error's `attr`)."""

from crm_project.errors import FieldError, Invalid


class CampaignError(Invalid):
    """A problem with what a client asked for: a message, a machine-readable code and
    the input it is about (`attr`, None when it is about the request as a whole)."""

    default_code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, attr: str | None = None):
        code = code or self.default_code
        detail = {attr: FieldError(message, code)} if attr else message
        super().__init__(detail, code=code)
        self.message = message
        self.attr = attr


class InvalidTemplate(CampaignError):
    """A message template that does not compile in the sandbox: a syntax error, a tag or
    filter that is not allowed, a NUL character, or a template over the size cap.
    `line` is the 1-based line of the problem when there is one."""

    default_code = "invalid_template"

    def __init__(
        self,
        message: str,
        *,
        line: int | None = None,
        code: str | None = None,
        attr: str | None = None,
    ):
        super().__init__(message, code=code, attr=attr)
        self.line = line


class InvalidRequest(CampaignError):
    """An input of the language helpers (prompt, objective, channel, tone, count) that
    is out of range."""


class LlmUnavailable(Exception):
    """The optional language model could not give a usable answer (not configured,
    unreachable, slow, or an answer that is not what was asked). Callers fall back to
    the offline helpers; it never reaches a client."""
