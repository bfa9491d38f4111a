"""The analytics read model: one row per agent and day, rolled up nightly from the CRM and the coaching records.

The seed's `team_performance` table, plus the counts its averages are taken over, so that any period's figures
are exact weighted means of the days (a day with one rating does not weigh as much as a day with ten). Days are
the brokerage's calendar days (its `timezone` setting). Rows are derived data: `performance_rollup` rewrites any
range from the source records, so they are never edited by hand.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django_scopes import ScopedManager

from brokerages.models import Brokerage


class TeamPerformance(models.Model):
    brokerage = models.ForeignKey(Brokerage, on_delete=models.CASCADE, related_name="+")
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    metric_date = models.DateField()
    leads_generated = models.PositiveIntegerField(default=0, help_text="Leads of the agent created that day.")
    leads_converted = models.PositiveIntegerField(default=0, help_text="Leads of the agent won that day.")
    leads_lost = models.PositiveIntegerField(default=0, help_text="Leads of the agent lost that day.")
    properties_sold = models.PositiveIntegerField(default=0, help_text="Won leads with a recorded sale price.")
    commission_earned = models.DecimalField(max_digits=12, decimal_places=2, default=0,
                                            help_text="Commission of the leads won that day (AED).")
    client_satisfaction_score = models.DecimalField(max_digits=3, decimal_places=2, null=True, blank=True,
                                                    help_text="Mean 1–5 rating of the leads won that day.")
    satisfaction_ratings = models.PositiveIntegerField(default=0, help_text="Ratings the mean is taken over.")
    response_time_minutes = models.PositiveIntegerField(null=True, blank=True, help_text=(
        "Mean minutes from a lead's creation to its first contact, over the leads first contacted that day."))
    leads_responded = models.PositiveIntegerField(default=0, help_text="Leads first contacted that day.")
    conversations = models.PositiveIntegerField(default=0, help_text="Coached conversations that ended that day "
                                                "with a quality score.")
    conversation_quality = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True,
                                               help_text="Mean 0–100 quality of those conversations.")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ScopedManager(brokerage="brokerage")

    class Meta:
        ordering = ["metric_date", "agent_id"]
        constraints = [
            models.UniqueConstraint(fields=["brokerage", "agent", "metric_date"], name="team_performance_once_a_day"),
            models.CheckConstraint(condition=Q(client_satisfaction_score__isnull=True)
                                   | Q(client_satisfaction_score__gte=1, client_satisfaction_score__lte=5),
                                   name="team_performance_satisfaction_1_to_5"),
            models.CheckConstraint(condition=Q(conversation_quality__isnull=True)
                                   | Q(conversation_quality__gte=0, conversation_quality__lte=100),
                                   name="team_performance_quality_0_to_100"),
        ]
        indexes = [models.Index(fields=["brokerage", "metric_date"], name="team_performance_by_day")]

    def __str__(self) -> str:
        return f"{self.agent_id} on {self.metric_date}"
