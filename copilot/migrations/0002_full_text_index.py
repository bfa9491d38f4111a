"""The engine-specific half of the passage index: an FTS5 table on SQLite, a GIN index on PostgreSQL."""

from django.db import migrations

FTS_CREATE = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS copilot_passage_fts USING fts5("
    "brokerage_id UNINDEXED, title, tags, heading, body, tokenize='porter unicode61 remove_diacritics 2')"
)


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(FTS_CREATE)
    elif schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "CREATE INDEX IF NOT EXISTS copilot_passage_search_gin ON copilot_knowledgepassage "
            "USING gin (search_vector)"
        )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute("DROP TABLE IF EXISTS copilot_passage_fts")
    elif schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS copilot_passage_search_gin")


class Migration(migrations.Migration):
    dependencies = [("copilot", "0001_knowledge_base")]
    operations = [migrations.RunPython(create, drop)]
