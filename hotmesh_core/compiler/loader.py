"""Load a manifest (a path or YAML text) safely and dereference its ``$ref`` entries.

``$ref`` works as in the reference (JSON-schema style): ``{$ref: ./graphs/x.yaml}`` stands for the
whole file, ``{$ref: ../schemas/x.yaml#/order}`` for the node at that JSON pointer, ``{$ref: '#/a'}``
for a node of the same file. Sibling keys beside ``$ref`` are merged over a mapping target.
Referenced files are confined to the app folder (the top manifest's folder, or ``base_dir``):
absolute paths, URLs, paths that climb out of the folder and symlinks that point outside it are
refused. ``..`` is accepted while it stays inside the folder, because the reference's own sample
app does that (``graphs/x.yaml`` referring to ``../schemas/x.yaml``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from ..errors import ManifestError
from .yaml_safe import Limits, LineDict, LineList, located, parse_yaml

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_TEXT_KEY = "<text>"
# What resolving a path can raise: a missing file or a symlink loop (OSError, RuntimeError), and a
# name the OS cannot take at all, with a NUL byte or a lone surrogate (ValueError).
_BAD_PATH = (OSError, RuntimeError, ValueError)


@dataclass(frozen=True)
class LoadedManifest:
    """A parsed, dereferenced manifest. ``document`` keeps line numbers (LineDict/LineList)."""

    document: LineDict
    file: str | None                       # the top file as given, None for YAML text
    base_dir: Path | None                  # the app folder $refs are confined to
    text: str                              # the top document's YAML text (the deployed source)
    files: tuple[str, ...] = field(default=())   # every file read, top first, as errors name them
    paths: dict[str, str] = field(default_factory=dict)   # each of `files` -> path inside the app folder


def load_manifest(source: str | Path, *, base_dir: str | Path | None = None,
                  limits: Limits | None = None) -> LoadedManifest:
    """Load ``source``: YAML text if it has a newline or starts with ``app:``, else a file path."""
    limits = limits or Limits()
    root = None if base_dir is None else Path(base_dir).resolve()
    if isinstance(source, str) and ("\n" in source or source.strip().startswith("app:")):
        if len(source) > limits.max_bytes:            # cheap early refusal: a char is >= 1 byte
            raise ManifestError(f"manifest is larger than {limits.max_bytes} bytes")
        _check_size(source.encode("utf-8", "surrogatepass"), None, limits)
        text = source
        reader = _Reader(root, None if root is None else str(root), limits)
        document = reader.top(text, None, None)
        return LoadedManifest(document, None, root, text, tuple(reader.files), reader.paths)
    path = Path(source)
    display = str(source)
    real = _real_file(path, display)
    if root is None:
        root = real.parent
    elif not real.is_relative_to(root):
        raise ManifestError(f"manifest is outside base_dir {str(root)!r}", file=display)
    text = _read(real, display, limits)
    folder = os.path.dirname(display)
    for _ in real.parent.relative_to(root).parts:     # the app folder, spelled as the user spelled it
        folder = os.path.dirname(folder)
    reader = _Reader(root, folder or ".", limits)
    reader.files.append(display)
    reader.paths[display] = real.relative_to(root).as_posix()
    document = reader.top(text, display, real)
    return LoadedManifest(document, display, root, text, tuple(reader.files), reader.paths)


def _real_file(path: Path, display: str) -> Path:
    try:
        real = path.resolve(strict=True)
    except _BAD_PATH:
        raise ManifestError("manifest file not found", file=display) from None
    if not _is_file(real):
        raise ManifestError("manifest path is not a regular file", file=display)
    return real


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:
        return False


def _check_size(data: bytes, file: str | None, limits: Limits) -> bytes:
    if len(data) > limits.max_bytes:
        raise ManifestError(f"manifest is larger than {limits.max_bytes} bytes", file=file)
    return data


def _read(real: Path, display: str, limits: Limits) -> str:
    try:
        with real.open("rb") as handle:
            data = handle.read(limits.max_bytes + 1)
    except OSError as exc:
        raise ManifestError(f"cannot read manifest: {exc.strerror}", file=display) from None
    try:
        return _check_size(data, display, limits).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ManifestError(f"manifest is not UTF-8 text ({exc.reason})", file=display) from None


def _height(value: Any) -> int:
    """Nesting depth of a parsed value (a scalar counts as one level), without recursion."""
    best, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        best = max(best, depth)
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
    return best


@dataclass
class _Source:
    key: str                   # real path, or <text>
    display: str | None        # the path shown in errors
    directory: PurePosixPath   # folder of this file, relative to the app root
    raw: Any                   # parsed, not yet dereferenced


class _Reader:
    """Parses files once, resolves each (file, pointer) once, and copies targets into place."""

    def __init__(self, root: Path | None, root_display: str | None, limits: Limits) -> None:
        self.root = root
        self.root_display = root_display
        self.limits = limits
        self.files: list[str] = []
        self.paths: dict[str, str] = {}
        self.sources: dict[str, _Source] = {}
        self.resolved: dict[tuple[str, str], tuple[Any, int]] = {}
        self.active: list[tuple[str, str]] = []
        self.nodes = 0
        self.bytes = 0

    def top(self, text: str, display: str | None, real: Path | None) -> LineDict:
        key = _TEXT_KEY if real is None else str(real)
        directory = PurePosixPath(".")
        if real is not None and self.root is not None:
            directory = PurePosixPath(real.parent.relative_to(self.root).as_posix())
        self.bytes = len(text)
        raw = parse_yaml(text, display, self.limits)
        if not isinstance(raw, LineDict):
            raise ManifestError("a manifest must be a mapping with an 'app' key", file=display,
                                line=getattr(raw, "line", 1 if raw is not None else None))
        source = _Source(key, display, directory, raw)
        self.sources[key] = source
        self.nodes = self._count(raw)
        document, _ = self._resolve_pointer(source, "", None, None)
        assert isinstance(document, LineDict)
        return document

    # -- dereferencing -------------------------------------------------------------------------
    def _walk(self, value: Any, source: _Source, depth: int) -> Any:
        if isinstance(value, LineDict):
            if "$ref" in value:
                return self._substitute(value, source, depth)
            out = LineDict(value.file, value.line, value.column)
            out.lines = dict(value.lines)
            for key, item in value.items():
                out[key] = self._walk(item, source, depth + 1)
            return out
        if isinstance(value, LineList):
            seq = LineList(value.file, value.line, value.column)
            seq.lines = list(value.lines)
            seq.extend(self._walk(item, source, depth + 1) for item in value)
            return seq
        return value

    def _substitute(self, node: LineDict, source: _Source, depth: int) -> Any:
        ref = node["$ref"]
        if not isinstance(ref, str) or not ref.strip():
            raise located("$ref must be a non-empty string", node, "$ref")
        target_source, pointer = self._locate(ref, node, source)
        target, height = self._resolve_pointer(target_source, pointer, node, ref)
        if depth + height > self.limits.max_depth:
            raise located(f"manifest nesting is deeper than {self.limits.max_depth} levels "
                          f"(through $ref '{ref}')", node, "$ref")
        self.nodes += self._count(target)
        if self.nodes > self.limits.max_nodes:
            raise located(f"manifest expands to more than {self.limits.max_nodes} nodes "
                          f"(through $ref '{ref}')", node, "$ref")
        value = self._walk(target, target_source, depth)          # a private copy
        siblings = [key for key in node if key != "$ref"]
        if not siblings:
            return value
        if not isinstance(value, LineDict):
            raise located(f"$ref '{ref}' has sibling keys but does not point to a mapping", node, "$ref")
        # The merged mapping lives where the $ref is written; keys from the target point at the $ref.
        merged = LineDict(node.file, node.line, node.column)
        for key, item in value.items():
            merged[key] = item
            merged.lines[key] = node.line_of("$ref")
        for key in siblings:
            merged[key] = self._walk(node[key], source, depth + 1)
            merged.lines[key] = node.line_of(key)
        return merged

    def _resolve_pointer(self, source: _Source, pointer: str, node: LineDict | None,
                         ref: str | None) -> tuple[Any, int]:
        key = (source.key, pointer)
        if key in self.resolved:
            return self.resolved[key]
        if key in self.active:
            raise located(f"$ref '{ref}' is circular", node, "$ref")
        if len(self.active) >= self.limits.max_ref_chain:
            raise located(f"$ref chain is longer than {self.limits.max_ref_chain} files", node, "$ref")
        self.active.append(key)
        try:
            value = self._walk(_follow(source.raw, pointer, node, ref), source, 0)
        finally:
            self.active.pop()
        self.resolved[key] = (value, _height(value))
        return self.resolved[key]

    def _count(self, value: Any) -> int:
        count, stack = 0, [value]
        while stack:
            item = stack.pop()
            count += 1
            if isinstance(item, dict):
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
        return count

    # -- locating files ------------------------------------------------------------------------
    def _locate(self, ref: str, node: LineDict, source: _Source) -> tuple[_Source, str]:
        path_text, _, fragment = ref.partition("#")
        pointer = fragment
        if pointer and not pointer.startswith("/"):
            raise located(f"$ref '{ref}': the fragment must be a JSON pointer ('#/a/b')", node, "$ref")
        if not path_text:
            return source, pointer
        if _URL.match(path_text):
            raise located(f"$ref '{ref}' must be a relative file path, not a URL", node, "$ref")
        if path_text.startswith(("/", "\\", "~")) or os.path.isabs(path_text) or "\\" in path_text:
            raise located(f"$ref '{ref}' must be a relative path inside the app folder", node, "$ref")
        if self.root is None:
            raise located(f"$ref '{ref}' needs base_dir when the manifest is given as YAML text",
                          node, "$ref")
        parts: list[str] = list(source.directory.parts) if source.directory != PurePosixPath(".") else []
        for part in PurePosixPath(path_text).parts:
            if part == "..":
                if not parts:
                    raise located(f"$ref '{ref}' points outside the app folder", node, "$ref")
                parts.pop()
            elif part != ".":
                parts.append(part)
        relative = PurePosixPath(*parts) if parts else PurePosixPath(".")
        try:
            real = (self.root / relative).resolve(strict=True)
        except _BAD_PATH:
            raise located(f"$ref '{ref}': file not found", node, "$ref") from None
        if not real.is_relative_to(self.root):
            raise located(f"$ref '{ref}' resolves (through a symlink) outside the app folder",
                          node, "$ref")
        if not _is_file(real):
            raise located(f"$ref '{ref}' is not a regular file", node, "$ref")
        return self._source(real, node, ref), pointer

    def _source(self, real: Path, node: LineDict, ref: str) -> _Source:
        key = str(real)
        if key in self.sources:
            return self.sources[key]
        if len(self.sources) >= self.limits.max_files:
            raise located(f"manifest uses more than {self.limits.max_files} files", node, "$ref")
        assert self.root is not None
        relative = real.relative_to(self.root)
        display = os.path.normpath(os.path.join(self.root_display or ".", relative))
        text = _read(real, display, self.limits)
        self.bytes += len(text)
        if self.bytes > self.limits.max_total_bytes:
            raise located(f"manifest files total more than {self.limits.max_total_bytes} bytes", node, "$ref")
        raw = parse_yaml(text, display, self.limits)
        self.files.append(display)
        self.paths[display] = relative.as_posix()
        source = _Source(key, display, PurePosixPath(relative.parent.as_posix()), raw)
        self.sources[key] = source
        return source


def _follow(document: Any, pointer: str, node: LineDict | None, ref: str | None) -> Any:
    """The node at a JSON pointer (RFC 6901) inside ``document``."""
    value = document
    if not pointer:
        return value
    for token in pointer[1:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(value, dict) and token in value:
            value = value[token]
        elif isinstance(value, list) and token.isdigit() and int(token) < len(value):
            value = value[int(token)]
        else:
            raise located(f"$ref '{ref}': nothing at '{pointer}'", node, "$ref")
    return value
