"""The example apps under ``assets/apps``: each folder has ``app.yaml`` and ``workers.py``.

``workers.py`` defines ``WORKERS`` (topic -> callback) and ``EXAMPLE`` (a topic and input to try).
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from .worker import Worker


def assets_dir() -> Path:
    explicit = os.environ.get("HOTMESH_ASSETS")
    if explicit:
        return Path(explicit)
    return Path(__file__).resolve().parent.parent / "assets"


@dataclass(frozen=True)
class ExampleApp:
    app_id: str
    manifest: Path
    workers: list[Worker]
    example: dict[str, Any]


def _load_module(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"hotmesh_examples_{path.parent.name}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def example_apps(root: Path | None = None) -> list[ExampleApp]:
    root = root or assets_dir() / "apps"
    apps: list[ExampleApp] = []
    for folder in sorted(p for p in root.iterdir() if (p / "app.yaml").exists()):
        manifest = folder / "app.yaml"
        app_id = str(yaml.safe_load(manifest.read_text())["app"]["id"])
        workers: list[Worker] = []
        example: dict[str, Any] = {}
        if (folder / "workers.py").exists():
            module = _load_module(folder / "workers.py")
            workers = [Worker(topic, callback) for topic, callback in getattr(module, "WORKERS", {}).items()]
            example = dict(getattr(module, "EXAMPLE", {}))
        apps.append(ExampleApp(app_id, manifest, workers, example))
    return apps
