"""Test data built through the same rules as production: brokerages get their role groups, members join the
group of their role."""

import itertools
from decimal import Decimal

import factory

from brokerages.models import Brokerage, Role, User
from brokerages.permissions import role_group_join, role_groups_sync

PASSWORD = "Correct-Horse-42"


class BrokerageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Brokerage
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Brokerage {n}")
    slug = factory.Sequence(lambda n: f"brokerage-{n}")
    license_number = factory.Sequence(lambda n: f"ORN-{10000 + n}")
    rera_number = factory.Sequence(lambda n: f"RERA-{n}")

    @factory.post_generation
    def role_groups(self, create, extracted, **kwargs):
        if create:
            role_groups_sync(self)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"member{n}@example.test")
    full_name = factory.Sequence(lambda n: f"Member {n}")
    brokerage = factory.SubFactory(BrokerageFactory)
    role = Role.AGENT
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def role_group(self, create, extracted, **kwargs):
        if create:
            self.save()
            role_group_join(self)



_lead_numbers = itertools.count(1)


def make_lead(brokerage, *, agent=None, actor=None, stage="new", external_id="", **fields):
    """A lead made by the real service (so its agent holds the object permission); automations are not run."""
    from nurturing.services.leads import lead_create

    fields.setdefault("name", "Layla Haddad")
    fields.setdefault("email", f"lead{next(_lead_numbers)}@example.test")
    return lead_create(brokerage=brokerage, actor=actor, data=fields, assigned_agent=agent, stage=stage,
                       external_id=external_id, run_automations=False)


def make_conversation(brokerage, agent, messages=(), *, lead=None, channel="call", ended=True, started_at=None,
                      analysis=None, session=None):
    """A conversation with its messages written straight to the database (no alerts, no audit), for tests that
    need history. `messages` are (speaker, text) pairs a minute apart. An ended conversation gets `analysis`
    (an `Analysis`) or, when None, the local engine's full analysis of its messages."""
    import datetime as dt

    from django.utils import timezone

    from coaching.models import Conversation, Message

    started_at = started_at or timezone.now() - dt.timedelta(hours=1)
    conversation = Conversation.objects.create(brokerage=brokerage, agent=agent, lead=lead, channel=channel,
                                               started_at=started_at, session=session, message_count=len(messages))
    Message.objects.bulk_create(
        Message(brokerage=brokerage, conversation=conversation, position=index + 1, speaker=speaker, text=text,
                sent_at=started_at + dt.timedelta(minutes=index))
        for index, (speaker, text) in enumerate(messages))
    if ended:
        if analysis is None:
            from coaching.analysis import MessageIn, analyse

            analysis = analyse([MessageIn(speaker, text) for speaker, text in messages], final=True)
        conversation.ended_at = started_at + dt.timedelta(minutes=max(len(messages), 1))
        conversation.analysis = analysis.to_dict()
        conversation.quality_score = analysis.overall_quality_score
        conversation.analysis_engine = analysis.engine
        conversation.save()
    return conversation


class ListingFactory(factory.django.DjangoModelFactory):
    """A complete, active listing (every fact a description needs, permit included) of an agent of its
    brokerage; pass `status="draft"`, blank facts or `listing_agent=` to vary it."""

    class Meta:
        model = "nurturing.Listing"

    brokerage = factory.SubFactory(BrokerageFactory)
    listing_agent = factory.SubFactory(UserFactory, brokerage=factory.SelfAttribute("..brokerage"))
    title = "Marina Gate 1 — 2 bed with marina view"
    community = "Dubai Marina"
    building = "Marina Gate 1"
    property_type = "apartment"
    purpose = "sale"
    bedrooms = 2
    bathrooms = 3
    size_sqft = 1290
    price = factory.LazyFunction(lambda: Decimal("2450000"))
    features = factory.LazyFunction(lambda: ["Full marina view", "Balcony", "Covered parking"])
    status = "active"
    permit_number = factory.Sequence(lambda n: f"71{n:08d}")
