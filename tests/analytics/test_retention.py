"""The lead retention figures on small hand-built cohorts whose answers are known: speed-to-lead bands and their
boundaries, contact rate, leakage now and at the end of a past period, the funnel from stage history, retention
windows (and cohorts too young for them), lost reasons, breakdowns, the agent filter, the brokerage's day, and a
query count that does not grow with the number of leads."""

import datetime as dt
import json
import zoneinfo
from functools import reduce

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from analytics.period import Period
from analytics.selectors.retention import FORMULAS, leakage_by_agent, leaking_leads, retention_metrics
from brokerages.models import Role
from brokerages.services import settings_update
from nurturing.models import Direction, Interaction, Lead, StageChange, further_stage
from tests.factories import UserFactory, make_lead

DUBAI = zoneinfo.ZoneInfo("Asia/Dubai")
NOW = timezone.now()
TODAY = NOW.astimezone(DUBAI).date()


def period(first_day_ago: int, last_day_ago: int = 0) -> Period:
    return Period(TODAY - dt.timedelta(days=first_day_ago), TODAY - dt.timedelta(days=last_day_ago), DUBAI)


def lead(tenant, *, created, agent=None, stage="new", first=None, last=None, inbound=None, changed=None,
         history=(), source="website", lost_reason="", do_not_contact=False, name="Layla Haddad"):
    """A lead with the stamps the CRM keeps. Without `history` it was created in `stage`; with it, it was
    created new and went through the (stage, at) changes of `history`, ending in `stage`."""
    made = make_lead(tenant.brokerage, agent=agent if agent is not None else tenant.agent,
                     stage="new" if history else stage, created_at=created, source=source, name=name)
    Lead.objects.filter(pk=made.pk).update(
        stage=stage, first_contacted_at=first, last_contacted_at=last if last is not None else first,
        last_inbound_at=inbound, stage_changed_at=changed or created, lost_reason=lost_reason,
        do_not_contact=do_not_contact, furthest_stage=reduce(further_stage, [*(to for to, _ in history), stage], "new"))
    previous = "new"
    for to_stage, at in history:
        StageChange.objects.create(brokerage=tenant.brokerage, lead=made, from_stage=previous, to_stage=to_stage,
                                   changed_at=at)
        previous = to_stage
    return made


def touch(lead_, at, direction=Direction.OUTBOUND, channel="call"):
    Interaction.objects.create(brokerage=lead_.brokerage, lead=lead_, channel=channel, direction=direction,
                               occurred_at=at, summary="Spoke about the villa")


def ago(**delta) -> dt.datetime:
    return NOW - dt.timedelta(**delta)


def metrics(tenant, chosen, **kwargs):
    return retention_metrics(brokerage=tenant.brokerage, period=chosen, now=NOW, **kwargs)


def test_speed_to_lead_bands_include_their_upper_limit(tenant):
    created = ago(days=3)
    for minutes in (0, 5, 5 + 1 / 60, 59, 60, 180, 25 * 60):
        lead(tenant, created=created, first=created + dt.timedelta(minutes=minutes), stage="contacted")
    lead(tenant, created=created)

    result = metrics(tenant, period(30))

    bands = {band.key: (band.count, band.share) for band in result.speed_to_lead}
    assert bands == {"5_minutes": (2, 2 / 8), "1_hour": (3, 3 / 8), "24_hours": (1, 1 / 8), "later": (1, 1 / 8),
                     "never": (1, 1 / 8)}
    assert result.totals.contacted == 7
    assert result.contact_rate == 7 / 8
    assert result.within_5_minutes_rate == 2 / 8


