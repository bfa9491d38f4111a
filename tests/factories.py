"""Test data built through the same rules as production: brokerages get their role groups, members join the
group of their role."""

import itertools

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
