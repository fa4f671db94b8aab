"""The OpenAPI components are named after the classes: two models or enums
of one name would share one component, and the schema would describe one
of them wrongly (a grades ``Status`` once replaced attendance's)."""

import enum
import importlib
import inspect
import pkgutil
import typing
from collections import defaultdict

from pydantic import BaseModel

import core.api.routers


def _named(annotation, found: set) -> None:
    if inspect.isclass(annotation) and issubclass(annotation, enum.Enum):
        found.add(annotation)
    elif inspect.isclass(annotation) and issubclass(annotation, BaseModel):
        if annotation not in found:
            found.add(annotation)
            for field in annotation.model_fields.values():
                _named(field.annotation, found)
    for argument in typing.get_args(annotation):
        _named(argument, found)


def test_no_two_schemas_of_the_routers_share_a_name():
    found: set = set()
    for info in pkgutil.iter_modules(core.api.routers.__path__):
        module = importlib.import_module(f"core.api.routers.{info.name}")
        for _name, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseModel):
                _named(value, found)
    by_name = defaultdict(set)
    for cls in found:
        by_name[cls.__name__].add(f"{cls.__module__}.{cls.__qualname__}")
    # Within one router pydantic tells the names apart (attendance's two
    # Status enums get their module path); ninja merges the routers'
    # components by name, so across routers a name must be unique.
    apart = {
        "Status": {
            "core.attendance.models.AttendanceRecord.Status",
            "core.attendance.models.Excuse.Status",
        }
    }
    shared = {
        name: places
        for name, places in by_name.items()
        if len(places) > 1 and places != apart.get(name)
    }
    assert shared == {}
