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
from functools import reduce

from django.utils import timezone
from django_scopes import scope

from brokerages.models import Brokerage, Role, User

from .models import OPEN_STAGES, Channel, Direction, Interaction, Lead, Listing, Stage, StageChange, further_stage
from .services.automations import automation_create
from .services.leads import lead_contacts_restamp, lead_create
from .services.listings import listing_create, listing_set_status
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
            if not Lead.objects.filter(brokerage=brokerage, external_id__startswith="demo-").exists():
                _seed_brokerage(brokerage, count, random.Random(f"nurturing-{slug}"), result)
            if not Listing.objects.filter(brokerage=brokerage).exists():
                _seed_listings(brokerage, result)


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
    updates = {"stage_changed_at": history[-1].changed_at, "furthest_stage": reduce(further_stage, path, Stage.NEW)}
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


# Demo listings: a building of each community, the kind of home it has, what such homes there cost (AED) and
# their selling points.
BUILDINGS = {
    "Dubai Marina": ("Marina Gate 1", "apartment", (1_200_000, 6_000_000),
                     ["Full marina view", "Balcony", "Gym and pool"]),
    "Downtown Dubai": ("Burj Vista 1", "apartment", (1_500_000, 8_000_000),
                       ["Burj Khalifa view", "Walk to Dubai Mall", "Concierge"]),
    "Business Bay": ("Executive Towers", "apartment", (700_000, 3_000_000),
                     ["Canal view", "Metro nearby", "Covered parking"]),
    "JVC": ("Bloom Towers", "apartment", (500_000, 1_800_000), ["Community park", "Kids' play area"]),
    "Palm Jumeirah": ("Shoreline Apartments", "apartment", (2_000_000, 8_000_000),
                      ["Private beach access", "Sea view", "Maid's room"]),
    "Arabian Ranches": ("Savannah", "villa", (3_000_000, 9_000_000),
                        ["Private garden", "Maid's room", "Near Ranches Souk"]),
    "Dubai Hills Estate": ("Maple", "townhouse", (2_500_000, 6_000_000),
                           ["Park view", "Near Dubai Hills Mall", "Private garden"]),
    "JLT": ("Lake Terrace", "apartment", (600_000, 2_500_000), ["Lake view", "Metro nearby"]),
    "Damac Hills": ("Golf Promenade", "apartment", (800_000, 2_500_000), ["Golf course view", "Community pool"]),
    "Mirdif": ("Uptown Mirdif", "townhouse", (1_500_000, 4_000_000), ["Near Mirdif City Centre", "Private garden"]),
    "Town Square": ("Zahra Townhouses", "townhouse", (1_200_000, 3_000_000), ["Corner unit", "Community pool"]),
    "Dubai Creek Harbour": ("Creek Rise", "apartment", (1_000_000, 4_000_000), ["Creek view", "Waterfront promenade"]),
}


def _seed_listings(brokerage: Brokerage, result) -> None:
    """A handful of listings for the first agent (the demo login): four priced for their own open leads so
    matching shows on both pages, a rental, an under-offer and a sold one, two drafts missing facts (what the
    description generator complains about), and a colleague's listing the agent sees read-only."""
    agents = list(User.objects.filter(brokerage=brokerage, role=Role.AGENT, is_active=True).order_by("pk")[:2])
    if not agents:
        return
    agent, colleague = agents[0], agents[-1]
    permits = iter(range(1, 100))
    made = []

    def listing(owner, status="active", **data):
        permit = f"71{brokerage.pk:03d}{next(permits):05d}" if status != "draft" else ""
        data = {"permit_number": permit, **data}
        created = listing_create(brokerage=brokerage, actor=owner, listing_agent=owner, data=data,
                                 status="draft" if status == "draft" else "active")
        if status not in ("draft", "active"):
            listing_set_status(brokerage=brokerage, actor=owner, listing=created, status=status)
        made.append(created)

    communities = set()
    for lead in Lead.objects.filter(brokerage=brokerage, assigned_agent=agent, stage__in=OPEN_STAGES,
                                    do_not_contact=False).exclude(areas=[]).order_by("pk"):
        area = lead.areas[0]
        if area in communities or area not in BUILDINGS or lead.budget_min is None or lead.budget_max is None:
            continue
        building, kind, (low, high), features = BUILDINGS[area]
        price = ((lead.budget_min + lead.budget_max) / 2 / 5000).quantize(Decimal("1")) * 5000
        # Only leads a real home of the building would suit: its kind and what such homes cost there.
        if lead.property_type not in ("", kind) or not low <= price <= high:
            continue
        communities.add(area)
        bedrooms = {"villa": 4, "townhouse": 3}.get(kind, 1 if price < 1_000_000 else 2 if price < 2_500_000 else 3)
        listing(agent, title=f"{building} — {bedrooms} bed {kind} in {area}", community=area, building=building,
                property_type=kind, bedrooms=bedrooms, bathrooms=bedrooms + 1, size_sqft=bedrooms * 700 + 450,
                price=price, features=features)
        if len(communities) == 4:
            break
    listing(agent, title="Bloom Towers studio with park view", community="JVC", building="Bloom Towers",
            property_type="apartment", purpose="rent", bedrooms=0, bathrooms=1, size_sqft=430,
            price=Decimal("65000"), features=["Community park", "Chiller free"],
            description="Bright studio on a high floor, unfurnished, available from the first of next month.")
    listing(agent, status="under_offer", title="Lake Terrace — 1 bed with lake view", community="JLT",
            building="Lake Terrace", property_type="apartment", bedrooms=1, bathrooms=2, size_sqft=820,
            price=Decimal("980000"), features=["Lake view", "Metro nearby"])
    listing(agent, status="sold", title="Zahra Townhouses — 3 bed corner unit", community="Town Square",
            building="Zahra Townhouses", property_type="townhouse", bedrooms=3, bathrooms=4, size_sqft=2100,
            price=Decimal("1450000"), features=["Corner unit", "Community pool"])
    listing(agent, status="draft", title="Office on the canal, Business Bay", community="Business Bay",
            building="Executive Towers", property_type="office", price=Decimal("2300000"))
    listing(agent, status="draft", title="Palm Jumeirah 2 bed — new instruction", community="Palm Jumeirah",
            property_type="apartment", bedrooms=2, features=["Sea view"])
    if colleague != agent:
        listing(colleague, title="Park Heights — 3 bed apartment facing the park", community="Dubai Hills Estate",
                building="Park Heights", property_type="apartment", bedrooms=3, bathrooms=4, size_sqft=1750,
                price=Decimal("2650000"), features=["Park view", "Near Dubai Hills Mall", "Maid's room"])
    result.created.append(f"{len(made)} listings for {brokerage.slug}")
