"""Demo CRM: 420 leads for Palm Crest Realty (60 for Marina Heights) with realistic histories, two nurturing
sequences, one automation, and a first sweep so the follow-up queue has work in it when the demo starts.

Leads go through `lead_create` (so their agents hold the object permission and automations are honoured);
their past — stage changes and interactions spread over the last eight months — is loaded in bulk and the
contact stamps recomputed by `lead_contacts_restamp`. Idempotent: leads carry `external_id` "demo-N" and a
brokerage that already has them is left alone. Randomness is one `random.Random` per brokerage, so every run
derives the same people and histories (dated back from now).
"""

import datetime as dt
import random
from decimal import Decimal

from django.utils import timezone
from django_scopes import scope

from brokerages.models import Brokerage, Role, User

from .models import Channel, Direction, Interaction, Lead, Stage, StageChange
from .services.automations import automation_create
from .services.leads import lead_contacts_restamp, lead_create
from .services.sequences import enrollment_enrol, sequence_create
from .services.sweeps import nurture_sweep

DEMO_LEADS = {"palm-crest": 420, "marina-heights": 60}
FIRST_NAMES = ("Aisha", "Omar", "Fatima", "Rashid", "Priya", "James", "Elena", "Hassan", "Mariam", "Vikram",
               "Sophie", "Khalid", "Noura", "Daniel", "Yasmin", "Arjun", "Layla", "Ahmed", "Chloe", "Tariq",
               "Hana", "Sergei", "Amira", "Rohan", "Grace", "Faisal", "Ines", "Bilal", "Olivia", "Zain")
LAST_NAMES = ("Al Mansoori", "Haddad", "Sharma", "Khan", "Williams", "Petrova", "Al Suwaidi", "Nair", "Rahman",
              "O'Connor", "Farouk", "Menon", "Al Hashimi", "Dubois", "Kapoor", "Saeed", "Ivanova", "Chen",
              "Al Zaabi", "Fernandes", "Qureshi", "Müller", "Al Nuaimi", "Iyer", "Taylor")
AREAS = ("Dubai Marina", "Downtown Dubai", "Business Bay", "JVC", "Palm Jumeirah", "Arabian Ranches",
         "Dubai Hills Estate", "JLT", "Damac Hills", "Mirdif", "Town Square", "Dubai Creek Harbour")
SOURCES = ("website", "website", "portal", "portal", "portal", "referral", "social", "walk_in", "call", "event")
PROPERTY_TYPES = ("apartment", "apartment", "apartment", "villa", "townhouse", "penthouse")
TIMELINES = ("immediate", "3_months", "6_months", "12_months", "exploring")
# How far along the funnel each demo lead got: (stage, share of leads).
STAGE_MIX = ((Stage.NEW, 0.08), (Stage.CONTACTED, 0.16), (Stage.QUALIFIED, 0.16), (Stage.VIEWING, 0.12),
             (Stage.OFFER, 0.07), (Stage.WON, 0.23), (Stage.LOST, 0.18))
FUNNEL = (Stage.NEW, Stage.CONTACTED, Stage.QUALIFIED, Stage.VIEWING, Stage.OFFER)
LOST_REASONS = ("Bought through another agency", "Budget did not match the market", "Decided to keep renting",
                "Mortgage not approved", "Stopped responding", "Moved abroad")
TOUCHES = {
    Channel.CALL: ("Intro call: wants {type} in {area}, budget {budget}.", "Called to confirm viewing times.",
                   "Talked through the offer and service charges.", "Check-in call; still comparing {area} options."),
    Channel.WHATSAPP: ("Sent three {area} listings on WhatsApp.", "Shared floor plans and the payment plan.",
                       "Sent the DLD fee breakdown."),
    Channel.EMAIL: ("Emailed the {area} market snapshot.", "Sent the Form F draft for review.",
                    "Emailed the mortgage pre-approval checklist."),
    Channel.MEETING: ("Viewing at {area}: liked the layout, worried about the view.",
                      "Met at the office to sign the MOU."),
}
INBOUND = ("Can we see it on Saturday?", "What are the service charges?", "Is the price negotiable?",
           "Thanks, my wife wants to see it too.")

