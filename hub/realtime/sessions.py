"""A socket's user: its session (or API token) and user read in plain SQL, with
Django's checks (backend, session hash, second factor), in one hop off the
loop (decision 0004). Served by :class:`hub.realtime.app.SocketApp`."""

import functools
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.auth import (
    BACKEND_SESSION_KEY,
    HASH_SESSION_KEY,
    SESSION_KEY,
    get_user_model,
    load_backend,
)
from django.contrib.auth.backends import ModelBackend
from django.contrib.sessions.backends.base import VALID_KEY_CHARS
from django.core.exceptions import ValidationError
from django.db import connection
from django.db.models import Manager
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from hub.realtime.registry import domain
from hub.rows import columns, converted


def load_user(session_key: str | None):
    """Return ``(user, session key)`` for a session cookie's value (sync,
    database work): ``AnonymousUser`` and ``None`` for no, an unknown or an
    expired session.

    Django's checks (those of Channels' ``get_user``: the backend, the
    session hash, an inactive user; :func:`session_user`), then the second
    factor (the domain's ``session_passed``, :mod:`hub.realtime.registry`) on the configured
    session engine; with the database engine the session row is read in
    plain SQL (:func:`session_store`).
    """
    from django.contrib.auth.models import AnonymousUser

    if not session_key or not is_session_key(session_key):
        return AnonymousUser(), None
    session = session_store()(session_key)
    user = session_user(session)
    # A session that owes its second factor (a login by password of staff, or
    # of someone who added one) opens no socket: the session alone says so.
    if user is not None and not domain().session_passed(session, user):
        user = None
    user = user or AnonymousUser()
    # Loading an unknown key (or flushing a session whose hash no longer
    # matches) leaves it without one.
    return user, session.session_key if user.is_authenticated else None


def session_user(session):
    """The active user ``session`` is logged in as, or ``None`` (sync, database).

    Channels' ``channels.auth.get_user`` step for step (the user id and the
    backend path from the session, the backend among
    ``AUTHENTICATION_BACKENDS``, the session hash compared in constant time,
    the session flushed when it does not match, a hash of a key of
    ``SECRET_KEY_FALLBACKS`` accepted as Django's ``get_user`` does), with one
    change: for
    Django's ``ModelBackend`` lookup the user row is read by
    :func:`user_by_pk` in plain SQL instead of the ORM's
    ``_default_manager.get(pk=...)`` (120 against 390 us of CPU per socket on
    PostgreSQL: bench S5, decision 0004's second addendum); ``user_can_authenticate``
    (an inactive user) is still the backend's. Another backend's own
    ``get_user`` is called as Channels does.
    """
    try:
        user_id = get_user_model()._meta.pk.to_python(session[SESSION_KEY])
        backend_path = session[BACKEND_SESSION_KEY]
    except (KeyError, ValidationError):
        return None
    if backend_path not in settings.AUTHENTICATION_BACKENDS:
        return None
    backend: Any = load_backend(backend_path)  # any class: duck-typed below
    if not hasattr(backend, "get_user"):
        # A backend that only refuses (the login lockout) logs no one in.
        return None
    if _plain_lookup(type(backend)):  # type: ignore[arg-type]  # a class is hashable
        user = _owner(session, user_id) or user_by_pk(user_id)
        if user is not None and not backend.user_can_authenticate(user):
            user = None
    else:
        user = backend.get_user(user_id)
    if user is None:
        return None
    session_hash = session.get(HASH_SESSION_KEY)
    if not (
        session_hash
        and constant_time_compare(session_hash, user.get_session_auth_hash())
        or _fallback_hash_matches(user, session_hash)
    ):
        session.flush()
        return None
    return user


def _fallback_hash_matches(user, session_hash) -> bool:
    """Whether ``session_hash`` is ``user``'s under one of
    ``SECRET_KEY_FALLBACKS`` (a session of before a key rotation), as
    Django's ``get_user`` accepts it. Only reached when the current key's
    hash did not match (the usual path costs nothing more). Unlike Django,
    the socket leaves the session as it is: the page's next request moves it
    to the current key (Django cycles its key then; the socket keeps the
    session it was opened with)."""
    return bool(session_hash) and any(
        constant_time_compare(session_hash, fallback)
        for fallback in user.get_session_auth_fallback_hash()
    )


@functools.cache
def _plain_lookup(backend_class: type[Any]) -> bool:
    """Whether ``backend_class.get_user`` is ModelBackend's (a primary-key
    lookup through a default manager that filters nothing)."""
    manager = get_user_model()._default_manager
    return (
        backend_class.get_user is ModelBackend.get_user
        and type(manager).get_queryset is Manager.get_queryset
    )


def _owner(session, user_id):
    """The user row read with ``session``'s own (:func:`session_store`) when
    it is that of ``user_id``, the id the session holds; else ``None`` (no
    owner row, another user's: :func:`user_by_pk` reads it)."""
    user = getattr(session, "owner", None)
    return user if user is not None and user.pk == user_id else None


