"""SQLite: the brokerage becomes a token of the FTS5 row, so a search matches its own brokerage's rows instead
of reading an unindexed column for every match of every brokerage. The index is rebuilt from the passages."""

from django.db import migrations

CREATE = (
    "CREATE VIRTUAL TABLE copilot_passage_fts USING fts5("
    "tenant, title, tags, heading, body, tokenize='porter unicode61 remove_diacritics 2')"
)
FILL = (
    "INSERT INTO copilot_passage_fts (rowid, tenant, title, tags, heading, body) "
    "SELECT p.id, 't' || p.brokerage_id, a.title, '', p.heading, p.text "
    "FROM copilot_knowledgepassage p JOIN copilot_knowledgearticle a ON a.id = p.article_id"
)


def rebuild(apps, schema_editor):
    if schema_editor.connection.vendor != "sqlite":
        return
    schema_editor.execute("DROP TABLE IF EXISTS copilot_passage_fts")
    schema_editor.execute(CREATE)
    schema_editor.execute(FILL)
    # Tags live in a JSON list; write them as words (the FILL above leaves them empty).
    Article = apps.get_model("copilot", "KnowledgeArticle")
    with schema_editor.connection.cursor() as cursor:
        for article_id, tags in Article.objects.values_list("id", "tags"):
            cursor.execute(
                "UPDATE copilot_passage_fts SET tags = %s WHERE rowid IN "
                "(SELECT id FROM copilot_knowledgepassage WHERE article_id = %s)",
                [" ".join(tags or []), article_id],
            )


class Migration(migrations.Migration):
    dependencies = [("copilot", "0002_full_text_index")]
    operations = [migrations.RunPython(rebuild, migrations.RunPython.noop)]
