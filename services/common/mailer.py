"""Sends rendered e-mails over SMTP; every failure becomes one ``MailNotSentError``."""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import EmailMessage
from enum import StrEnum

import aiosmtplib


class MailFailure(StrEnum):
    """Why a message was not sent. Stable: logs and metrics carry these strings."""

    CONNECT_FAILED = "connect_failed"
    TIMEOUT = "timeout"
    DISCONNECTED = "disconnected"
    AUTH_FAILED = "auth_failed"
    SENDER_REFUSED = "sender_refused"
    RECIPIENT_REFUSED = "recipient_refused"
    DATA_REFUSED = "data_refused"
    SMTP_ERROR = "smtp_error"


class MailNotSentError(Exception):
    """The server did not accept the message. Carries no addresses and no message text."""

    def __init__(self, reason: MailFailure, *, smtp_code: int | None = None) -> None:
        self.reason = reason
        self.smtp_code = smtp_code
        super().__init__(f"{reason.value} (SMTP {smtp_code})" if smtp_code else reason.value)

    @property
    def permanent(self) -> bool:
        """A 5xx refusal: sending the same message again will fail again."""
        return self.smtp_code is not None and 500 <= self.smtp_code < 600


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to hand over mail. ``sender`` is the envelope sender (MAIL FROM)."""

    host: str
    port: int
    sender: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    timeout: float = 10.0


class Mailer:
    """One SMTP connection per message: digests are hourly, a pool would idle."""

    def __init__(self, settings: SmtpSettings) -> None:
        self._settings = settings

    async def send(self, message: EmailMessage) -> None:
        """Hand ``message`` to the server; raise ``MailNotSentError`` unless every recipient
        was accepted."""
        s = self._settings
        try:
            refused, _ = await aiosmtplib.send(
                message,
                sender=s.sender,
                hostname=s.host,
                port=s.port,
                username=s.username,
                password=s.password,
                start_tls=s.starttls,
                timeout=s.timeout,
            )
        except aiosmtplib.SMTPException as error:
            raise _translated(error) from None
        except OSError as error:  # e.g. TLS set-up failing below aiosmtplib's own errors
            raise MailNotSentError(MailFailure.CONNECT_FAILED) from error
        if refused:
            code = min(response.code for response in refused.values())
            raise MailNotSentError(MailFailure.RECIPIENT_REFUSED, smtp_code=code)


def _translated(error: aiosmtplib.SMTPException) -> MailNotSentError:
    # `from None` above: the server's own text may quote addresses; the code is enough.
    if isinstance(error, aiosmtplib.SMTPRecipientsRefused):
        codes = [refusal.code for refusal in error.recipients]
        return MailNotSentError(MailFailure.RECIPIENT_REFUSED, smtp_code=min(codes, default=None))
    kinds: list[tuple[type[aiosmtplib.SMTPException], MailFailure]] = [
        (aiosmtplib.SMTPTimeoutError, MailFailure.TIMEOUT),
        (aiosmtplib.SMTPConnectError, MailFailure.CONNECT_FAILED),
        (aiosmtplib.SMTPServerDisconnected, MailFailure.DISCONNECTED),
        (aiosmtplib.SMTPAuthenticationError, MailFailure.AUTH_FAILED),
        (aiosmtplib.SMTPSenderRefused, MailFailure.SENDER_REFUSED),
        (aiosmtplib.SMTPRecipientRefused, MailFailure.RECIPIENT_REFUSED),
        (aiosmtplib.SMTPDataError, MailFailure.DATA_REFUSED),
    ]
    reason = next((r for cls, r in kinds if isinstance(error, cls)), MailFailure.SMTP_ERROR)
    code = error.code if isinstance(error, aiosmtplib.SMTPResponseException) else None
    return MailNotSentError(reason, smtp_code=code)
