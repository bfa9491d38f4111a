from django.apps import AppConfig


class NurturingConfig(AppConfig):
    name = "nurturing"
