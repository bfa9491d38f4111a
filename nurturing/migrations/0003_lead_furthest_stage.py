from django.db import migrations, models

LADDER = ("new", "contacted", "qualified", "viewing", "offer", "won")


def furthest_from_history(apps, schema_editor):
    """Each lead's furthest stage from its current stage and its recorded changes: the ladder from the bottom up,
    so a later stage overwrites an earlier one."""
    Lead = apps.get_model("nurturing", "Lead")
    for stage in LADDER[1:]:
        Lead._base_manager.filter(models.Q(stage=stage) | models.Q(stage_changes__to_stage=stage)).update(
            furthest_stage=stage)


class Migration(migrations.Migration):

    dependencies = [
        ("nurturing", "0002_listings"),
    ]

    operations = [
        migrations.AddField(
            model_name="lead",
            name="furthest_stage",
            field=models.CharField(choices=[("new", "New"), ("contacted", "Contacted"), ("qualified", "Qualified"),
                                            ("viewing", "Viewing"), ("offer", "Offer"), ("won", "Won")],
                                   default="new", editable=False,
                                   help_text="The furthest stage from new to won the lead has ever reached.",
                                   max_length=20),
        ),
        migrations.RunPython(furthest_from_history, migrations.RunPython.noop),
    ]
