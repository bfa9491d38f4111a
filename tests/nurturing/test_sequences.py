"""Nurturing sequences as owners build them and agents use them: the step rules, enrolment and its controls, the
promise that a step is never sent twice, what stops an enrolment, and the pages (step editor, sequence page,
the lead page's enrolment panel)."""

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from brokerages.models import AuditLog, Role
from nurturing.models import Enrollment, FollowUp, NurturingSequence
from nurturing.selectors.sequences import enrollments_due, lead_enrollments
from nurturing.services import leads as lead_services
from nurturing.services import sequences as services
from tests.factories import UserFactory, make_lead

pytestmark = pytest.mark.django_db

STEPS = [
    {"delay_days": 0, "channel": "email", "subject": "Welcome, {{ first_name }}", "body": "Hi {{ first_name }}, "
     "it's {{ agent_name }} from {{ brokerage_name }}."},
    {"delay_days": 2, "channel": "whatsapp", "instruction": "Share two listings in their areas."},
    {"delay_days": 5, "channel": "call", "body": "Call {{ first_name }} about a viewing."},
]
BAD_STEPS = [
    ({"delay_days": -3, "channel": "email", "body": "Hi"}, "delay_days cannot be negative"),
    ({"delay_days": 1, "channel": "email", "body": "Hi {{ nickname }}"}, "unknown merge field(s) in the body: nickname"),
    ({"delay_days": 1, "channel": "sms", "body": "Hi", "instruction": "Say hi"}, "not both"),
    ({"delay_days": 1, "channel": "fax", "body": "Hi"}, "channel must be one of email, sms, whatsapp, call"),
]


@pytest.fixture
def colleague(tenant):
    return UserFactory(brokerage=tenant.brokerage, role=Role.AGENT, full_name="Omar Farouk")


def _sequence(tenant, name="Welcome", sequence_type="new_lead", steps=STEPS, is_active=True):
    return services.sequence_create(brokerage=tenant.brokerage, actor=tenant.owner, name=name,
                                    sequence_type=sequence_type, steps=steps, is_active=is_active)


def _enrol(tenant, lead, sequence, actor=None):
    return services.enrollment_enrol(brokerage=tenant.brokerage, actor=actor or tenant.agent, lead=lead,
                                     sequence=sequence)


def _draft_step(enrollment, drafted_at):
    """What the due-step sweep does: draft the pending step's follow-up, then advance the enrolment."""
    FollowUp.objects.create(brokerage=enrollment.brokerage, lead=enrollment.lead, agent=enrollment.lead.assigned_agent,
                            reason=FollowUp.Reason.SEQUENCE_STEP, channel="email", content="Step",
                            suggested_send_date=drafted_at.date(), sequence=enrollment.sequence,
                            step_index=enrollment.next_step)
    return services.enrollments_advance(brokerage=enrollment.brokerage, enrollments=[enrollment],
                                        drafted_at=drafted_at)[0]


# --- sequences and their steps ----------------------------------------------------------------------------------

def test_a_sequence_is_created_with_clean_steps_and_audited(tenant):
    sequence = _sequence(tenant, steps=[{"delay_days": "1", "channel": "email", "subject": " Hi ", "body": " Hello "}])

    assert sequence.steps == [{"delay_days": 1, "channel": "email", "subject": "Hi", "body": "Hello"}]
    assert sequence.created_by == tenant.owner and sequence.is_active
    entry = AuditLog.objects.get(action="nurturing.sequence_created")
    assert entry.actor == tenant.owner and entry.resource_id == str(sequence.pk)


@pytest.mark.parametrize(("step", "message"), BAD_STEPS)
def test_a_bad_step_is_refused_with_a_message_naming_it(tenant, step, message):
    with pytest.raises(ValidationError) as error:
        _sequence(tenant, steps=[STEPS[0], step])

    [text] = error.value.message_dict["steps"]
    assert text.startswith("Step 2: ") and message in text
    assert not NurturingSequence.objects.exists()


