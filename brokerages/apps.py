from django.apps import AppConfig
from django.db.models.signals import post_migrate


def _sync_role_permissions(sender, **kwargs) -> None:
    from .permissions import role_permissions_sync

    role_permissions_sync()


class BrokeragesConfig(AppConfig):
    name = "brokerages"
    verbose_name = "Brokerage management"

    def ready(self) -> None:
        # Permissions added to ROLE_PERMISSIONS by later releases reach existing brokerages on migrate.
        post_migrate.connect(_sync_role_permissions, sender=self)