def test_leakage_now_counts_open_leads_quiet_for_the_forgotten_lead_days(tenant):
    lead(tenant, created=ago(days=20), name="never contacted")
    lead(tenant, created=ago(days=20), first=ago(days=19), last=ago(days=8), stage="contacted", name="quiet 8")
    lead(tenant, created=ago(days=20), first=ago(days=19), last=ago(days=7), stage="contacted", name="quiet 7")
    lead(tenant, created=ago(days=20), first=ago(days=19), last=ago(days=6), stage="contacted")
    lead(tenant, created=ago(days=20), stage="won")
    lead(tenant, created=ago(days=20), stage="lost")
    lead(tenant, created=ago(days=3))
    lead(tenant, created=ago(days=20), do_not_contact=True)

    result = metrics(tenant, period(30))

    assert result.leaking == 3
    assert result.leakage_rate == 3 / 8
    assert result.forgotten_lead_days == 7
    assert result.as_of == NOW
    listed = leaking_leads(tenant.brokerage, period(30), now=NOW)
    assert [item["name"] for item in listed] == ["never contacted", "quiet 8", "quiet 7"]

    settings_update(brokerage=tenant.brokerage, actor=tenant.owner, values={"forgotten_lead_days": 10})
    assert metrics(tenant, period(30)).leaking == 1


def test_a_reopened_lead_that_goes_quiet_leaks_again(tenant):
    created = ago(days=25)
    lead(tenant, created=created, stage="contacted", first=created + dt.timedelta(hours=1), last=ago(days=12),
         changed=ago(days=12), history=[("lost", ago(days=15)), ("contacted", ago(days=12))])

    assert metrics(tenant, period(30)).leaking == 1


def test_leakage_at_the_end_of_a_past_period_uses_what_was_true_then(tenant):
    """Period: 45 to 20 days ago, so leakage is judged at the start of the 19th day ago."""
    chosen = period(45, 20)
    created = ago(days=40)
    quiet_then = lead(tenant, created=created, first=created + dt.timedelta(hours=1), last=ago(days=1),
                      stage="contacted", name="quiet then, contacted since")
    touch(quiet_then, created + dt.timedelta(hours=1))
    touch(quiet_then, ago(days=1))
    busy_then = lead(tenant, created=created, first=created + dt.timedelta(hours=1), last=ago(days=1),
                     stage="contacted")
    touch(busy_then, created + dt.timedelta(hours=1))
    touch(busy_then, ago(days=22), direction=Direction.INBOUND, channel="whatsapp")
    touch(busy_then, ago(days=1))
    lead(tenant, created=created, stage="won", changed=ago(days=2), history=[("won", ago(days=2))],
         name="open then, won since")
    lead(tenant, created=created, stage="lost", changed=ago(days=30), history=[("lost", ago(days=30))])
    noted = lead(tenant, created=created, first=created + dt.timedelta(hours=1), last=ago(days=1),
                 stage="contacted", name="only an internal note then")
    touch(noted, ago(days=22), direction=Direction.INTERNAL, channel="note")
    touch(noted, ago(days=1))

    result = metrics(tenant, chosen)

    assert result.as_of < NOW
    assert result.leaking == 3
    assert {item["name"] for item in leaking_leads(tenant.brokerage, chosen, now=NOW)} == {
        "quiet then, contacted since", "open then, won since", "only an internal note then"}


def test_funnel_counts_every_stage_a_lead_got_past(tenant):
    day = ago(days=10)
    hours = [day + dt.timedelta(hours=step) for step in range(1, 6)]
    lead(tenant, created=day)
    lead(tenant, created=day, stage="qualified", history=[("contacted", hours[0]), ("qualified", hours[1])])
    lead(tenant, created=day, stage="viewing", history=[("viewing", hours[0])])
    lead(tenant, created=day, stage="lost", history=[("contacted", hours[0]), ("offer", hours[1]),
                                                     ("lost", hours[2])])
    lead(tenant, created=day, stage="offer", history=[("contacted", hours[0]), ("won", hours[1]),
                                                      ("offer", hours[2])])
    lead(tenant, created=day, stage="qualified")
    lead(tenant, created=day, first=hours[0], name="contacted, stage never moved")
    lead(tenant, created=day, stage="lost", name="entered as lost, never contacted")

    funnel = metrics(tenant, period(30)).funnel

    assert [(step.stage, step.reached) for step in funnel] == [
        ("new", 8), ("contacted", 6), ("qualified", 5), ("viewing", 3), ("offer", 2), ("won", 1)]
    assert [step.step_rate for step in funnel] == [None, 6 / 8, 5 / 6, 3 / 5, 2 / 3, 1 / 2]
    assert funnel[-1].share == 1 / 8


