"""The statements nearly every API request makes, from SQL text built once per process instead of
a query compiled at each call: the reads of its user, a job by its id, a user's jobs and runs, and
the single-row writes of a job change (the job, its PeriodicTask, its audit event).

Compiling a ``select_related`` queryset with a subquery or two costs Django several times what
the database spends answering it: it was most of the CPU of a request that reads one job, and a
``save()`` or ``create()`` costs several times the round trip too. Here the SQL is put together
once from the models' own metadata (so a new column is read and written with no change here), and
each row comes back as the model instances ``select_related`` gives: the related rows cached on
the object, every value through its field's converters (JSON, and SQLite's datetimes). Writes
put each value through its field as ``save()`` does (``pre_save``: auto_now and the like, then
``get_db_prep_save``), and, like a queryset's ``update()``, send no signals: they are for models
that have no receivers (business logic lives in services, not in signals).

Written for Django 5.2 (``WRITTEN_FOR``; tests/test_layout.py fails outside that range): the
converters are found as Django's compiler finds them, from a ``Col`` of each column.
"""

import functools
from collections.abc import Sequence
from typing import Any

from django.db import connection, models
from django.db.models.expressions import Col

WRITTEN_FOR = {"django": ("5.2", "6.1")}  # [lowest, below) versions


class Joined:
    """Rows of ``model`` read with the rows of its foreign keys ``related`` (INNER JOIN for a
    required key, LEFT JOIN for a nullable one), then the ``extra`` columns a statement adds after
    those, each set on the object as an attribute: ``(name, output field)``.

    A statement is written around ``columns`` (the select list) and ``tables`` (``model``'s table
    as ``t0``, joined to the related ones as ``t1``, ``t2``... in ``related``'s order)."""

    def __init__(
        self,
        model: type[models.Model],
        related: Sequence[str] = (),
        extra: Sequence[tuple[str, models.Field]] = (),
    ) -> None:
        self.model = model
        self.related = [model._meta.get_field(name) for name in related]
        self.extra = list(extra)

    @functools.cached_property
    def columns(self) -> str:
        quote = connection.ops.quote_name
        models_ = [self.model, *(field.related_model for field in self.related)]
        return ", ".join(
            f"t{index}.{quote(field.column)}"
            for index, model in enumerate(models_)
            for field in model._meta.concrete_fields
        )

    @functools.cached_property
    def tables(self) -> str:
        quote = connection.ops.quote_name
        parts = [f"{quote(self.model._meta.db_table)} t0"]
        for index, field in enumerate(self.related, 1):
            join = "LEFT OUTER JOIN" if field.null else "INNER JOIN"
            target = field.related_model
            parts.append(
                f"{join} {quote(target._meta.db_table)} t{index}"
                f" ON t{index}.{quote(field.target_field.column)} = t0.{quote(field.column)}"
            )
        return " ".join(parts)

    def lock(self, *aliases: str, no_key: bool = False) -> str:
        """``FOR UPDATE OF`` these tables (aliases), where the database has row locks (not SQLite,
        which serialises write transactions instead). ``no_key``: ``FOR NO KEY UPDATE``, which
        leaves a foreign key's check (``FOR KEY SHARE``) of rows pointing at this one free to go."""
        features = connection.features
        if not features.has_select_for_update:
            return ""
        clause = "FOR NO KEY UPDATE" if no_key and features.has_select_for_no_key_update else "FOR UPDATE"
        return f"{clause} OF {', '.join(aliases)}" if features.has_select_for_update_of else clause

    @functools.cached_property
    def _plan(self) -> tuple[list, list]:
        """Per part (the model, then each related one): its model, its slice of the row, the foreign
        key it is set through and where its primary key is in that slice; then the converters of
        each column that has any."""
        parts, expressions, start = [], [], 0
        for index, (model, field) in enumerate(
            [(self.model, None), *((field.related_model, field) for field in self.related)]
        ):
            fields = model._meta.concrete_fields
            parts.append((model, slice(start, start + len(fields)), field, fields.index(model._meta.pk)))
            expressions += [Col(f"t{index}", column) for column in fields]
            start += len(fields)
        expressions += [Col("extra", output) for _, output in self.extra]
        converters = []
        for position, expression in enumerate(expressions):
            found = connection.ops.get_db_converters(expression) + expression.get_db_converters(connection)
            if found:
                converters.append((position, found, expression))
        return parts, converters

    def fetch(self, sql: str, params: Sequence[Any]) -> list[models.Model]:
        """Run ``sql`` (its select list begins with ``columns``, then ``extra``'s) and return the
        objects, related rows and extra attributes set."""
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        parts, converters = self._plan
        db = connection.alias
        (model, own, _, _), related = parts[0], parts[1:]
        extra_start = parts[-1][1].stop
        found = []
        for row in rows:
            if converters:
                row = list(row)
                for position, functions, expression in converters:
                    value = row[position]
                    for convert in functions:
                        value = convert(value, expression, connection)
                    row[position] = value
            obj = model.from_db(db, None, row[own])
            for related_model, columns, field, pk_index in related:
                values = row[columns]
                # A nullable key that points nowhere comes back as a row of NULLs.
                setattr(obj, field.name, None if values[pk_index] is None else related_model.from_db(db, None, values))
            for index, (name, _) in enumerate(self.extra, extra_start):
                setattr(obj, name, row[index])
            found.append(obj)
        return found