def test_a_name_used_before_is_refused_on_the_name(tenant, other_tenant):
    _sequence(tenant, name="Welcome")
    with pytest.raises(ValidationError) as error:
        _sequence(tenant, name="  welcome ")
    assert "already a sequence called" in error.value.message_dict["name"][0]
    services.sequence_create(brokerage=other_tenant.brokerage, actor=other_tenant.owner, name="Welcome",
                             sequence_type="new_lead", steps=STEPS)  # another brokerage may use it


def test_removing_steps_completes_enrolments_that_had_them_all(tenant):
    sequence = _sequence(tenant)
    ahead = _enrol(tenant, make_lead(tenant.brokerage, agent=tenant.agent), sequence)
    ahead = _draft_step(_draft_step(ahead, timezone.now()), timezone.now())
    behind = _enrol(tenant, make_lead(tenant.brokerage, agent=tenant.agent), sequence)

    services.sequence_update(brokerage=tenant.brokerage, actor=tenant.owner, sequence=sequence,
                             data={"steps": STEPS[:2]})

    ahead.refresh_from_db()
    behind.refresh_from_db()
    assert (ahead.status, ahead.next_due_at) == ("completed", None)
    assert behind.status == "active" and behind.next_step == 0


# --- enrolling ----------------------------------------------------------------------------------------------------

def test_a_new_enrolment_starts_at_the_first_step(tenant):
    lead = make_lead(tenant.brokerage, agent=tenant.agent, name="Layla Haddad")
    before = timezone.now()

    enrollment = _enrol(tenant, lead, _sequence(tenant, steps=[{**STEPS[0], "delay_days": 1}]))

    assert (enrollment.status, enrollment.next_step, enrollment.enrolled_by) == ("active", 0, tenant.agent)
    assert before + dt.timedelta(days=1) <= enrollment.next_due_at <= timezone.now() + dt.timedelta(days=1)
    assert AuditLog.objects.filter(action="nurturing.enrollment_created", resource_id=str(enrollment.pk)).exists()
    assert "Layla Haddad is enrolled in “Welcome”; step 1 is due" in services.enrollment_summary(enrollment)


def test_an_opted_out_lead_cannot_be_enrolled(tenant):
    lead = make_lead(tenant.brokerage, agent=tenant.agent, name="Nadia Saleh", do_not_contact=True)

    with pytest.raises(ValidationError) as error:
        _enrol(tenant, lead, _sequence(tenant))

    assert "Nadia Saleh asked not to be contacted" in error.value.message_dict["lead"][0]
    assert not Enrollment.objects.exists()


def test_closed_leads_join_only_client_sequences_and_open_leads_only_the_others(tenant):
    won = make_lead(tenant.brokerage, agent=tenant.agent, stage="won")
    open_lead = make_lead(tenant.brokerage, agent=tenant.agent)
    welcome, check_in = _sequence(tenant), _sequence(tenant, name="Check-in", sequence_type="inactive_client")

    with pytest.raises(ValidationError, match="only open leads"):
        _enrol(tenant, won, welcome)
    with pytest.raises(ValidationError, match="is for clients"):
        _enrol(tenant, open_lead, check_in)
    assert _enrol(tenant, won, check_in).status == "active"


def test_a_switched_off_sequence_takes_no_one_and_its_steps_wait(tenant):
    sequence = _sequence(tenant, steps=[{**STEPS[0], "delay_days": 0}])
    enrollment = _enrol(tenant, make_lead(tenant.brokerage, agent=tenant.agent), sequence)
    services.sequence_set_active(brokerage=tenant.brokerage, actor=tenant.owner, sequence=sequence, is_active=False)

    with pytest.raises(ValidationError, match="switched off"):
        _enrol(tenant, make_lead(tenant.brokerage, agent=tenant.agent), sequence)
    assert enrollments_due(brokerage=tenant.brokerage, now=timezone.now() + dt.timedelta(days=1)) == []

    services.sequence_set_active(brokerage=tenant.brokerage, actor=tenant.owner, sequence=sequence, is_active=True)
    assert enrollments_due(brokerage=tenant.brokerage, now=timezone.now() + dt.timedelta(days=1)) == [enrollment]
    assert AuditLog.objects.filter(action="nurturing.sequence_deactivated").count() == 1


