"""Where alerts go: the log (default) or a webhook (Slack incoming webhooks accept it)."""

from __future__ import annotations

import json
import logging
import urllib.request
from typing import Literal

from dagster import ConfigurableResource

log = logging.getLogger("manufacturing_assets.alerts")


class Notifier(ConfigurableResource):
    kind: Literal["log", "webhook"] = "log"
    webhook_url: str | None = None
    timeout_s: float = 10.0

    def send(self, title: str, text: str, severity: str = "ERROR") -> None:
        message = f"[{severity}] {title}: {text}"
        if self.kind == "webhook" and self.webhook_url:
            body = json.dumps({"text": message, "title": title, "severity": severity}).encode()
            req = urllib.request.Request(
                self.webhook_url, data=body, headers={"Content-Type": "application/json"}
            )
            with urllib.request.urlopen(req, timeout=self.timeout_s):  # noqa: S310 (configured URL)
                pass
        else:
            log.warning(message)
