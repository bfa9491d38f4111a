"""Create (or restore) the demo brokerages, people and platform admin, then print how to sign in."""

from django.core.management.base import BaseCommand

from brokerages.demo import DEMO_PASSWORD, DEMO_URL, seed


class Command(BaseCommand):
    help = (
        "Create the demo data: Palm Crest Realty (owner, support, 10 agents), Marina Heights Properties "
        "(owner, 2 agents) and a platform admin, all with one password. Safe to run again: nothing is duplicated "
        "and the passwords are reset so the printed logins work."
    )

    def handle(self, *args, **options):
        result = seed()
        if result.created:
            self.stdout.write(f"Created: {', '.join(result.created)}")
        if result.updated:
            self.stdout.write(f"Restored: {'; '.join(result.updated)}")
        if not result.created and not result.updated:
            self.stdout.write("The demo data was already in place; nothing changed.")

        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(f"Demo ready at {DEMO_URL}  (Django admin: {DEMO_URL}/admin/)"))
        width = max(len(login.email) for login in result.logins)
        current = None
        for login in result.logins:
            if login.brokerage != current:
                current = login.brokerage
                self.stdout.write(f"\n  {current}")
            self.stdout.write(f"    {login.email:<{width}}  {login.role:<16}  {login.full_name}")
        self.stdout.write(f"\n  Password for every login: {DEMO_PASSWORD}")