def test_enrolling_twice_while_active_changes_nothing(tenant):
    lead, sequence = make_lead(tenant.brokerage, agent=tenant.agent), _sequence(tenant)
    first = _enrol(tenant, lead, sequence)
    second = _enrol(tenant, lead, sequence, actor=tenant.owner)

    assert second.pk == first.pk and second.next_due_at == first.next_due_at and second.enrolled_by == tenant.agent
    assert Enrollment.objects.count() == 1


# --- pause, resume, stop ---------------------------------------------------------------------------------------

def test_pause_holds_the_step_and_resume_counts_its_delay_from_now(tenant):
    sequence = _sequence(tenant)
    enrollment = _draft_step(_enrol(tenant, make_lead(tenant.brokerage, agent=tenant.agent), sequence),
                             timezone.now() - dt.timedelta(days=30))
    assert enrollment.next_step == 1 and enrollment.next_due_at < timezone.now()

    paused = services.enrollment_pause(brokerage=tenant.brokerage, actor=tenant.agent, enrollment=enrollment)
    assert (paused.status, paused.next_due_at) == ("paused", None)
    assert enrollments_due(brokerage=tenant.brokerage, now=timezone.now()) == []
    with pytest.raises(ValidationError, match="is paused, so it cannot be paused"):
        services.enrollment_pause(brokerage=tenant.brokerage, actor=tenant.agent, enrollment=paused)

    before = timezone.now()
    resumed = services.enrollment_resume(brokerage=tenant.brokerage, actor=tenant.agent, enrollment=paused)
    assert (resumed.status, resumed.next_step) == ("active", 1)
    assert resumed.next_due_at >= before + dt.timedelta(days=2)  # step 2 waits 2 days, from now
    assert [entry.action for entry in AuditLog.objects.filter(
        resource_type="nurturing.enrollment", resource_id=str(enrollment.pk)).order_by("pk")] == [
        "nurturing.enrollment_created", "nurturing.enrollment_paused", "nurturing.enrollment_resumed"]


def test_stop_keeps_the_reason_and_a_stopped_enrolment_cannot_be_resumed(tenant):
    enrollment = _enrol(tenant, make_lead(tenant.brokerage, agent=tenant.agent), _sequence(tenant))

    stopped = services.enrollment_stop(brokerage=tenant.brokerage, actor=tenant.agent, enrollment=enrollment,
                                       reason="Bought elsewhere")
    assert (stopped.status, stopped.stop_reason, stopped.next_due_at) == ("stopped", "Bought elsewhere", None)
    with pytest.raises(ValidationError, match="is stopped, so it cannot be resumed"):
        services.enrollment_resume(brokerage=tenant.brokerage, actor=tenant.agent, enrollment=stopped)


def test_re_enrolling_resumes_where_it_stopped_and_never_repeats_a_step(tenant):
    lead, sequence = make_lead(tenant.brokerage, agent=tenant.agent), _sequence(tenant)
    enrollment = _draft_step(_enrol(tenant, lead, sequence), timezone.now())
    assert enrollment.next_step == 1
    services.enrollment_stop(brokerage=tenant.brokerage, actor=tenant.agent, enrollment=enrollment)

    again = _enrol(tenant, lead, sequence)

    assert again.pk == enrollment.pk and (again.status, again.next_step, again.stop_reason) == ("active", 1, "")
    assert again.next_due_at >= timezone.now() + dt.timedelta(days=2) - dt.timedelta(seconds=5)
    assert "continues “Welcome” at step 2 of 3" in services.enrollment_summary(again)
    assert AuditLog.objects.filter(action="nurturing.enrollment_reenrolled").count() == 1


