"""The empty term's count is the brokerage's number of passages (`search_index.ALL_PASSAGES`): searches read it
with the other term counts instead of counting passages. Existing knowledge bases get theirs here; from now on
`index_article` keeps it."""

from django.db import migrations

FILL = (
    "INSERT INTO copilot_knowledgeterm (brokerage_id, term, passage_count) "
    "SELECT brokerage_id, '', COUNT(*) FROM copilot_knowledgepassage GROUP BY brokerage_id"
)
EMPTY = "DELETE FROM copilot_knowledgeterm WHERE term = ''"


class Migration(migrations.Migration):
    dependencies = [("copilot", "0003_fts_tenant_token")]
    operations = [migrations.RunSQL([EMPTY, FILL], EMPTY)]
