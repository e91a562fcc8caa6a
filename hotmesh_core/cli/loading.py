"""Resolve ``TOPIC=module:function`` (or ``TOPIC=path/to/file.py:function``) into a Worker."""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from ..worker import Worker
from .output import InputError


def parse_worker(spec: str, concurrency: int, timeout: float | None = None) -> Worker:
    topic, sep, target = spec.partition("=")
    module_name, colon, attribute = target.rpartition(":")
    if not sep or not topic or not colon or not module_name or not attribute:
        raise InputError(f"worker {spec!r} must read TOPIC=module:function or TOPIC=path/file.py:function")
    module = _load_file(Path(module_name)) if _is_file(module_name) else _import(module_name)
    callback: Any = module
    for name in attribute.split("."):
        if not hasattr(callback, name):
            raise InputError(f"worker {spec!r}: {module_name} has no attribute {attribute!r}")
        callback = getattr(callback, name)
    if not callable(callback):
        raise InputError(f"worker {spec!r}: {attribute} is not callable")
    return Worker(topic, callback, concurrency=concurrency, timeout=timeout)


def _is_file(name: str) -> bool:
    return name.endswith(".py") or os.sep in name or "/" in name


def _import(name: str) -> ModuleType:
    # Like `python -m`, modules of the working directory are importable.
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        return importlib.import_module(name)
    except Exception as exc:
        raise InputError(f"cannot import module {name!r}: {type(exc).__name__}: {exc}") from exc


def _load_file(path: Path) -> ModuleType:
    path = path.resolve()
    if not path.is_file():
        raise InputError(f"worker file {str(path)!r} does not exist")
    name = "hotmesh_worker_" + re.sub(r"\W", "_", str(path.with_suffix("")))
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise InputError(f"cannot load {str(path)!r} as a Python module")
    module = importlib.util.module_from_spec(spec)
    if str(path.parent) not in sys.path:
        sys.path.insert(0, str(path.parent))     # so the file can import its neighbours
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise InputError(f"cannot load {str(path)!r}: {type(exc).__name__}: {exc}") from exc
    return module
