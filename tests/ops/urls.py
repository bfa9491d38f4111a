"""The project's URLs plus views (and a task) that log, for tests of the log context (`pytest.mark.urls`)."""

import logging

from django.http import HttpResponse
from django.urls import path

from config.celery import app
from config.urls import urlpatterns as project_urlpatterns

logger = logging.getLogger("tests.ops")


@app.task(name="tests.ops.logging_task")
def logging_task(*, brokerage_id: int) -> None:
    logger.info("inside the task")


def logging_view(request):
    logger.info("inside the sync view")
    return HttpResponse("logged")


async def async_logging_view(request):
    logger.info("inside the async view")
    return HttpResponse("logged")


def eager_task_view(request):
    # As with CELERY_TASK_ALWAYS_EAGER: the task runs inline, inside the request.
    logging_task.apply(kwargs={"brokerage_id": 42}, task_id="nested-task")
    logger.info("back in the view")
    return HttpResponse("logged")


urlpatterns = [
    path("ops-test/logged/", logging_view),
    path("ops-test/logged-async/", async_logging_view),
    path("ops-test/eager-task/", eager_task_view),
    *project_urlpatterns,
]
