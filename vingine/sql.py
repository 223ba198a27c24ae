"""SQL that differs between PostgreSQL and SQLite, with each fallback beside it.

PostgreSQL runs every deployment and the benchmarks; SQLite is ``make run``'s default database. The
rest of the code asks for these operations and never checks ``connection.vendor`` itself.

- ``__any``: ``filter(id__any=ids)`` sends the ids as one array parameter (``= ANY(%s)``) where
  ``id__in`` would send, and make PostgreSQL parse, one placeholder per id.
- ``insert_rows`` / ``update_rows``: many rows in one statement, as arrays PostgreSQL unnests;
  building model instances for Django's bulk_create / bulk_update costs more than the database
  work (about 0.5 ms per row, and bulk_update's CASE grows with the batch).
- ``lock_for_transaction``: an advisory lock on a key, for rows that do not exist yet.
- ``lock_row_key``: a row's foreign-key lock taken ahead, to keep one lock order.
- ``count_json_array_items``: counting entries of a JSON array column.
- ``prepared_cursor``: for the few statements a process runs over and over (a run's claim and
  result), PostgreSQL plans them once per connection and gets their values apart from their text.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
from django.db import connection, models
from django.db.models import Field, ForeignObject, Lookup


def is_postgresql() -> bool:
    return connection.vendor == "postgresql"


class AnyOf(Lookup):
    """``field__any=[...]``: the field equals one of the values, sent as one array parameter."""

    lookup_name = "any"
    prepare_rhs = False

    def get_db_prep_lookup(self, value, connection):
        return "%s", [[self.lhs.output_field.get_db_prep_value(v, connection) for v in value]]

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        _, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} = ANY(%s::{self.lhs.output_field.db_type(connection)}[])", [*lhs_params, *rhs_params]

    def as_sqlite(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        values = self.rhs_params_list(connection)
        if not values:
            return "0 = 1", list(lhs_params)
        return f"{lhs} IN ({', '.join(['%s'] * len(values))})", [*lhs_params, *values]

    def rhs_params_list(self, connection) -> list:
        return [self.lhs.output_field.get_db_prep_value(v, connection) for v in self.rhs]


# Foreign keys have lookups of their own (owner_id__any): registered on both.
Field.register_lookup(AnyOf)
ForeignObject.register_lookup(AnyOf)


def _column_type(field: models.Field) -> str:
    return field.db_type(connection)


def insert_rows(
    model: type[models.Model], fields: Sequence[str], rows: Sequence[tuple], *, constants: dict[str, Any]
) -> None:
    """Insert ``rows`` (values in ``fields`` order; foreign keys by id) in one statement.

    Every other column takes ``constants[name]``, else ``now``-style auto fields the current time
    given as ``constants["now"]``, else its model default. A row that conflicts with a unique
    constraint is dropped (``ON CONFLICT DO NOTHING``).
    """
    if not rows:
        return
    now = constants.get("now")
    if not is_postgresql():
        attributes = [model._meta.get_field(name).attname for name in fields]
        extra = {name: value for name, value in constants.items() if name != "now"}
        objects = [model(**extra, **dict(zip(attributes, row, strict=True))) for row in rows]
        model.objects.bulk_create(objects, ignore_conflicts=True)
        return
    quote = connection.ops.quote_name
    row_fields = [model._meta.get_field(name) for name in fields]
    index_of = {field.column: index for index, field in enumerate(row_fields)}
    columns, values, params = [], [], []
    for field in model._meta.concrete_fields:
        columns.append(quote(field.column))
        if field.column in index_of:
            values.append(f"r.c{index_of[field.column]}")
            continue
        if field.name in constants:
            value = constants[field.name]
        elif getattr(field, "auto_now_add", False) or getattr(field, "auto_now", False):
            value = now
        else:
            value = field.get_default()
        values.append(f"%s::{_column_type(field)}")
        params.append(field.get_db_prep_save(value, connection))
    arrays = ", ".join(f"%s::{_column_type(field)}[]" for field in row_fields)
    aliases = ", ".join(f"c{index}" for index in range(len(row_fields)))
    sql = (
        f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(columns)}) SELECT {', '.join(values)}"
        f" FROM unnest({arrays}) AS r({aliases}) ON CONFLICT DO NOTHING"
    )
    # Placeholders in the text's order: the constants of the SELECT list, then the arrays. A JSON
    # value goes as jsonb: a list as it is would be read as one more dimension of the array.
    for index, field in enumerate(row_fields):
        if isinstance(field, models.JSONField):
            params.append([field.get_db_prep_save(row[index], connection) for row in rows])
        else:
            params.append([row[index] for row in rows])
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def update_rows(model: type[models.Model], pks: Sequence[Any], columns: dict[str, Sequence[Any]]) -> None:
    """Set each row's own values, in one statement: ``columns`` maps a field to one value per pk."""
    if not pks:
        return
    fields = {name: model._meta.get_field(name) for name in columns}
    if not is_postgresql():
        for index, pk in enumerate(pks):
            model.objects.filter(pk=pk).update(**{name: values[index] for name, values in columns.items()})
        return
    quote = connection.ops.quote_name
    pk_field = model._meta.pk
    names = list(columns)
    assignments = ", ".join(f"{quote(fields[name].column)} = v.c{index}" for index, name in enumerate(names))
    arrays = ", ".join([f"%s::{_column_type(pk_field)}[]", *(f"%s::{_column_type(fields[name])}[]" for name in names)])
    aliases = ", ".join(["pk", *(f"c{index}" for index in range(len(names)))])
    sql = (
        f"UPDATE {quote(model._meta.db_table)} AS t SET {assignments} FROM unnest({arrays}) AS v({aliases})"
        f" WHERE t.{quote(pk_field.column)} = v.pk"
    )
    params = [list(pks), *([fields[name].get_db_prep_save(v, connection) for v in columns[name]] for name in names)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def pooled() -> bool:
    """Whether connections come from a pool (DATABASE_POOL_SIZE, in gevent workers)."""
    return bool(connection.settings_dict.get("OPTIONS", {}).get("pool"))


def release_connection() -> None:
    """Give the connection back to its pool while the caller waits on something else (the network);
    without a pool, keep it for the next statement."""
    if pooled() and not connection.in_atomic_block:
        connection.close()


# Django connects with prepare_threshold None, under which psycopg ignores prepare=True as well. With
# a threshold no statement reaches, only what _PreparedCursor asks for is prepared (Django's own
# cursors bind values client-side and are never prepared).
_PREPARE_WHEN_ASKED = 2**31 - 1


class _PreparedCursor(psycopg.Cursor):
    """psycopg's own cursor (values bound on the server, where Django's binds them into the text in
    Python), preparing each statement on first use."""

    def execute(self, query, params=None, *, prepare=True, binary=None):
        return super().execute(query, params, prepare=prepare, binary=binary)


def prepared_cursor():
    """A Django cursor (its error translation and query logging) for statements a process runs many
    times: on PostgreSQL each is parsed and planned once per connection, not at every call.
    Statements run through it must name their parameters as Django's do (``%s``), and cast what they
    return to a type of their own (``::text``, not a varchar(n) column as it is): a migration that
    changes a returned column's type would otherwise fail the statement where it is prepared
    ("cached plan must not change result type")."""
    if not is_postgresql():
        return connection.cursor()
    connection.ensure_connection()
    if connection.connection.prepare_threshold is None:
        connection.connection.prepare_threshold = _PREPARE_WHEN_ASKED
    return connection._prepare_cursor(_PreparedCursor(connection.connection))


def lock_for_transaction(key: str) -> None:
    """Serialise writers of ``key`` (say, one job id) until the current transaction ends, whether
    or not a row for it exists yet.

    Row locks cannot do this for a row about to be created: two first requests would both find
    nothing and race to insert. With this lock the second one waits, then sees the first one's row.
    """
    if is_postgresql():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [key])
    # SQLite serialises write transactions already (transaction_mode IMMEDIATE).