WELCOME_STEPS = [
    {"delay_days": 0, "channel": "whatsapp",
     "body": "Hi {{ first_name }}, it's {{ agent_name }} from {{ brokerage_name }}. Thanks for your enquiry about "
             "{{ property_type }} in {{ areas }}. When suits you for a quick call?"},
    {"delay_days": 2, "channel": "email", "subject": "Homes in {{ areas }} that fit {{ budget }}",
     "instruction": "Share three reasons buyers like the lead's areas and offer a viewing this week."},
    {"delay_days": 5, "channel": "call", "body": "Call {{ first_name }} to agree a viewing shortlist."},
]
CHECK_IN_STEPS = [
    {"delay_days": 0, "channel": "email", "subject": "How is the new home, {{ first_name }}?",
     "body": "Hi {{ first_name }},\n\nIt has been a while since we closed on your home. If you are thinking about "
             "its value today, or a friend is looking in {{ areas }}, I would be glad to help.\n\n{{ agent_name }}"},
    {"delay_days": 30, "channel": "whatsapp",
     "instruction": "A short, warm check-in with one current market fact about the client's area."},
]


def seed(result) -> None:
    for slug, count in DEMO_LEADS.items():
        brokerage = Brokerage.objects.filter(slug=slug).first()
        if brokerage is None:
            continue
        with scope(brokerage=brokerage):
            if Lead.objects.filter(brokerage=brokerage, external_id__startswith="demo-").exists():
                continue
            _seed_brokerage(brokerage, count, random.Random(f"nurturing-{slug}"), result)


def _seed_brokerage(brokerage: Brokerage, count: int, rng: random.Random, result) -> None:
    owner = User.objects.filter(brokerage=brokerage, role=Role.BROKERAGE_OWNER).order_by("pk").first()
    agents = list(User.objects.filter(brokerage=brokerage, role=Role.AGENT, is_active=True).order_by("pk"))
    if not agents:
        return
    now = timezone.now()
    welcome = sequence_create(brokerage=brokerage, actor=owner, name="New lead welcome",
                              sequence_type="new_lead", steps=WELCOME_STEPS)
    sequence_create(brokerage=brokerage, actor=owner, name="Past client check-in",
                    sequence_type="inactive_client", steps=CHECK_IN_STEPS)
    stages = rng.choices([stage for stage, _ in STAGE_MIX], weights=[share for _, share in STAGE_MIX], k=count)
    interactions, stage_changes, leads = [], [], []
    for number, stage in enumerate(stages, start=1):
        lead, history = _demo_lead(brokerage, number, stage, agents, rng, now)
        leads.append(lead)
        stage_changes += history
        interactions += _demo_touches(lead, rng, now)
    StageChange.objects.bulk_create(stage_changes)
    Interaction.objects.bulk_create(interactions)
    for lead in leads:
        lead_contacts_restamp(lead=lead)
    # The newest uncontacted leads are in the welcome sequence; an automation enrols every new web lead.
    for lead in [lead for lead in leads if lead.stage == Stage.NEW and not lead.do_not_contact][:12]:
        enrollment_enrol(brokerage=brokerage, actor=lead.assigned_agent, lead=lead, sequence=welcome)
    automation_create(
        brokerage=brokerage, actor=owner, name="Web and portal leads: round robin + welcome",
        workflow_type="nurturing",
        trigger_conditions={"trigger": "lead_created", "conditions": {"source": ["website", "portal"]}},
        actions=[{"type": "assign_agent", "agent_id": "round_robin"},
                 {"type": "enrol_in_sequence", "sequence_id": welcome.pk}])
    swept = nurture_sweep(brokerage=brokerage, now=now)
    result.created.append(f"{count} leads for {brokerage.slug} ({swept.forgotten_leads_count} forgotten, "
                          f"{swept.inactive_clients_count} inactive clients, "
                          f"{len(swept.generated_followups)} follow-up drafts)")


