"""On-disk layout, atomic publication and opening of built indexes.

    <root>/builds/<build_id>/tantivy/     the tantivy index (immutable once built)
    <root>/builds/<build_id>/data/        the reference JSON the build used
    <root>/builds/<build_id>/meta.json    build id, scale, entry count
    <root>/builds/<build_id>/lexicon.json pinyin of display names and aliases
    <root>/builds/<build_id>/vocabulary.json word pinyin and character readings (query understanding)
    <root>/current -> builds/<build_id>   swapped with one rename(2)

A build is written completely before `current` is repointed, so readers see
either the old or the new build, never a partial one. Readers compare
`readlink(current)` with the build they hold (`Catalogue.reload_if_changed`).
Superseded builds are kept for a while: a worker may still be reading one.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tantivy

from catalog.errors import IndexUnavailable
from catalog.model import ReferenceData
from catalog.vocabulary import Vocabulary

CURRENT = "current"
BUILDS = "builds"
KEEP_BUILDS = 3


@dataclass(frozen=True)
class BuildPaths:
    build_id: str
    root: Path

    @property
    def tantivy_dir(self) -> Path:
        return self.root / "tantivy"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def meta_file(self) -> Path:
        return self.root / "meta.json"

    @property
    def lexicon_file(self) -> Path:
        return self.root / "lexicon.json"


def build_paths(index_root: Path, build_id: str) -> BuildPaths:
    return BuildPaths(build_id, index_root / BUILDS / build_id)


def new_build(index_root: Path) -> BuildPaths:
    paths = build_paths(index_root, time.strftime("%Y%m%dT%H%M%SZ", time.gmtime()) + "-" + secrets.token_hex(3))
    paths.tantivy_dir.mkdir(parents=True)
    paths.data_dir.mkdir()
    return paths


def publish(index_root: Path, build: BuildPaths) -> None:
    link = index_root / CURRENT
    staging = index_root / f".{CURRENT}.{build.build_id}"
    staging.unlink(missing_ok=True)
    staging.symlink_to(Path(BUILDS) / build.build_id)
    os.replace(staging, link)  # rename(2) over the old link is atomic
    _prune(index_root, keep=build.build_id)


def _prune(index_root: Path, keep: str) -> None:
    builds = sorted(p for p in (index_root / BUILDS).iterdir() if p.is_dir())
    for old in builds[:-KEEP_BUILDS]:
        if old.name != keep:
            shutil.rmtree(old, ignore_errors=True)


def current_build_id(index_root: Path) -> str:
    try:
        return Path(os.readlink(index_root / CURRENT)).name
    except OSError:
        raise IndexUnavailable(f"no catalogue index at {index_root} (run `python -m catalog build`)",
                               details={"index_dir": str(index_root)}) from None


@dataclass(frozen=True)
class OpenedBuild:
    build_id: str
    meta: dict[str, Any]
    lexicon: dict[str, list[str]]
    ref: ReferenceData
    vocabulary: Vocabulary
    index: tantivy.Index
    searcher: tantivy.Searcher


def open_build(index_root: Path, build_id: str) -> OpenedBuild:
    paths = build_paths(index_root, build_id)
    index = tantivy.Index.open(str(paths.tantivy_dir))
    index.config_reader(reload_policy="Manual")  # immutable build: no file watcher thread
    ref = ReferenceData.load(paths.data_dir)
    return OpenedBuild(
        build_id=build_id,
        meta=json.loads(paths.meta_file.read_text(encoding="utf-8")),
        lexicon=json.loads(paths.lexicon_file.read_text(encoding="utf-8")),
        ref=ref,
        vocabulary=Vocabulary.load(ref, paths.root),
        index=index,
        # The build is immutable, so one searcher serves every query.
        searcher=index.searcher(),
    )


def directory_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