def test_retention_at_30_60_90_days(tenant):
    created = ago(days=100)

    def day(number):
        return created + dt.timedelta(days=number)

    lead(tenant, created=created, stage="won", changed=day(10), name="won early")
    lead(tenant, created=created, stage="lost", changed=day(20))
    lead(tenant, created=created, stage="viewing", first=day(1), last=day(95))
    lead(tenant, created=created, stage="contacted", first=day(1), last=day(45))
    lead(tenant, created=created, stage="lost", changed=day(70), first=day(1), last=day(65))
    lead(tenant, created=created, stage="contacted", first=day(1), last=day(91), inbound=day(91))

    result = metrics(tenant, period(110))

    assert [(window.days, window.old_enough, window.retained, window.rate) for window in result.retention] == [
        (30, 6, 5, 5 / 6), (60, 6, 4, 4 / 6), (90, 6, 3, 3 / 6)]


def test_a_cohort_too_young_gets_no_retention_figure_and_says_when(tenant):
    lead(tenant, created=ago(days=40), first=ago(days=39), last=ago(days=2), stage="contacted")
    lead(tenant, created=ago(days=10))

    windows = {window.days: window for window in metrics(tenant, period(50)).retention}

    assert (windows[30].old_enough, windows[30].retained, windows[30].rate) == (1, 1, 1.0)
    assert windows[60].rate is None and windows[90].rate is None
    turns_90 = (ago(days=40) + dt.timedelta(days=90)).astimezone(DUBAI)
    assert windows[90].reason == (f"None of the period's leads is 90 days old yet; the first one will be on "
                                  f"{turns_90:%-d %b %Y}.")


def test_lost_reasons_group_blank_and_spacing(tenant):
    created = ago(days=5)
    for reason in ("Bought elsewhere", "Bought elsewhere", "  Bought elsewhere ", "", "Budget"):
        lead(tenant, created=created, stage="lost", lost_reason=reason)
    lead(tenant, created=created, stage="won")

    reasons = metrics(tenant, period(30)).lost_reasons

    assert [(reason.label, reason.count, reason.share) for reason in reasons] == [
        ("Bought elsewhere", 3, 3 / 5), ("No reason given", 1, 1 / 5), ("Budget", 1, 1 / 5)]


def test_breakdowns_by_agent_and_source_and_the_agent_filter(tenant):
    other = UserFactory(brokerage=tenant.brokerage, role=Role.AGENT, full_name="Omar Saleh")
    created = ago(days=12)
    lead(tenant, created=created, first=created + dt.timedelta(minutes=2), last=ago(days=1), stage="contacted",
         source="portal")
    lead(tenant, created=created, source="portal")
    lead(tenant, created=created, agent=other, stage="won", source="referral")
    unassigned = lead(tenant, created=created, source="referral")
    Lead.objects.filter(pk=unassigned.pk).update(assigned_agent=None)

    result = metrics(tenant, period(30))

    assert [(row.label, row.figures.leads, row.figures.leaking, row.figures.contact_rate)
            for row in result.by_agent] == [(tenant.agent.display_name, 2, 1, 0.5), ("Omar Saleh", 1, 0, 0.0),
                                            ("Unassigned", 1, 1, 0.0)]
    assert [(row.label, row.figures.leads, row.figures.won) for row in result.by_source] == [
        ("Property portal", 2, 0), ("Referral", 2, 1)]
    assert result.leakage_by_agent == {tenant.agent.pk: 1}
    payload = json.loads(json.dumps(result.to_dict()))
    assert [(row["name"], row["leads"]) for row in payload["by_agent"]] == [
        (tenant.agent.display_name, 2), ("Omar Saleh", 1), ("Unassigned", 1)]
    assert leakage_by_agent(tenant.brokerage, period(30), now=NOW) == {tenant.agent.pk: 1}

    mine = metrics(tenant, period(30), agent_id=other.pk)
    assert (mine.leads, mine.totals.won, mine.totals.win_rate, mine.leaking) == (1, 1, 1.0, 0)
    assert [row.label for row in mine.by_agent] == ["Omar Saleh"]