def test_a_step_already_drafted_is_skipped_even_if_the_enrolment_lagged(tenant):
    """The follow-up rows are the truth: a drafted step the counter missed is still not drafted again."""
    lead, sequence = make_lead(tenant.brokerage, agent=tenant.agent), _sequence(tenant)
    enrollment = _enrol(tenant, lead, sequence)
    FollowUp.objects.create(brokerage=tenant.brokerage, lead=lead, reason="sequence_step", channel="email",
                            content="Step 2", suggested_send_date=timezone.localdate(), sequence=sequence,
                            step_index=1)
    services.enrollment_stop(brokerage=tenant.brokerage, actor=tenant.agent, enrollment=enrollment)

    assert _enrol(tenant, lead, sequence).next_step == 2


def test_after_the_last_step_the_enrolment_completes_and_stays_completed(tenant):
    lead, sequence = make_lead(tenant.brokerage, agent=tenant.agent, name="Sara Ali"), _sequence(tenant)
    enrollment = _enrol(tenant, lead, sequence)
    for _ in STEPS:
        enrollment = _draft_step(enrollment, timezone.now())
    assert (enrollment.status, enrollment.next_step, enrollment.next_due_at) == ("completed", 3, None)

    again = _enrol(tenant, lead, sequence)

    assert (again.status, again.next_step) == ("completed", 3)
    assert "Sara Ali has already been through every step" in services.enrollment_summary(again)
    assert FollowUp.objects.filter(lead=lead, sequence=sequence).count() == 3


def test_advancing_a_batch_costs_the_same_queries_whatever_its_size(tenant):
    sequence = _sequence(tenant, steps=[{**step, "delay_days": 0} for step in STEPS])

    def advance(count):
        for _ in range(count):
            _enrol(tenant, make_lead(tenant.brokerage, agent=tenant.agent), sequence)
        with CaptureQueriesContext(connection) as queries:
            due = enrollments_due(brokerage=tenant.brokerage, now=timezone.now())
            for enrollment in due:  # what the sweep reads to draft each step
                assert enrollment.lead.assigned_agent.display_name and enrollment.lead.brokerage.name
            services.enrollments_advance(brokerage=tenant.brokerage, enrollments=due, drafted_at=timezone.now())
        Enrollment.objects.update(status="completed")
        return len(due), len(queries)

    small, large = advance(2), advance(12)
    assert small[0] == 2 and large[0] == 12
    assert small[1] == large[1]
    assert set(Enrollment.objects.values_list("next_step", flat=True)) == {1}


def test_due_enrolments_are_the_active_ones_whose_time_came(tenant):
    sequence = _sequence(tenant, steps=[{**STEPS[0], "delay_days": 3}])
    due = _enrol(tenant, make_lead(tenant.brokerage, agent=tenant.agent), sequence)
    paused = _enrol(tenant, make_lead(tenant.brokerage, agent=tenant.agent), sequence)
    services.enrollment_pause(brokerage=tenant.brokerage, actor=tenant.agent, enrollment=paused)

    assert enrollments_due(brokerage=tenant.brokerage, now=timezone.now()) == []
    assert enrollments_due(brokerage=tenant.brokerage, now=timezone.now() + dt.timedelta(days=3, minutes=1)) == [due]


# --- what stops an enrolment -------------------------------------------------------------------------------------

def test_a_reply_from_the_lead_stops_the_enrolment(tenant):
    lead = make_lead(tenant.brokerage, agent=tenant.agent)
    enrollment = _enrol(tenant, lead, _sequence(tenant))

    lead_services.interaction_log(brokerage=tenant.brokerage, actor=tenant.agent, lead=lead, channel="whatsapp",
                                  summary="Asked for the brochure", direction="inbound")

    enrollment.refresh_from_db()
    assert enrollment.status == "stopped" and "replied" in enrollment.stop_reason
    assert enrollment.next_due_at is None