@functools.cache
def _insert_sql(model: type[models.Model]) -> tuple[str, list[models.Field], models.Field | None]:
    """INSERT of every column but an automatic primary key, returning that key; with the fields in
    the statement's order, and the automatic key (None if the model has none)."""
    meta, quote = model._meta, connection.ops.quote_name
    auto = meta.pk if meta.pk.db_returning else None  # AutoField and the like: the database numbers it
    fields = [field for field in meta.local_concrete_fields if field is not auto and not field.generated]
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({', '.join(quote(field.column) for field in fields)})"
        f" VALUES ({', '.join(['%s'] * len(fields))})"
    )
    if auto is not None and connection.features.can_return_columns_from_insert:
        sql += f" RETURNING {quote(auto.column)}"
    return sql, fields, auto


def insert_row(obj: models.Model) -> None:
    """Insert ``obj`` as ``save()`` inserts a new row (without its signals); sets its automatic
    primary key."""
    model = type(obj)
    sql, fields, auto = _insert_sql(model)
    params = [field.get_db_prep_save(field.pre_save(obj, True), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if auto is not None:
            if connection.features.can_return_columns_from_insert:
                key = cursor.fetchone()[0]
            else:
                key = connection.ops.last_insert_id(cursor, model._meta.db_table, auto.column)
            setattr(obj, auto.attname, key)
    obj._state.adding, obj._state.db = False, connection.alias


@functools.cache
def _update_sql(model: type[models.Model], names: tuple[str, ...]) -> tuple[str, list[models.Field]]:
    meta, quote = model._meta, connection.ops.quote_name
    fields = [meta.get_field(name) for name in names]
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    return f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s", fields


def update_row(obj: models.Model, names: Sequence[str]) -> int:
    """Write these fields (by name) of ``obj``'s row as ``save(update_fields=names)`` does (without
    its signals); returns how many rows were updated (0: it is gone)."""
    sql, fields = _update_sql(type(obj), tuple(names))
    params = [field.get_db_prep_save(field.pre_save(obj, False), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, obj._meta.pk.get_db_prep_value(obj.pk, connection)])
        return cursor.rowcount


def update_values(model: type[models.Model], pk: Any, values: dict[str, Any]) -> int:
    """``model.objects.filter(pk=pk).update(**values)``: ``values`` by field name (a foreign key's
    by its name or its ``_id``, a model instance or a key); returns how many rows were updated."""
    sql, fields = _update_sql(model, tuple(values))
    params = []
    for field, value in zip(fields, values.values(), strict=True):
        if isinstance(value, models.Model):
            value = value.pk
        params.append(field.get_db_prep_save(value, connection))
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, model._meta.pk.get_db_prep_value(pk, connection)])
        return cursor.rowcount
