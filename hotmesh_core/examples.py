"""The example apps and the notebooks that ship with hotmesh_core.

Each app is a folder with ``app.yaml`` and ``workers.py``; ``workers.py`` defines ``WORKERS``
(topic -> callback) and ``EXAMPLE`` (a topic and input to try). The repository keeps them in
``assets/apps/<name>/`` and ``notebooks/``; the wheel holds the same files as the package data
``hotmesh_core/assets`` and ``hotmesh_core/notebooks`` (pyproject's ``package-dir``), found here with
``importlib.resources``. In a source checkout (the repository on ``sys.path``, or an editable
install) they are the folders at the repository's root. ``HOTMESH_ASSETS`` (a folder holding
``apps/``) overrides where the apps are read from.

    from hotmesh_core.examples import app_path
    await hm.deploy(app_path("demo"))           # .../hotmesh_core/assets/apps/demo/app.yaml
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

from .worker import Worker


def packaged(name: str) -> Path:
    """The folder ``name`` (``assets`` or ``notebooks``) shipped with hotmesh_core.

    Installed from a wheel: ``hotmesh_core/<name>`` through ``importlib.resources``. A source
    checkout has no such folder inside the package: the repository's own ``<name>`` (recognised by
    its ``pyproject.toml``) is used. Anything else is a broken installation, said so.
    """
    resource = resources.files("hotmesh_core") / name
    if resource.is_dir():
        if not isinstance(resource, Path):
            raise RuntimeError(f"hotmesh_core is installed as a zip archive; {name} needs a folder on disk")
        return resource
    package = Path(str(resources.files("hotmesh_core")))
    checkout = package.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / name).is_dir():
        return checkout / name
    raise FileNotFoundError(f"{package / name} is missing: this installation of hotmesh-core is incomplete "
                            "(reinstall it: pip install --force-reinstall hotmesh-core)")


def assets_dir() -> Path:
    """The folder holding ``apps/``: ``$HOTMESH_ASSETS``, else the packaged example apps."""
    explicit = os.environ.get("HOTMESH_ASSETS")
    if explicit:
        return Path(explicit)
    return packaged("assets")


def apps_dir() -> Path:
    """The folder of the example apps (one sub-folder per app)."""
    return assets_dir() / "apps"


def app_path(name: str) -> Path:
    """The manifest (``app.yaml``) of the example app in folder ``name``: ``app_path("demo")``."""
    manifest = apps_dir() / name / "app.yaml"
    if not manifest.is_file():
        known = ", ".join(sorted(p.name for p in apps_dir().iterdir() if (p / "app.yaml").is_file()))
        raise FileNotFoundError(f"no example app {name!r} in {apps_dir()} (there are: {known})")
    return manifest


def notebooks_dir() -> Path:
    """The notebooks (``01-quickstart.ipynb``, ...): copy them somewhere and open them in Jupyter."""
    return packaged("notebooks")


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
    root = root or apps_dir()
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
