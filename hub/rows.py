"""Rows read in plain SQL, converted as Django's ORM converts them.

The socket path reads a few tables in plain SQL (decision 0004's addenda:
the ORM's query building cost ten times the queries on every handshake and
``resume``). The values still go through the converters the ORM applies to
the same columns (the database backend's, then the field's: an aware
datetime from SQLite's text, a decoded ``JSONField``), so a row read here is
what a queryset would have given.
"""

import functools

from django.db import connection


def columns(model, names: tuple[str, ...]) -> str:
    """``model``'s columns of the fields ``names``, quoted, comma-separated
    (for a ``SELECT`` on ``model``'s table)."""
    quote = connection.ops.quote_name
    return ", ".join(quote(model._meta.get_field(name).column) for name in names)


def converted(model, names: tuple[str, ...], rows) -> list[list]:
    """``rows`` of the fields ``names`` of ``model`` (tuples, as a cursor
    gives them, on the default connection) with each value converted as the
    ORM converts it (``connection.ops.get_db_converters``, then the field's
    ``from_db_value``)."""
    plan = _converters(model, names, connection.vendor)
    result = []
    for row in rows:
        values = list(row)
        for index, expression, functions in plan:
            for convert in functions:
                values[index] = convert(values[index], expression, connection)
        result.append(values)
    return result


@functools.cache
def _converters(model, names: tuple[str, ...], vendor: str) -> list[tuple]:
    """``[(index, column expression, converters)]`` for the fields that have
    converters on the default connection (whose ``vendor`` keys the cache)."""
    table = model._meta.db_table
    plan = []
    for index, name in enumerate(names):
        expression = model._meta.get_field(name).get_col(table)
        functions = connection.ops.get_db_converters(
            expression
        ) + expression.get_db_converters(connection)
        if functions:
            plan.append((index, expression, functions))
    return plan