@pytest.mark.parametrize(("stage", "extra"), [("won", {}), ("lost", {"lost_reason": "Bought elsewhere"})])
def test_winning_or_losing_the_lead_stops_the_enrolment(tenant, stage, extra):
    lead = make_lead(tenant.brokerage, agent=tenant.agent)
    enrollment = _enrol(tenant, lead, _sequence(tenant))

    lead_services.lead_change_stage(brokerage=tenant.brokerage, actor=tenant.agent, lead=lead, stage=stage, **extra)

    enrollment.refresh_from_db()
    assert enrollment.status == "stopped" and stage in enrollment.stop_reason.lower()


def test_opting_out_stops_the_enrolment_and_re_enrolling_is_refused(tenant):
    lead = make_lead(tenant.brokerage, agent=tenant.agent)
    sequence = _sequence(tenant)
    enrollment = _enrol(tenant, lead, sequence)

    lead_services.lead_set_contact_preferences(brokerage=tenant.brokerage, actor=tenant.agent, lead=lead,
                                               do_not_contact=True)

    enrollment.refresh_from_db()
    assert enrollment.status == "stopped"
    with pytest.raises(ValidationError, match="asked not to be contacted"):
        _enrol(tenant, lead, sequence)


# --- the step editor ------------------------------------------------------------------------------------------

def _editor_data(name="Welcome", sequence_type="new_lead", steps=(), initial=0, **extra):
    data = {"name": name, "sequence_type": sequence_type, "is_active": "on", "steps-TOTAL_FORMS": str(len(steps)),
            "steps-INITIAL_FORMS": str(initial), **extra}
    for index, step in enumerate(steps):
        for key, value in step.items():
            data[f"steps-{index}-{key}"] = value
    return data


def test_the_owner_builds_a_sequence_with_the_step_editor(login, tenant):
    client = login(tenant.owner)
    page = client.get(reverse("nurturing:sequence_new")).content.decode()
    assert 'name="steps-0-delay_days"' in page and 'name="steps-0-instruction"' in page
    assert "{{ first_name }}" in page and "The lead&#x27;s first name" in page  # merge fields with what they are
    assert 'name="steps"' not in page  # no raw JSON to edit

    response = client.post(reverse("nurturing:sequence_new"), _editor_data(steps=[
        {"delay_days": "0", "channel": "email", "subject": "Hi {{ first_name }}", "body": "Welcome!"},
        {"delay_days": "3", "channel": "whatsapp", "instruction": "Offer a viewing."}]))

    sequence = NurturingSequence.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("nurturing:sequence", args=[sequence.pk])
    assert sequence.steps == [
        {"delay_days": 0, "channel": "email", "subject": "Hi {{ first_name }}", "body": "Welcome!"},
        {"delay_days": 3, "channel": "whatsapp", "instruction": "Offer a viewing."}]
    page = client.get(response["Location"]).content.decode()
    assert "is saved with 2 steps" in page and "3 days after step 1" in page and "AI writer" in page


def test_step_errors_show_on_their_step_and_nothing_is_saved(login, tenant):
    steps = [{"delay_days": "0", "channel": "email", "body": "Hi {{ nickname }}"},
             {"delay_days": "-2", "channel": "sms", "body": "Hi"},
             {"delay_days": "1", "channel": "sms", "body": "Hi", "instruction": "Say hi"},
             {"delay_days": "1", "channel": "fax", "body": "Hi"}]

    response = login(tenant.owner).post(reverse("nurturing:sequence_new"), _editor_data(steps=steps))

    assert response.status_code == 200 and not NurturingSequence.objects.exists()
    html = response.content.decode()
    fieldsets = html.split('<fieldset class="step"')[1:]
    assert "unknown merge field(s) in the body: nickname" in fieldsets[0]
    assert "delay_days cannot be negative." in fieldsets[1]
    assert "not both" in fieldsets[2]
    assert "Select a valid choice. fax is not one of the available choices." in fieldsets[3]


