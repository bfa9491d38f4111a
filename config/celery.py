"""The Celery application. Periodic work is listed statically in ``beat_schedule``; each entry fans out one
task per brokerage."""

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("agent_excellence")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    # Forgotten leads, inactive clients, due sequence steps, idle escalation: hourly, one task per brokerage.
    "nurture-sweep": {"task": "nurturing.tasks.sweeps.nurture_sweep_all", "schedule": crontab(minute=7)},
    # A new lead waits minutes, not hours: the speed-to-lead watchdog runs every minute.
    "speed-to-lead": {"task": "nurturing.tasks.sweeps.speed_to_lead_all", "schedule": 60.0},
    # Approved follow-ups held back by quiet hours go out soon after the hours end.
    "send-due-followups": {"task": "nurturing.tasks.sweeps.send_due_all", "schedule": 300.0},
    # Analytics rows of the last days, rewritten nightly (times are CELERY_TIMEZONE, Asia/Dubai).
    "analytics-rollup": {"task": "analytics.tasks.rollup_all_brokerages", "schedule": crontab(hour=2, minute=15)},
    # The owners' weekly team report, Monday morning after the night's rollup.
    "analytics-weekly-report": {"task": "analytics.tasks.weekly_report_all",
                                "schedule": crontab(hour=7, minute=0, day_of_week="mon")},
    # Webhook deliveries whose queued message was lost are queued again (brokerages.webhooks.delivery).
    "webhook-deliveries-sweep": {"task": "brokerages.tasks.webhook_deliveries_sweep_task", "schedule": 60.0},
}