def test_an_empty_brokerage_has_no_figures_rather_than_zero_rates(tenant, other_tenant):
    lead(other_tenant, created=ago(days=3))

    result = metrics(tenant, period(30))

    assert result.leads == 0
    assert (result.contact_rate, result.leakage_rate, result.within_5_minutes_rate) == (None, None, None)
    assert all(band.share is None for band in result.speed_to_lead)
    assert [step.reached for step in result.funnel] == [0] * 6
    assert all(step.share is None for step in result.funnel)
    assert [window.reason for window in result.retention] == ["No leads were created in the period."] * 3
    assert result.lost_reasons == () and result.by_agent == () and result.by_source == ()
    json.dumps(result.to_dict())


def test_the_cohort_follows_the_brokerages_day(tenant):
    day = TODAY - dt.timedelta(days=5)

    def at(date, hour, minute):
        return dt.datetime.combine(date, dt.time(hour, minute), DUBAI)

    lead(tenant, created=at(day, 0, 30), name="just after midnight in Dubai (the evening before in UTC)")
    lead(tenant, created=at(day, 23, 59), name="last minute of the day")
    lead(tenant, created=at(day - dt.timedelta(days=1), 23, 59), name="the day before")
    lead(tenant, created=at(day + dt.timedelta(days=1), 0, 0), name="the day after")

    assert metrics(tenant, Period(day, day, DUBAI)).leads == 2


def test_every_figure_has_a_formula(tenant):
    result = metrics(tenant, period(30))
    assert result.formulas == FORMULAS
    assert {"contact_rate", "speed_to_lead", "leaking", "leakage_rate", "funnel", "funnel_step", "retention",
            "lost_reasons", "win_rate"} <= set(FORMULAS)
    payload = result.to_dict()
    assert payload["formulas"]["retention"].startswith("Of the cohort's leads at least D days old")


def _build(tenant, count, agents):
    for number in range(count):
        created = ago(days=11 + number % 40, hours=number % 7)
        made = lead(tenant, created=created, agent=agents[number % len(agents)],
                    stage=("contacted", "lost", "won", "viewing")[number % 4],
                    first=created + dt.timedelta(minutes=number % 90) if number % 3 else None,
                    source=("portal", "referral", "website")[number % 3], lost_reason=f"reason {number % 5}",
                    history=[("contacted", created + dt.timedelta(hours=1))])
        touch(made, created + dt.timedelta(hours=2))


@pytest.mark.parametrize("past", [False, True], ids=["period to today", "past period"])
def test_query_count_does_not_grow_with_leads(tenant, past):
    agents = [tenant.agent, *[UserFactory(brokerage=tenant.brokerage, role=Role.AGENT) for _ in range(4)]]
    chosen = period(60, 10) if past else period(60)

    def queries():
        with CaptureQueriesContext(connection) as captured:
            result = metrics(tenant, chosen)
        return len(captured), result

    _build(tenant, 5, agents[:2])
    few, small = queries()
    _build(tenant, 45, agents)
    many, large = queries()

    assert few == many <= 5
    assert large.leads > small.leads
