"""Outbound webhooks: the events other systems can subscribe to (`events`), their signed delivery with retries
(`delivery`), the owners' management of endpoints (`services`) and the reads behind the pages and the API
(`selectors`). Receivers read docs/webhooks.md."""

from .delivery import webhook_deliveries_sweep
from .events import PING, WEBHOOK_EVENTS, member_data, webhook_emit, webhook_emit_many

__all__ = ["PING", "WEBHOOK_EVENTS", "member_data", "webhook_deliveries_sweep", "webhook_emit", "webhook_emit_many"]