def test_a_sequence_without_steps_and_a_taken_name_are_explained(login, tenant):
    _sequence(tenant, name="Welcome")
    client = login(tenant.owner)

    html = client.post(reverse("nurturing:sequence_new"), _editor_data(name="Welcome", steps=[
        {"delay_days": "0", "channel": "email", "body": "Hi"}])).content.decode()
    assert "There is already a sequence called “Welcome”." in html

    blank_row = {"delay_days": "0", "channel": "email"}
    html = client.post(reverse("nurturing:sequence_new"), _editor_data(name="Other", steps=[blank_row])
                       ).content.decode()
    assert "A sequence needs at least one step." in html  # an untouched row is no step
    assert NurturingSequence.objects.count() == 1


def test_add_a_step_keeps_what_was_typed_and_an_untouched_new_row_is_ignored(login, tenant):
    client = login(tenant.owner)
    typed = _editor_data(name="", steps=[{"delay_days": "2", "channel": "sms", "body": "Hello {{ first_name }}"}],
                         add_step="1")

    html = client.post(reverse("nurturing:sequence_new"), typed).content.decode()

    assert 'name="steps-TOTAL_FORMS" value="2"' in html and 'name="steps-1-body"' in html
    assert "Hello {{ first_name }}" in html and "This field is required" not in html
    assert not NurturingSequence.objects.exists()

    saved = _editor_data(name="Two rows", steps=[{"delay_days": "2", "channel": "sms", "body": "Hello"},
                                                 {"delay_days": "0", "channel": "email"}])
    assert client.post(reverse("nurturing:sequence_new"), saved).status_code == 302
    assert NurturingSequence.objects.get().steps == [{"delay_days": 2, "channel": "sms", "body": "Hello"}]


def test_editing_removes_a_step_and_keeps_the_others(login, tenant):
    sequence = _sequence(tenant)
    client = login(tenant.owner)
    page = client.get(reverse("nurturing:sequence_edit", args=[sequence.pk])).content.decode()
    assert 'value="Share two listings in their areas."' in page or "Share two listings in their areas." in page

    steps = [{k: str(v) for k, v in step.items()} for step in STEPS]
    steps[1]["DELETE"] = "on"
    response = client.post(reverse("nurturing:sequence_edit", args=[sequence.pk]),
                           _editor_data(steps=steps, initial=3))

    assert response.status_code == 302
    sequence.refresh_from_db()
    assert [step["channel"] for step in sequence.steps] == ["email", "call"]
    assert AuditLog.objects.filter(action="nurturing.sequence_updated").exists()


def test_only_owners_build_sequences_and_agents_see_the_active_ones(login, tenant):
    _sequence(tenant, name="Welcome")
    retired = _sequence(tenant, name="Old drip", is_active=False)

    owner_page = login(tenant.owner).get(reverse("nurturing:sequences")).content.decode()
    assert "Welcome" in owner_page and "Old drip" in owner_page and "New sequence" in owner_page

    agent = login(tenant.agent)
    agent_page = agent.get(reverse("nurturing:sequences")).content.decode()
    assert "Welcome" in agent_page and "Old drip" not in agent_page and "New sequence" not in agent_page
    assert agent.get(reverse("nurturing:sequence_new")).status_code == 403
    assert agent.get(reverse("nurturing:sequence", args=[retired.pk])).status_code == 404
    assert agent.post(reverse("nurturing:sequence_toggle", args=[retired.pk])).status_code == 403


# --- the sequence page: enrolling and its controls ----------------------------------------------------------------

def test_the_sequence_page_lists_the_agents_own_enrolments_only(login, tenant, colleague):
    sequence = _sequence(tenant)
    _enrol(tenant, make_lead(tenant.brokerage, agent=tenant.agent, name="Mine Mansour"), sequence)
    _enrol(tenant, make_lead(tenant.brokerage, agent=colleague, name="Theirs Tamimi"), sequence, actor=colleague)

    agent_page = login(tenant.agent).get(reverse("nurturing:sequence", args=[sequence.pk])).content.decode()
    assert "Mine Mansour" in agent_page and "Theirs Tamimi" not in agent_page
    assert "Step 1 of 3" in agent_page and "Pause" in agent_page and "Edit steps" not in agent_page

    owner_page = login(tenant.owner).get(reverse("nurturing:sequence", args=[sequence.pk])).content.decode()
    assert "Mine Mansour" in owner_page and "Theirs Tamimi" in owner_page and "Edit steps" in owner_page


