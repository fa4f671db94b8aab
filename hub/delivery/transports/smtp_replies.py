"""What an SMTP reply means for the mail: sent, refused, deferred or uncertain.

The classification is by *what the server may already hold* (RFC 5321
§3.3), because that, not the reply code alone, says whether the mail may be
sent again: see :mod:`hub.delivery.transports.email`.
"""

from typing import Literal

from aiosmtplib.response import SMTPResponse

from hub.delivery.transports.base import DeliveryError

Outcome = Literal["sent", "refused", "deferred", "uncertain"]
SENT: Outcome = "sent"
REFUSED: Outcome = "refused"
DEFERRED: Outcome = "deferred"
UNCERTAIN: Outcome = "uncertain"


class SmtpError(DeliveryError):
    """A mail the server did not accept; ``outcome`` says what it may hold.

    ``"refused"`` (permanent), ``"deferred"`` (temporary: nothing was handed
    over) or ``"uncertain"`` (permanent: the content was handed over and no
    answer came, so it may have been delivered and is never sent again).
    """

    def __init__(self, outcome: Outcome, reason: str) -> None:
        super().__init__(reason, permanent=outcome != DEFERRED)
        self.outcome: Outcome = outcome


def classify(code: int, reason: str) -> tuple[Outcome, str]:
    return (REFUSED if 500 <= code < 600 else DEFERRED), reason


def refusal(refusals: list[tuple[str, SMTPResponse]]) -> tuple[Outcome, str]:
    """Every recipient refused: permanent only if every refusal was."""
    reason = "; ".join(describe(*refusal) for refusal in refusals)
    permanent = all(500 <= reply.code < 600 for _, reply in refusals)
    return (REFUSED if permanent else DEFERRED), f"RCPT: {reason}"


def describe(recipient: str, reply: SMTPResponse) -> str:
    return f"{recipient}: {reply.code} {reply.message}"


def error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
