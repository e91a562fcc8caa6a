"""``@object``: property access and the ``Object`` statics, on JSON objects (dicts).

Job data has no prototypes, symbols, getters or non-enumerable properties, so the descriptor functions
are modelled on plain data properties: ``defineProperty`` stores ``descriptor.value``, ``freeze``,
``seal`` and ``preventExtensions`` return the object unchanged, and ``isFrozen``/``isSealed`` are
false for objects (true for primitives, as in JavaScript).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...errors import PipeError
from ..js import (
    UNDEFINED,
    array_index,
    check_size,
    describe,
    get_property,
    js_type,
    property_key,
    to_string,
    truthy,
)


def _own_keys(target: Any) -> list[str]:
    if isinstance(target, dict):
        return [property_key(key) for key in target]
    if isinstance(target, list | str):
        return [str(index) for index in range(len(target))]
    return []


def _require_object(target: Any, name: str) -> None:
    if target is None or target is UNDEFINED:
        raise PipeError(f"@object.{name}: cannot convert {to_string(target)} to an object")


def get(target: Any, key: Any = UNDEFINED) -> Any:
    """``target?.[key]``: an own property of an object (or an index/length of an array or string)."""
    if target is None or target is UNDEFINED:
        return UNDEFINED
    return get_property(target, key)


def set_(target: Any, key: Any = UNDEFINED, value: Any = UNDEFINED) -> Any:
    """``target[key] = value``, returning the target; a falsy target is replaced by a new object."""
    if not truthy(target):
        target = {}
    name = property_key(key)
    if isinstance(target, dict):
        target[name] = value
        return target
    if isinstance(target, list):
        index = array_index(name)
        if index is not None:
            check_size(index + 1, "@object.set array")
            target.extend([None] * (index + 1 - len(target)))
            target[index] = value
        return target
    raise PipeError(f"@object.set: cannot create property '{name}' on {js_type(target)} {describe(target)}")


def create(*pairs: Any) -> dict[str, Any]:
    """An object from alternating keys and values: ``create('a', 1, 'b', 2) == {'a': 1, 'b': 2}``."""
    result: dict[str, Any] = {}
    for index in range(0, len(pairs), 2):
        result[property_key(pairs[index])] = pairs[index + 1] if index + 1 < len(pairs) else UNDEFINED
    return result


def keys(target: Any) -> list[str]:
    """The own enumerable keys (array and string indices as strings); [] for anything else."""
    return _own_keys(target) if truthy(target) else []


def values(target: Any) -> list[Any]:
    """The own enumerable values."""
    if not truthy(target):
        return []
    if isinstance(target, dict):
        return list(target.values())
    return list(target) if isinstance(target, list | str) else []


def entries(target: Any) -> list[list[Any]]:
    """``[key, value]`` pairs."""
    return [[key, get_property(target, key)] for key in keys(target)]


def from_entries(pairs: Any) -> dict[str, Any]:
    """An object from ``[key, value]`` pairs."""
    if not isinstance(pairs, list):
        raise PipeError(f"@object.fromEntries: {describe(pairs)} is not iterable")
    result: dict[str, Any] = {}
    for pair in pairs:
        if not isinstance(pair, list | dict):
            raise PipeError(f"@object.fromEntries: entry {describe(pair)} is not an object")
        result[property_key(get_property(pair, 0))] = get_property(pair, 1)
    return result


def assign(target: Any, *sources: Any) -> Any:
    """Copy the own properties of each source onto the target (a new object when the target is falsy)."""
    result = target if truthy(target) else {}
    if not isinstance(result, dict):
        raise PipeError(f"@object.assign: target must be an object, got {js_type(result)}")
    for source in sources:
        for key in _own_keys(source):
            result[key] = get_property(source, key)
    return result


def get_own_property_names(target: Any) -> list[str]:
    """Own keys, plus ``length`` for arrays and strings."""
    names = _own_keys(target)
    return names + ["length"] if isinstance(target, list | str) else names


def get_own_property_symbols(target: Any) -> list[Any]:
    """Always empty: JSON data has no symbol keys."""
    return []


def get_own_property_descriptor(target: Any, key: Any = UNDEFINED) -> Any:
    """``{value, writable, enumerable, configurable}`` of an own property, else undefined."""
    name = property_key(key)
    if name not in get_own_property_names(target):
        return UNDEFINED
    enumerable = not (name == "length" and isinstance(target, list | str))
    writable = not isinstance(target, str)
    return {"value": get_property(target, name), "writable": writable, "enumerable": enumerable,
            "configurable": enumerable and writable}


def define_property(target: Any, key: Any = UNDEFINED, descriptor: Any = UNDEFINED) -> Any:
    """Set ``target[key]`` to ``descriptor.value`` (flags are not modelled) and return the target."""
    if not isinstance(target, dict | list):
        raise PipeError("@object.defineProperty called on non-object")
    if not isinstance(descriptor, dict):
        raise PipeError("@object.defineProperty: property description must be an object")
    return set_(target, key, descriptor.get("value", UNDEFINED))


def define_properties(target: Any, descriptors: Any = UNDEFINED) -> Any:
    """``defineProperty`` for each ``{key: descriptor}``."""
    if not isinstance(descriptors, dict):
        raise PipeError("@object.defineProperties: descriptors must be an object")
    for key, descriptor in descriptors.items():
        define_property(target, key, descriptor)
    return target


def freeze(target: Any) -> Any:
    """Return the target unchanged (immutability is not modelled)."""
    return target


def seal(target: Any) -> Any:
    """Return the target unchanged."""
    return target


def prevent_extensions(target: Any) -> Any:
    """Return the target unchanged."""
    return target


def is_frozen(target: Any) -> bool:
    """False for objects and arrays (never frozen here), true for primitives."""
    return _is_primitive(target)


def is_sealed(target: Any) -> bool:
    """False for objects and arrays, true for primitives."""
    return _is_primitive(target)


def _is_primitive(target: Any) -> bool:
    return not isinstance(target, dict | list)


def is_extensible(target: Any) -> bool:
    """True for objects and arrays, false for primitives."""
    return not _is_primitive(target)


def has_own_property(target: Any, key: Any = UNDEFINED) -> bool:
    """Whether ``key`` is an own property (indices and ``length`` count for arrays and strings)."""
    _require_object(target, "hasOwnProperty")
    return property_key(key) in get_own_property_names(target)


def is_prototype_of(target: Any, other: Any = UNDEFINED) -> bool:
    """Always false: plain data objects are never prototypes of one another."""
    return False


def property_is_enumerable(target: Any, key: Any = UNDEFINED) -> bool:
    """Whether ``key`` is an own enumerable property (``length`` is not)."""
    _require_object(target, "propertyIsEnumerable")
    return property_key(key) in _own_keys(target)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "get": get,
    "set": set_,
    "create": create,
    "keys": keys,
    "values": values,
    "entries": entries,
    "fromEntries": from_entries,
    "assign": assign,
    "getOwnPropertyNames": get_own_property_names,
    "getOwnPropertySymbols": get_own_property_symbols,
    "getOwnPropertyDescriptor": get_own_property_descriptor,
    "defineProperty": define_property,
    "defineProperties": define_properties,
    "freeze": freeze,
    "isFrozen": is_frozen,
    "seal": seal,
    "isSealed": is_sealed,
    "preventExtensions": prevent_extensions,
    "isExtensible": is_extensible,
    "hasOwnProperty": has_own_property,
    "isPrototypeOf": is_prototype_of,
    "propertyIsEnumerable": property_is_enumerable,
}