def lock_keys_for_transaction(keys: Sequence[str]) -> None:
    """``lock_for_transaction`` for several keys, taken in one order by every caller (no deadlock)."""
    if is_postgresql() and keys:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(k) FROM"
                " (SELECT DISTINCT hashtextextended(unnest(%s::text[]), 0) AS k ORDER BY k) AS keys",
                [list(keys)],
            )


def lock_row_key(model: type[models.Model], pk: Any) -> None:
    """Take now, for the current transaction, the lock a foreign key to this row would take when a
    row pointing at it is inserted (PostgreSQL's FOR KEY SHARE), so that it comes in the order the
    caller chooses rather than at the insert."""
    if is_postgresql():
        table, column = (
            connection.ops.quote_name(model._meta.db_table),
            connection.ops.quote_name(model._meta.pk.column),
        )
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT 1 FROM {table} WHERE {column} = %s FOR KEY SHARE", [pk])
    # SQLite serialises write transactions already.


def set_fillfactor(schema_editor, table: str, percent: int) -> None:
    """Leave (100 - percent)% of each page of ``table`` free for updated rows (PostgreSQL's HOT
    updates: a row rewritten on its own page, no index touched); SQLite has no such setting."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE {schema_editor.quote_name(table)} SET (fillfactor = {int(percent)})")


def count_json_array_items(
    model: type[models.Model], array: str, *, since_field: str, since: datetime, item_is: tuple[str, str], item_has: str
) -> int:
    """How many items of the JSON array column ``array``, over the rows whose ``since_field`` is at
    or after ``since``, have ``item_is`` (key, value) and carry the key ``item_has``."""
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    column = quote(model._meta.get_field(array).column)
    since_column = quote(model._meta.get_field(since_field).column)
    key, value = item_is
    if is_postgresql():
        query = (
            f"SELECT count(*) FROM {table} AS r, jsonb_array_elements("
            f"CASE WHEN jsonb_typeof(r.{column}) = 'array' THEN r.{column} ELSE '[]'::jsonb END) AS s "
            f"WHERE r.{since_column} >= %s AND s ->> %s = %s AND s ? %s"
        )
        params = [since, key, value, item_has]
    else:
        query = (
            f"SELECT count(*) FROM {table} AS r, json_each(r.{column}) AS s WHERE r.{since_column} >= %s "
            "AND json_extract(s.value, %s) = %s AND json_type(s.value, %s) IS NOT NULL"
        )
        params = [since, f"$.{key}", value, f"$.{item_has}"]
    with connection.cursor() as cursor:
        cursor.execute(query, params)
        return cursor.fetchone()[0]
