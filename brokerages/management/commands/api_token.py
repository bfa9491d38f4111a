"""Print a user's API token, issuing one if they have none (or a fresh one with --rotate)."""

from django.core.management.base import BaseCommand, CommandError
from django_scopes import scopes_disabled
from rest_framework.authtoken.models import Token

from brokerages import services
from brokerages.models import User


class Command(BaseCommand):
    help = (
        "Print the API token of the user with this e-mail, creating one if they have none. Only the key goes "
        "to stdout, so `TOKEN=$(manage.py api_token --email ...)` works. Use it as `Authorization: Token <key>`."
    )

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True, help="The user's sign-in e-mail address.")
        parser.add_argument(
            "--rotate", action="store_true",
            help="Replace the user's token with a new one; the old key stops working at once.",
        )

    def handle(self, *args, email: str, rotate: bool, **options):
        email = email.strip()
        with scopes_disabled():
            user = User.objects.filter(email__iexact=email).select_related("brokerage").first()
            if user is None:
                raise CommandError(f"No user has the e-mail address {email!r}.")
            if not user.is_active:
                raise CommandError(
                    f"{user.email} is deactivated; an API token would not authenticate. Reactivate the account first."
                )
            token = None if rotate else Token.objects.filter(user=user).first()
            if token is None:
                token = services.api_token_create(user=user)
                self.stderr.write(f"{'Rotated' if rotate else 'Created'} the API token of {user.email}.")
        self.stdout.write(token.key)
