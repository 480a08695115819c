"""Build a catalogue index: generate the entries, index them, publish; or
reuse the published one when nothing it depends on changed (`ensure_index`)."""
from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import tantivy

from catalog import schema, textproc
from catalog.errors import IndexUnavailable
from catalog.generator import CANONICAL, Entry, generate, plan_scope
from catalog.index import (
    BuildPaths,
    build_paths,
    current_build_id,
    directory_bytes,
    new_build,
    publish,
)
from catalog.model import DATA_FILES, PACKAGED_DATA, BasicItem, ReferenceData
from catalog.ranking import item_filters
from catalog.synonyms import colloquial_phrases
from catalog.vocabulary import VOCABULARY_FILE, write_vocabulary

_WRITER_HEAP = 1_500_000_000  # one indexing thread, one segment: keeps insertion (region) order
# Bump when the schema, the generator or the text analysis changes: `ensure_index` then rebuilds.
INDEX_FORMAT = 2  # 2: vocabulary.json (word pinyin, character readings) for query understanding


@dataclass(frozen=True)
class BuildReport:
    build_id: str
    path: str
    scale: float
    entries: int
    searchable_entries: int
    seconds: float
    bytes: int
    reused: bool = False

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def build_index(out_dir: str | Path, *, scale: float = 1.0,
                data_dir: str | Path = PACKAGED_DATA) -> BuildReport:
    started = time.perf_counter()
    index_root = Path(out_dir)
    index_root.mkdir(parents=True, exist_ok=True)
    ref = ReferenceData.load(data_dir)
    build = new_build(index_root)
    try:
        for name in DATA_FILES:
            shutil.copyfile(Path(data_dir) / name, build.data_dir / name)
        entries, searchable = _write_index(build, ref, scale)
        build.lexicon_file.write_text(json.dumps(_lexicon(ref), ensure_ascii=False), encoding="utf-8")
        write_vocabulary(build.root / VOCABULARY_FILE, ref)
        meta = {
            "build_id": build.build_id, "format": INDEX_FORMAT, "scale": scale,
            "data_sha256": _fingerprint(data_dir), "entries": entries,
            "searchable_entries": searchable, "seconds": round(time.perf_counter() - started, 2),
            "counties": [c.code for c in plan_scope(ref, scale).counties()],
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        build.meta_file.write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")
    except BaseException:
        shutil.rmtree(build.root, ignore_errors=True)  # never leave a half build behind
        raise
    publish(index_root, build)
    return _report(build, meta)


def ensure_index(out_dir: str | Path, *, scale: float = 1.0,
                 data_dir: str | Path = PACKAGED_DATA) -> BuildReport:
    """The published build if it has this scale, index format and reference
    data; otherwise a new build."""
    index_root = Path(out_dir)
    try:
        build = build_paths(index_root, current_build_id(index_root))
        meta = json.loads(build.meta_file.read_text(encoding="utf-8"))
    except (IndexUnavailable, OSError, ValueError):
        return build_index(index_root, scale=scale, data_dir=data_dir)
    if (meta.get("format"), meta.get("scale"), meta.get("data_sha256")) != (
            INDEX_FORMAT, scale, _fingerprint(data_dir)):
        return build_index(index_root, scale=scale, data_dir=data_dir)
    return _report(build, meta, reused=True)


def _report(build: BuildPaths, meta: dict[str, Any], *, reused: bool = False) -> BuildReport:
    return BuildReport(build_id=build.build_id, path=str(build.root), scale=meta["scale"],
                       entries=meta["entries"], searchable_entries=meta["searchable_entries"],
                       seconds=meta["seconds"], bytes=directory_bytes(build.root), reused=reused)


def _fingerprint(data_dir: str | Path) -> str:
    digest = hashlib.sha256()
    for name in DATA_FILES:
        digest.update((Path(data_dir) / name).read_bytes())
    return digest.hexdigest()


def _write_index(build: BuildPaths, ref: ReferenceData, scale: float) -> tuple[int, int]:
    index = tantivy.Index(schema.build_schema(), path=str(build.tantivy_dir))
    writer = index.writer(heap_size=_WRITER_HEAP, num_threads=1)
    entries = searchable = 0
    for entry in generate(ref, scale):
        writer.add_document(_document(ref, entry))
        entries += 1
        searchable += bool(entry.serves)
    writer.commit()
    writer.wait_merging_threads()
    return entries, searchable


def _document(ref: ReferenceData, entry: Entry) -> tantivy.Document:
    item = ref.item(entry.basic_code)
    doc = tantivy.Document()
    doc.add_text(schema.BASIC_CODE, entry.basic_code)
    doc.add_unsigned(schema.BASIC_ORD, ref.ordinal(entry.basic_code))
    stored = dict(vars(entry))
    del stored["serves"]
    doc.add_bytes(schema.ENTRY, json.dumps(stored, ensure_ascii=False).encode("utf-8"))
    if not entry.serves:
        return doc
    for region in entry.serves:
        doc.add_text(schema.SERVES, region)
    for field, values in _filter_values(item).items():
        for value in values:
            doc.add_text(field, value)
    titles, extras = _texts(ref, item, entry)
    for field, tokens in schema.analysed_fields(titles, extras).items():
        doc.add_text(field, tokens)
    return doc


def _filter_values(item: BasicItem) -> dict[str, tuple[str, ...]]:
    return item_filters(item)


def _texts(ref: ReferenceData, item: BasicItem, entry: Entry) -> tuple[tuple[str, ...], tuple[str, ...]]:
    titles = (item.name, entry.local_name, item.short_name)
    extras = (item.plain_name, *colloquial_phrases(item, ref), *item.tags, entry.handle_name,
              item.department, item.sub_department)
    if CANONICAL in entry.serves:
        # the region-wide entry should also be found by every local name
        extras += tuple(ref.variant_names(item.basic_code))
    return tuple(dict.fromkeys(titles)), tuple(dict.fromkeys(extras))


def _lexicon(ref: ReferenceData) -> dict[str, list[str]]:
    """Per-character pinyin of every display name and alias, for pinyin
    highlighting and pinyin suggestions without loading pypinyin at runtime."""
    texts: set[str] = set()
    for item in ref.items:
        texts.update((item.name, item.short_name, item.plain_name, *item.aliases))
    texts.update(v.local_name for v in ref.variants)
    return {text: textproc.char_pinyin(text) for text in sorted(texts)}