def test_the_lead_picker_offers_only_leads_the_agent_can_enrol(login, tenant, colleague):
    sequence = _sequence(tenant)
    make_lead(tenant.brokerage, agent=tenant.agent, name="Open Omar")
    make_lead(tenant.brokerage, agent=tenant.agent, name="Quiet Qasim", do_not_contact=True)
    make_lead(tenant.brokerage, agent=tenant.agent, name="Won Walid", stage="won")
    make_lead(tenant.brokerage, agent=colleague, name="Other Ola")

    picker = login(tenant.agent).get(reverse("nurturing:sequence", args=[sequence.pk]), {"q": ""},
                                     HTTP_HX_REQUEST="true").content.decode()

    assert picker.lstrip().startswith('<div id="lead-picker"')
    assert "Open Omar" in picker
    assert not any(name in picker for name in ("Quiet Qasim", "Won Walid", "Other Ola"))


def test_an_agent_enrols_their_lead_from_the_sequence_page(login, tenant):
    sequence = _sequence(tenant)
    lead = make_lead(tenant.brokerage, agent=tenant.agent, name="Layla Haddad")
    client = login(tenant.agent)

    response = client.post(reverse("nurturing:sequence_enrol", args=[sequence.pk]), {"lead": lead.pk}, follow=True)

    assert Enrollment.objects.get().lead == lead
    assert "Layla Haddad is enrolled in “Welcome”" in response.content.decode()


def test_another_agents_lead_is_403_and_another_brokerages_is_404(login, tenant, colleague, other_tenant):
    sequence = _sequence(tenant)
    theirs = make_lead(tenant.brokerage, agent=colleague)
    foreign = make_lead(other_tenant.brokerage, agent=other_tenant.agent)
    client = login(tenant.agent)

    assert client.post(reverse("nurturing:sequence_enrol", args=[sequence.pk]), {"lead": theirs.pk}
                       ).status_code == 403
    assert client.post(reverse("nurturing:sequence_enrol", args=[sequence.pk]), {"lead": foreign.pk}
                       ).status_code == 404
    assert client.post(reverse("nurturing:lead_enrol", args=[theirs.pk]), {"sequence": sequence.pk}
                       ).status_code == 403
    enrollment = _enrol(tenant, theirs, sequence, actor=colleague)
    assert client.post(reverse("nurturing:enrollment_pause", args=[enrollment.pk])).status_code == 403
    assert login(other_tenant.owner).post(reverse("nurturing:enrollment_stop", args=[enrollment.pk])
                                          ).status_code == 404
    enrollment.refresh_from_db()
    assert enrollment.status == "active"


def test_support_staff_cannot_enrol(login, tenant):
    sequence = _sequence(tenant)
    lead = make_lead(tenant.brokerage, agent=tenant.agent)
    assert login(tenant.support).post(reverse("nurturing:lead_enrol", args=[lead.pk]),
                                      {"sequence": sequence.pk}).status_code == 403
    assert not Enrollment.objects.exists()


def test_row_controls_pause_resume_and_stop_with_htmx(login, tenant):
    sequence = _sequence(tenant)
    enrollment = _enrol(tenant, make_lead(tenant.brokerage, agent=tenant.agent), sequence)
    client = login(tenant.agent)
    row = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": f"enrollment-{enrollment.pk}"}

    html = client.post(reverse("nurturing:enrollment_pause", args=[enrollment.pk]), **row).content.decode()
    assert html.lstrip().startswith(f'<tr id="enrollment-{enrollment.pk}"') and "Paused" in html
    assert "Resume" in html

    html = client.post(reverse("nurturing:enrollment_pause", args=[enrollment.pk]), **row).content.decode()
    assert "is paused, so it cannot be paused" in html

    html = client.post(reverse("nurturing:enrollment_resume", args=[enrollment.pk]), **row).content.decode()
    assert "Active" in html and "Pause" in html

    html = client.post(reverse("nurturing:enrollment_stop", args=[enrollment.pk]), HTTP_HX_PROMPT="Moved abroad",
                       **row).content.decode()
    assert "Stopped" in html and "Moved abroad" in html and "Enrol again" in html
    enrollment.refresh_from_db()
    assert (enrollment.status, enrollment.stop_reason) == ("stopped", "Moved abroad")