def _demo_lead(brokerage, number: int, stage: str, agents, rng: random.Random, now):
    """One lead at `stage`, created some days ago, with the stage changes that got it there."""
    name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
    age_days = rng.randint(0, 2) if stage == Stage.NEW and rng.random() < 0.5 else rng.randint(3, 240)
    created = now - dt.timedelta(days=age_days, minutes=rng.randint(0, 600))
    low = Decimal(rng.choice((600, 900, 1200, 1800, 2500, 3500, 5000, 8000))) * 1000
    areas = rng.sample(AREAS, k=rng.choice((1, 1, 2)))
    data = {
        "name": name, "email": f"{name.split()[0].lower()}.{number}@example.com",
        "phone": f"+9715{rng.choice('0258')}{rng.randint(1000000, 9999999)}",
        "source": rng.choice(SOURCES), "priority": rng.choice(("low", "medium", "medium", "high", "urgent")),
        "budget_min": low, "budget_max": low * Decimal("1.4"), "areas": areas,
        "property_type": rng.choice(PROPERTY_TYPES), "timeline": rng.choice(TIMELINES),
        "tags": rng.sample(("investor", "first-time buyer", "cash", "mortgage", "off-plan", "relocating"),
                           k=rng.choice((0, 1, 2))),
        "marketing_consent": rng.random() < 0.8, "created_at": created,
        "do_not_contact": rng.random() < 0.03,
    }
    lead = lead_create(brokerage=brokerage, actor=None, data=data, assigned_agent=rng.choice(agents), stage=stage,
                       external_id=f"demo-{number}", run_automations=False)
    path = FUNNEL[:FUNNEL.index(stage) + 1] if stage in FUNNEL else FUNNEL[:rng.randint(2, 5)] + (stage,)
    history, at = [], created
    lead.stage_changes.all().delete()  # replaced by the dated history below
    for previous, current in zip(("",) + path[:-1], path, strict=True):
        history.append(StageChange(brokerage=brokerage, lead=lead, from_stage=previous, to_stage=current,
                                   changed_by=lead.assigned_agent if previous else None, changed_at=at))
        at = min(now, at + dt.timedelta(days=rng.randint(1, 12)))
    updates = {"stage_changed_at": history[-1].changed_at}
    if stage == Stage.WON:
        updates.update(sale_price=(low * Decimal("1.2")).quantize(Decimal("1000")),
                       commission=(low * Decimal("0.024")).quantize(Decimal("100")),
                       satisfaction_score=rng.choice((3, 4, 4, 5, 5)))
    elif stage == Stage.LOST:
        updates["lost_reason"] = rng.choice(LOST_REASONS)
    Lead.objects.filter(pk=lead.pk).update(**updates)
    for key, value in updates.items():
        setattr(lead, key, value)
    return lead, history


def _demo_touches(lead: Lead, rng: random.Random, now) -> list[Interaction]:
    """Calls, messages and viewings between the lead's arrival and its last stage — and for some leads, nothing
    for weeks since (the forgotten ones the sweep should find)."""
    if lead.stage == Stage.NEW:
        return []
    start = lead.created_at + dt.timedelta(minutes=rng.choice((3, 4, 12, 45, 180, 1500)))
    # Most open leads were touched recently; about a third went quiet (forgotten), and clients drift away.
    quiet_days = rng.choice((1, 2, 3, 5)) if rng.random() < 0.65 else rng.randint(9, 60)
    if lead.stage == Stage.WON:
        quiet_days = rng.randint(20, 200)
    end = max(start, now - dt.timedelta(days=quiet_days))
    count = {Stage.CONTACTED: 2, Stage.QUALIFIED: 3, Stage.VIEWING: 4, Stage.OFFER: 5}.get(lead.stage, 4)
    span = (end - start).total_seconds()
    touches = []
    for index in range(count):
        at = start + dt.timedelta(seconds=span * index / max(1, count - 1)) if count > 1 else start
        inbound = index > 0 and rng.random() < 0.25
        channel = rng.choice((Channel.CALL, Channel.WHATSAPP, Channel.EMAIL, Channel.MEETING)) if index else Channel.CALL
        summary = rng.choice(INBOUND) if inbound else rng.choice(TOUCHES[channel]).format(
            type=lead.get_property_type_display().lower() or "a home", area=(lead.areas or ["Dubai"])[0],
            budget=f"AED {lead.budget_min:,.0f}" if lead.budget_min else "open")
        touches.append(Interaction(brokerage=lead.brokerage, lead=lead, agent=None if inbound else lead.assigned_agent,
                                   channel=Channel.WHATSAPP if inbound else channel,
                                   direction=Direction.INBOUND if inbound else Direction.OUTBOUND,
                                   occurred_at=at, summary=summary))
    return touches
