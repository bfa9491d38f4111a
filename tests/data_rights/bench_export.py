"""How long a brokerage's data export takes and how large its archive is: the demo brokerage (`seed_demo`) and a
large one built here. Not collected as a test; run against a database that has the demo data:

    export VAR_DIR=$(mktemp -d)
    .venv/bin/python manage.py migrate && .venv/bin/python manage.py seed_demo
    .venv/bin/python -m tests.data_rights.bench_export [--leads 10000]
"""

import argparse
import datetime as dt
import os
import random
import tempfile
import time
from pathlib import Path


def _large_brokerage(leads: int):
    """A brokerage with `leads` leads, three interactions and a stage change each, and a coached conversation
    of 12 messages for every fifth lead, written in bulk."""
    from django.utils import timezone

    from brokerages.models import Brokerage, Role, User
    from brokerages.permissions import role_group_join, role_groups_sync
    from coaching.models import Conversation, Message
    from nurturing.models import Interaction, Lead, StageChange

    rng = random.Random(10)
    brokerage, created = Brokerage.objects.get_or_create(slug="bench-large", defaults={
        "name": "Bench Large Realty", "license_number": "ORN-BENCH-LARGE"})
    if not created:
        return brokerage
    role_groups_sync(brokerage)
    owner = User.objects.create_user("owner@bench-large.test", brokerage=brokerage, role=Role.BROKERAGE_OWNER)
    role_group_join(owner)
    agents = [User.objects.create_user(f"agent{n}@bench-large.test", brokerage=brokerage, full_name=f"Agent {n}")
              for n in range(20)]
    now = timezone.now()
    Lead.objects.bulk_create(
        (Lead(brokerage=brokerage, assigned_agent=rng.choice(agents), name=f"Lead {n} Person",
              email=f"lead{n}@bench.test", phone=f"+97150{n:07d}", notes="Wants a villa near a school. " * 3,
              areas=["JVC", "Dubai Marina"], created_at=now - dt.timedelta(days=rng.randint(0, 700)))
         for n in range(leads)), batch_size=2000)
    ids = list(Lead.objects.filter(brokerage=brokerage).values_list("pk", "assigned_agent_id", "created_at"))
    Interaction.objects.bulk_create(
        (Interaction(brokerage=brokerage, lead_id=pk, agent_id=agent, channel="call", occurred_at=at,
                     summary="Called about a two-bed in JVC; will send options.") for pk, agent, at in ids
         for _ in range(3)), batch_size=5000)
    StageChange.objects.bulk_create((StageChange(brokerage=brokerage, lead_id=pk, to_stage="new", changed_at=at)
                                     for pk, _, at in ids), batch_size=5000)
    conversations = Conversation.objects.bulk_create(
        (Conversation(brokerage=brokerage, agent_id=agent, lead_id=pk, started_at=at, ended_at=at, message_count=12)
         for pk, agent, at in ids[::5]), batch_size=2000)
    Message.objects.bulk_create(
        (Message(brokerage=brokerage, conversation=conversation, position=n + 1, speaker="agent" if n % 2 else "lead",
                 text="Is the JVC apartment still available, and what is the service charge?",
                 sent_at=conversation.started_at) for conversation in conversations for n in range(12)),
        batch_size=5000)
    return brokerage


def measure(brokerage) -> None:
    from django_scopes import scope

    from brokerages.exports.archive import archive_write

    for include_media in (True, False):
        with tempfile.TemporaryDirectory() as folder, scope(brokerage=brokerage):
            target = Path(folder) / "export.zip"
            started = time.perf_counter()
            result = archive_write(brokerage=brokerage, target=target, include_media=include_media)
            seconds = time.perf_counter() - started
            print(f"{brokerage.name:<28} media={'yes' if include_media else 'no ':<3}  "
                  f"{sum(result.counts.values()):>9,} records in {len(result.counts)} tables  "
                  f"{result.media_files:>4} files  {target.stat().st_size / 1e6:8.1f} MB  {seconds:6.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=10_000, help="Leads of the large brokerage (default 10,000).")
    options = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django_scopes import scopes_disabled

    from brokerages.models import Brokerage

    with scopes_disabled():
        demo = Brokerage.objects.filter(slug="palm-crest").first()
        large = _large_brokerage(options.leads)
    for brokerage in filter(None, (demo, large)):
        measure(brokerage)


if __name__ == "__main__":
    main()
