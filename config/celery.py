"""The Celery application. Periodic work is listed statically in ``beat_schedule``; each entry fans out one
task per brokerage."""

import os

from celery import Celery, signals
from celery.schedules import crontab

from . import observability

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# config.tasks.Task: a task queued after commit while the broker is down is kept and queued when it is back,
# instead of failing the request that committed its work.
app = Celery("agent_excellence", task_cls="config.tasks:Task")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Worker and beat log through the settings' LOGGING (JSON in production), task lines carrying the task's id.
signals.setup_logging.connect(observability.celery_use_django_logging)
signals.task_prerun.connect(observability.celery_task_started)
signals.task_postrun.connect(observability.celery_task_finished)

# /readyz fails when the newest heartbeat is older than READYZ_HEARTBEAT_MAX_AGE (120 s by default: four beats).
HEARTBEAT_EVERY = 30.0


# Defined here rather than in an app: it belongs to no tenant or feature, and config/__init__.py loads this
# module in every process, so the worker always knows the task beat names.
@app.task(name="config.celery.heartbeat", ignore_result=True)
def heartbeat() -> None:
    """Record that a worker is consuming the queue now (config.health reads it for /readyz)."""
    from .health import heartbeat_record  # settings are still loading when this module is imported

    heartbeat_record()


@signals.worker_ready.connect
def _heartbeat_on_start(**_) -> None:
    """A worker that has just started is alive: ready at once rather than at beat's next tick."""
    heartbeat()


app.conf.beat_schedule = {
    # Forgotten leads, inactive clients, due sequence steps, idle escalation: hourly, one task per brokerage.
    "nurture-sweep": {"task": "nurturing.tasks.sweeps.nurture_sweep_all", "schedule": crontab(minute=7)},
    # A new lead waits minutes, not hours: the speed-to-lead watchdog runs every minute.
    "speed-to-lead": {"task": "nurturing.tasks.sweeps.speed_to_lead_all", "schedule": 60.0},
    # Approved follow-ups held back by quiet hours go out soon after the hours end.
    "send-due-followups": {"task": "nurturing.tasks.sweeps.send_due_all", "schedule": 300.0},
    # Analytics rows of the last days, rewritten nightly (times are CELERY_TIMEZONE, Asia/Dubai).
    "analytics-rollup": {"task": "analytics.tasks.rollup_all_brokerages", "schedule": crontab(hour=2, minute=15)},
    # Data retention, nightly after the rollup: transcripts past the brokerage's retention lose their words, old
    # webhook delivery logs and expired data export archives are deleted (coaching.services.retention).
    "data-retention": {"task": "coaching.tasks.data_retention_all", "schedule": crontab(hour=3, minute=30)},
    # The owners' weekly team report, Monday morning after the night's rollup.
    "analytics-weekly-report": {"task": "analytics.tasks.weekly_report_all",
                                "schedule": crontab(hour=7, minute=0, day_of_week="mon")},
    # Webhook deliveries whose queued message was lost are queued again (brokerages.webhooks.delivery).
    "webhook-deliveries-sweep": {"task": "brokerages.tasks.webhook_deliveries_sweep_task", "schedule": 60.0},
    # The worker's sign of life for /readyz; a heartbeat not taken within one period is dropped, not piled up.
    "celery-heartbeat": {"task": "config.celery.heartbeat", "schedule": HEARTBEAT_EVERY,
                         "options": {"expires": HEARTBEAT_EVERY}},
}
