"""Where alerts go: the log, a generic JSON webhook, Slack and e-mail (SMTP), one or several.

``Notifier.kind`` names the channels (``"log"``, ``"webhook,slack,email"``, ...). Each channel
delivers one :class:`Message` and raises on failure; retries, back-off and "undelivered" are
the alert sensor's business (``sensors/check_alerts.py``), so one channel that is down never
stops another.

- **log**: a WARNING (ERROR for an ERROR message) on ``manufacturing_assets.alerts``;
- **webhook**: ``POST`` of the message as JSON (``id``, ``title``, ``text``, ``severity``,
  ``asset``, ``alerts``: one object per failure). The URL is a secret (``MA_WEBHOOK_URL``,
  an ``EnvVar``) and is never part of a log line or an error message;
- **slack**: ``chat.postMessage`` through ``dagster-slack``'s ``SlackResource`` (its
  ``slack_sdk`` ``WebClient``), in the channel of the message's severity. :class:`SlackAPI`
  adds one field to it, ``base_url``, because the upstream resource always talks to
  slack.com (a proxy, a Slack-compatible server, or a test server need another address).
  The token and address are plain fields of :class:`Notifier` (token as ``EnvVar``) and the
  Slack resource is built when a message is sent: a nested resource would make every
  caller open the notifier as a context manager;
- **email**: one mail per message through ``smtplib`` (Python's standard library: Dagster's
  e-mail helper only builds a run-failure sensor, not a sender for our grouped check
  alerts), optional STARTTLS and login (password as ``EnvVar``).

Every message carries an ``id`` (a hash of the failures it holds): a receiver that sees the
same id twice (a daemon that crashed between sending and saving its cursor) can drop it.
"""

from __future__ import annotations

import json
import logging
import smtplib
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from dagster import ConfigurableResource
from dagster_slack import SlackResource
from pydantic import Field
from slack_sdk import WebClient

from manufacturing_assets.resources.s3 import resolved

log = logging.getLogger("manufacturing_assets.alerts")

CHANNELS = ("log", "webhook", "slack", "email")
SEVERITIES = ("ERROR", "WARN")


class WebhookError(RuntimeError):
    """A message the webhook did not take; the text never contains the URL."""


class NotifierConfigError(ValueError):
    """A channel is named but not configured."""


def redact(text: str, url: str) -> str:
    """``text`` without the URL or any part of it that can carry a token (path, query,
    user info)."""
    parts = urllib.parse.urlsplit(url)
    secrets = [url, parts.path + ("?" + parts.query if parts.query else ""), parts.path]
    secrets += [parts.query, parts.netloc if "@" in parts.netloc else ""]
    for secret in sorted(filter(lambda s: len(s) > 1, secrets), key=len, reverse=True):
        text = text.replace(secret, "<MA_WEBHOOK_URL>")
    return text


@dataclass(frozen=True)
class Message:
    """What a notifier sends: a title, a plain-text body, and the failures as data."""

    id: str
    title: str
    text: str
    severity: str
    asset: str
    alerts: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "title": self.title,
            "text": self.text,
            "severity": self.severity,
            "asset": self.asset,
            "alerts": self.alerts,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Message:
        return cls(**{k: data[k] for k in ("id", "title", "text", "severity", "asset", "alerts")})


class SlackAPI(SlackResource):
    """``dagster-slack``'s ``SlackResource`` with the API's address configurable."""

    base_url: str = Field(
        default=WebClient.BASE_URL, description="Slack Web API base URL (ends with /api/)."
    )
    timeout_s: int = 10

    def get_client(self) -> WebClient:
        base = self.base_url if self.base_url.endswith("/") else self.base_url + "/"
        return WebClient(self.token, base_url=base, timeout=self.timeout_s)


