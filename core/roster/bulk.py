"""Bulk reads and writes over many keys, shared by the import's planning
(:mod:`core.roster.sync`) and its writes (:mod:`core.roster.actions`).

A key list is cut in chunks a statement can take (SQLite allows 999
parameters), and filtered with one array parameter on PostgreSQL.
"""

from collections.abc import Iterable, Iterator

from django.db import connection


def _chunk_size() -> int:
    limit = connection.features.max_query_params
    return min(limit - 50, 5000) if limit else 50000


def where_in(queryset, column: str, values: list):
    """``queryset`` where ``column`` is one of ``values``.

    On PostgreSQL, ``column = ANY(%s)`` with one array parameter: an ``IN``
    list of tens of thousands of placeholders costs more to build, send and
    plan than the query itself (bench/roster_import.py). Elsewhere ``IN``.
    """
    if connection.vendor != "postgresql":
        return queryset.filter(**{f"{column}__in": values})
    meta = queryset.model._meta
    field = meta.pk if column == "pk" else meta.get_field(column)
    quote = connection.ops.quote_name
    sql = f"{quote(meta.db_table)}.{quote(field.column)} = ANY(%s)"
    return queryset.extra(where=[sql], params=[list(values)])


def chunks(values: Iterable, size: int | None = None) -> Iterator[list]:
    """``values`` in lists of ``size`` (by default what one statement takes)."""
    values = list(values)
    size = size or _chunk_size()
    for i in range(0, len(values), size):
        yield values[i : i + size]
