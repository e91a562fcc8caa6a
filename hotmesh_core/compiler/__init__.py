"""The compiler: load YAML apps safely, validate them with located errors, compile them.

``load_manifest`` parses a path or YAML text (no tags, anchors or aliases; size and depth capped;
``$ref`` confined to the app folder), ``compile_app`` validates and builds the ``CompiledApp``
that engines execute, ``plan`` does both and also returns warnings.
"""

from .compile import PlanResult, compile_app, diff_breaking, plan
from .loader import LoadedManifest, load_manifest
from .model import CompiledApp
from .yaml_safe import Limits

__all__ = ["CompiledApp", "Limits", "LoadedManifest", "PlanResult", "compile_app", "diff_breaking",
           "load_manifest", "plan"]