class Notifier(ConfigurableResource):
    kind: str = Field(
        default="log",
        description="Channels, comma-separated: log, webhook, slack, email (MA_NOTIFIER).",
    )
    webhook_url: str | None = Field(
        default=None, description="Webhook for the webhook channel; a secret: pass an EnvVar."
    )
    slack_token: str | None = Field(
        default=None, description="Slack bot token (xoxb-...); a secret: pass an EnvVar."
    )
    slack_base_url: str = Field(default=WebClient.BASE_URL, description="Slack Web API address.")
    slack_channels: dict[str, str] = Field(
        default_factory=dict,
        description="Severity (ERROR, WARN) -> Slack channel; `default` for the rest.",
    )
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str | None = None
    smtp_to: list[str] = Field(default_factory=list)
    smtp_username: str | None = None
    smtp_password: str | None = Field(default=None, description="A secret: pass an EnvVar.")
    smtp_starttls: bool = False
    timeout_s: float = 10.0
    max_attempts: int = Field(
        default=5, description="Attempts per message and channel before it is undelivered."
    )
    backoff_s: float = Field(
        default=30.0, description="Wait before the 2nd attempt; doubles after each failure."
    )
    ui_base_url: str | None = Field(
        default=None, description="Dagster UI address for run links (MA_UI_BASE_URL)."
    )

    @property
    def channels(self) -> list[str]:
        names = [c.strip().lower() for c in self.kind.split(",") if c.strip()]
        unknown = [c for c in names if c not in CHANNELS]
        if unknown:
            raise NotifierConfigError(f"unknown notifier(s) {unknown}: expected {CHANNELS}")
        return names or ["log"]

    def run_url(self, run_id: str) -> str | None:
        base = (resolved(self.ui_base_url) or "").rstrip("/")
        return f"{base}/runs/{run_id}" if base and run_id else None

    # ------------------------------------------------------------ delivery

    def deliver(self, channel: str, message: Message) -> None:
        """Send ``message`` to one channel; raises when it was not taken."""
        getattr(self, f"_send_{channel}")(message)

    def send(self, title: str, text: str, severity: str = "ERROR") -> None:
        """One ad-hoc message to every channel; every channel is tried, then the first
        failure is raised."""
        message = Message(id="", title=title, text=text, severity=severity, asset="")
        errors: list[Exception] = []
        for channel in self.channels:
            try:
                self.deliver(channel, message)
            except Exception as exc:
                errors.append(exc)
        if errors:
            raise errors[0]

    def _send_log(self, message: Message) -> None:
        level = logging.ERROR if message.severity == "ERROR" else logging.WARNING
        log.log(level, f"[{message.severity}] {message.title}\n{message.text}")

    def _send_webhook(self, message: Message) -> None:
        url = resolved(self.webhook_url)
        if not url:
            raise NotifierConfigError("webhook notifier without MA_WEBHOOK_URL")
        body = json.dumps(message.to_json()).encode()
        try:
            req = urllib.request.Request(
                url, data=body, headers={"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(req, timeout=self.timeout_s):  # noqa: S310
                pass
        except Exception as error:  # the message of a bad URL quotes it: never pass it on
            what = f"{type(error).__name__}: {error}"
            if redact(what, url) == what:
                raise
            raise WebhookError(f"webhook delivery failed: {redact(what, url)}") from None

    def slack_channel(self, severity: str) -> str | None:
        return self.slack_channels.get(severity) or self.slack_channels.get("default")

    def _send_slack(self, message: Message) -> None:
        token = resolved(self.slack_token)
        if not token:
            raise NotifierConfigError("slack notifier without MA_SLACK_TOKEN")
        channel = self.slack_channel(message.severity)
        if not channel:
            raise NotifierConfigError(
                f"no Slack channel for {message.severity} (MA_SLACK_CHANNEL_*)"
            )
        slack = SlackAPI(token=token, base_url=self.slack_base_url, timeout_s=int(self.timeout_s))
        slack.get_client().chat_postMessage(
            channel=channel,
            text=f"*[{message.severity}] {message.title}*\n{message.text}",
            mrkdwn=True,
            unfurl_links=False,
        )

    def _send_email(self, message: Message) -> None:
        if not (self.smtp_host and self.smtp_from and self.smtp_to):
            raise NotifierConfigError("email notifier needs MA_SMTP_HOST, MA_SMTP_FROM, MA_SMTP_TO")
        mail = EmailMessage()
        mail["Subject"] = f"[{message.severity}] {message.title}"
        mail["From"] = self.smtp_from
        mail["To"] = ", ".join(self.smtp_to)
        if message.id:
            mail["X-Alert-Id"] = message.id
        mail.set_content(message.text)
        with smtplib.SMTP(self.smtp_host, self.smtp_port, timeout=self.timeout_s) as smtp:
            if self.smtp_starttls:
                smtp.starttls()
            password = resolved(self.smtp_password)
            if self.smtp_username and password:
                smtp.login(self.smtp_username, password)
            smtp.send_message(mail)
