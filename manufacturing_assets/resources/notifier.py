"""Where alerts go: the log (default) or a webhook (Slack incoming webhooks accept it).

The webhook URL is a secret (a Slack URL carries its token): the code location passes it
as ``EnvVar("MA_WEBHOOK_URL")`` (``environment.py``), read when a message is sent, and it
is never part of a log line or an error message.
"""

from __future__ import annotations

import json
import logging
import urllib.parse
import urllib.request
from typing import Literal

from dagster import ConfigurableResource
from pydantic import Field

from manufacturing_assets.resources.s3 import resolved

log = logging.getLogger("manufacturing_assets.alerts")


class WebhookError(RuntimeError):
    """A message the webhook did not take; the text never contains the URL."""


def redact(text: str, url: str) -> str:
    """``text`` without the URL or any part of it that can carry a token (path, query,
    user info)."""
    parts = urllib.parse.urlsplit(url)
    secrets = [url, parts.path + ("?" + parts.query if parts.query else ""), parts.path]
    secrets += [parts.query, parts.netloc if "@" in parts.netloc else ""]
    for secret in sorted(filter(lambda s: len(s) > 1, secrets), key=len, reverse=True):
        text = text.replace(secret, "<MA_WEBHOOK_URL>")
    return text


class Notifier(ConfigurableResource):
    kind: Literal["log", "webhook"] = "log"
    webhook_url: str | None = Field(
        default=None, description="Webhook for kind=webhook; a secret: pass an EnvVar."
    )
    timeout_s: float = 10.0

    def send(self, title: str, text: str, severity: str = "ERROR") -> None:
        message = f"[{severity}] {title}: {text}"
        url = resolved(self.webhook_url)
        if self.kind == "webhook" and url:
            body = json.dumps({"text": message, "title": title, "severity": severity}).encode()
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
        else:
            log.warning(message)
