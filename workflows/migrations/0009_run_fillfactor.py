from django.db import migrations

from vingine.sql import set_fillfactor


def leave_room_for_updates(apps, schema_editor):
    # A run is claimed (and finished) in place: room on its page makes the claim a HOT update.
    set_fillfactor(schema_editor, "workflows_run", 70)


def fill_pages(apps, schema_editor):
    set_fillfactor(schema_editor, "workflows_run", 100)


class Migration(migrations.Migration):
    dependencies = [("workflows", "0008_run_concurrency_limit")]

    operations = [migrations.RunPython(leave_room_for_updates, fill_pages)]