def user_by_pk(user_id):
    """The user model's instance of primary key ``user_id``, or ``None``
    (sync, one plain SQL query on the default database).

    What ``_default_manager.get(pk=user_id)`` returns (every concrete field,
    values converted as the ORM does: :func:`hub.rows.converted`,
    ``Model.from_db``), without building a query each time.
    """
    model = get_user_model()
    sql, _names, _attnames = _user_query(connection.vendor)
    with connection.cursor() as cursor:
        cursor.execute(sql, [model._meta.pk.get_db_prep_value(user_id, connection)])
        row = cursor.fetchone()
    if row is None:
        return None
    return _user_of(row)


def _user_of(row):
    """The user model's instance of a row of :func:`_user_query`'s columns."""
    model = get_user_model()
    _sql, names, attnames = _user_query(connection.vendor)
    (values,) = converted(model, names, [row])
    return model.from_db(connection.alias, attnames, values)


@functools.cache
def _user_query(vendor: str) -> tuple[str, tuple[str, ...], list[str]]:
    """SQL, field names and attribute names of :func:`user_by_pk` on the
    default connection (whose ``vendor`` keys the cache)."""
    model = get_user_model()
    fields = model._meta.concrete_fields
    names = tuple(field.name for field in fields)
    quote = connection.ops.quote_name
    sql = (
        f"SELECT {columns(model, names)} FROM {quote(model._meta.db_table)}"
        f" WHERE {quote(model._meta.pk.column)} = %s"  # type: ignore[arg-type]  # pk: a column
    )
    return sql, names, [field.attname for field in fields]


def is_session_key(value: str) -> bool:
    """Whether a cookie's ``value`` can be a session key: 8 to 64 of the
    characters Django makes keys of (``VALID_KEY_CHARS``). Anything else (a
    NUL byte, which PostgreSQL refuses in a query, an 8 KB string) is no
    session, without a query."""
    return 8 <= len(value) <= 64 and set(value) <= _KEY_CHARS


_KEY_CHARS = frozenset(VALID_KEY_CHARS)


@functools.cache
def session_store() -> type:
    """The ``SessionStore`` class sockets load sessions with.

    ``SESSION_ENGINE``'s own, except for Django's database engine: then a
    subclass whose ``load()`` reads the row in one plain SQL query (what
    ``SessionStore.load`` does through the ORM, whose own work was three
    times the query's on every handshake: bench S5). Decoding, expiry and
    everything else stay Django's. When the domain names the rows that say
    whose a session is (the registry's ``session_owners``), that statement
    also reads the user's row (:func:`_session_query`), kept as the store's
    ``owner``: :func:`session_user` takes it when its id is the one the
    session holds, instead of a second query (issue 17).
    """
    engine: Any = import_module(settings.SESSION_ENGINE)
    if settings.SESSION_ENGINE != "django.contrib.sessions.backends.db":
        return engine.SessionStore

    class SocketSessionStore(engine.SessionStore):
        owner = None  # the user row read with the session's, if any

        @property
        def key_salt(self) -> str:
            # Django salts the signature with the class's name: keep the
            # engine's, or every session would read as corrupted.
            return super().key_salt.replace(
                type(self).__qualname__, engine.SessionStore.__qualname__
            )

        def load(self) -> dict:
            sql = _session_query(connection.vendor, self.model._meta.db_table)
            with connection.cursor() as cursor:
                cursor.execute(sql, [self.session_key, timezone.now()])
                row = cursor.fetchone()
            if row is None:
                self._session_key = None  # as Django's load() for a missing row
                return {}
            if len(row) > 1 and row[1 + _pk_index()] is not None:
                self.owner = _user_of(row[1:])
            return self.decode(row[0])

    return SocketSessionStore


@functools.cache
def _pk_index() -> int:
    """Where the primary key is among :func:`_user_query`'s columns."""
    _sql, names, _attnames = _user_query(connection.vendor)
    return names.index(get_user_model()._meta.pk.name)


@functools.cache
def _session_query(vendor: str, table: str) -> str:
    """The SQL of a socket's session row (``session_data``; a key, then the
    time now, as parameters), with its owner's user row (:func:`_user_query`'s
    columns, ``NULL`` without an owner row) when the domain names the
    ``session_owners`` (:mod:`hub.realtime.registry`). Cached per ``vendor``
    of the default connection and session ``table``."""
    quote = connection.ops.quote_name
    where = " WHERE s.session_key = %s AND s.expire_date > %s"
    owners = domain().session_owners
    if owners is None:
        return f"SELECT s.session_data FROM {quote(table)} s{where}"
    user_model = get_user_model()
    # The columns of _user_query, in its order (every concrete field).
    user_columns = ", ".join(
        f"u.{quote(field.column)}"  # type: ignore[arg-type]  # concrete: a column
        for field in user_model._meta.concrete_fields
    )
    owner_key = quote(owners._meta.get_field("session_key").column)
    owner_user = quote(owners._meta.get_field("user").column)
    user_pk = quote(user_model._meta.pk.column)  # type: ignore[arg-type]  # pk: a column
    return (
        f"SELECT s.session_data, {user_columns} FROM {quote(table)} s"
        f" LEFT JOIN {quote(owners._meta.db_table)} o ON o.{owner_key} = s.session_key"
        f" LEFT JOIN {quote(user_model._meta.db_table)} u ON u.{user_pk} = o.{owner_user}"
        f"{where}"
    )