# --- the lead page's panel --------------------------------------------------------------------------------------

def test_the_lead_panel_enrols_and_controls_the_leads_sequences(login, tenant):
    sequence = _sequence(tenant)
    lead = make_lead(tenant.brokerage, agent=tenant.agent, name="Layla Haddad")
    client = login(tenant.agent)
    panel = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "lead-enrollments"}

    html = client.post(reverse("nurturing:lead_enrol", args=[lead.pk]), {"sequence": sequence.pk, "next": "/x/"},
                       **panel).content.decode()
    assert html.lstrip().startswith('<section id="lead-enrollments"')
    assert "Layla Haddad is enrolled in “Welcome”" in html and "Step 1 of 3" in html
    assert 'name="next" value="/x/"' in html  # the panel keeps pointing back at the lead page
    enrollment = Enrollment.objects.get()

    html = client.post(reverse("nurturing:enrollment_stop", args=[enrollment.pk]), **panel).content.decode()
    assert html.lstrip().startswith('<section id="lead-enrollments"') and "Stopped by" in html

    html = client.post(reverse("nurturing:lead_enrol", args=[lead.pk]), {"sequence": ""}, **panel).content.decode()
    assert "Choose a sequence" in html and 'role="alert"' in html


def test_the_panel_explains_a_refusal(login, tenant):
    sequence = _sequence(tenant)
    lead = make_lead(tenant.brokerage, agent=tenant.agent, name="Won Walid", stage="won")

    html = login(tenant.agent).post(reverse("nurturing:lead_enrol", args=[lead.pk]), {"sequence": sequence.pk},
                                    HTTP_HX_REQUEST="true", HTTP_HX_TARGET="lead-enrollments").content.decode()

    assert "Won Walid is won; only open leads can be enrolled in “Welcome”." in html
    assert not Enrollment.objects.exists()


def test_the_panel_renders_inside_a_page_and_read_only_without_the_permission(rf, tenant):
    from django.template.loader import render_to_string

    sequence = _sequence(tenant)
    lead = make_lead(tenant.brokerage, agent=tenant.agent)
    _enrol(tenant, lead, sequence)
    request = rf.get("/leads/1/")
    request.user = tenant.agent
    context = {"lead": lead, "enrollments": lead_enrollments(tenant.brokerage, lead), "sequences": [sequence]}

    html = render_to_string("nurturing/partials/lead_enrollments.html", context, request=request)
    assert "Pause" in html and 'name="next" value="/leads/1/"' in html and "Enrol in sequence" in html

    html = render_to_string("nurturing/partials/lead_enrollments.html", {**context, "can_enrol": False},
                            request=request)
    assert "Welcome" in html and "Pause" not in html and "Enrol in sequence" not in html


@pytest.mark.parametrize(("target", "lands_on"), [
    ("/leads/7/", "/leads/7/"),
    ("https://evil.example/steal", None),
    ("//evil.example/steal", None),
])
def test_controls_go_back_to_a_safe_next_only(login, tenant, target, lands_on):
    sequence = _sequence(tenant)
    enrollment = _enrol(tenant, make_lead(tenant.brokerage, agent=tenant.agent), sequence)

    response = login(tenant.agent).post(reverse("nurturing:enrollment_pause", args=[enrollment.pk]),
                                        {"next": target})

    assert response.status_code == 302
    assert response["Location"] == (lands_on or reverse("nurturing:sequence", args=[sequence.pk]))
