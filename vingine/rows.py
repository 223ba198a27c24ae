"""The reads nearly every API request makes (its user, a job by its id, a user's jobs, runs), from
SQL text built once per process instead of a queryset compiled at each call.

Compiling a ``select_related`` queryset with a subquery or two costs Django several times what
the database spends answering it: it was most of the CPU of a request that reads one job. Here the
SQL is put together once from the models' own metadata (so a new column is read with no change
here), and each row comes back as the model instances ``select_related`` gives: the related rows
cached on the object, every value through its field's converters (JSON, and SQLite's datetimes).

Written for Django 5.2 (``WRITTEN_FOR``; tests/test_layout.py fails outside that range): the
converters are found as Django's compiler finds them, from a ``Col`` of each column.
"""

from collections.abc import Sequence
from functools import cached_property
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

    @cached_property
    def columns(self) -> str:
        quote = connection.ops.quote_name
        models_ = [self.model, *(field.related_model for field in self.related)]
        return ", ".join(
            f"t{index}.{quote(field.column)}"
            for index, model in enumerate(models_)
            for field in model._meta.concrete_fields
        )

    @cached_property
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

    @cached_property
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
