from django.db import migrations

# The operators' own periodic tasks are read on every beat tick (cronjobs.operator_tasks); jobs'
# rows, 100,000 of them or more, all name FIRE_TASK. Indexing only the other rows keeps that read
# off the job rows. The predicate must stay the query's (``task <> FIRE_TASK``) for the index to
# be used. SQLite and PostgreSQL both take this statement.
TABLE = "django_celery_beat_periodictask"
INDEX = "cronjob_operator_periodic_tasks"


class Migration(migrations.Migration):
    dependencies = [
        ("cronjobs", "0008_job_notify"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [
        migrations.RunSQL(
            f"CREATE INDEX {INDEX} ON {TABLE} (id) WHERE task <> 'cronjobs.tasks.fire_job'",
            reverse_sql=f"DROP INDEX {INDEX}",
        ),
    ]
