from django.db import connection


def lock_for_transaction(key: str) -> None:
    """Serialise writers of ``key`` (say, one job id) until the current transaction ends, whether
    or not a row for it exists yet.

    Row locks cannot do this for a row about to be created: two first requests would both find
    nothing and race to insert. With this lock the second one waits, then sees the first one's row.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [key])
    # SQLite serialises write transactions already (transaction_mode IMMEDIATE).
