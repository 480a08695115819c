"""``LiveCatalogue``: the process's catalogue, opened lazily and swapped when ``make reindex`` publishes a build.

The API and the push worker both hold one (built by the composition root). Opening lazily lets a process
start before the index exists; ``get()`` then raises ``CatalogueUnavailable`` (503 with Retry-After) until
``make index`` has built it. Rebuilds are noticed at most every ``reload_check_seconds`` per process.
"""
from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kernel.errors import DomainError

if TYPE_CHECKING:
    from catalog.service import Catalogue


class CatalogueUnavailable(DomainError):
    code = "catalogue_unavailable"
    http_status = 503
    default_message = "服务事项目录正在加载，请稍后再试"

    def __init__(self) -> None:
        super().__init__(headers={"Retry-After": "10"})


class LiveCatalogue:
    def __init__(self, index_dir: Path, *, reload_check_seconds: float = 2.0) -> None:
        self._index_dir = Path(index_dir)
        self._reload_check_seconds = reload_check_seconds
        self._catalogue: "Catalogue | None" = None
        self._last_check = 0.0
        self._lock = threading.Lock()
        self.last_error: str | None = None

    def _open(self) -> "Catalogue | None":
        from catalog.service import Catalogue

        try:
            catalogue = Catalogue.open(self._index_dir)
        except FileNotFoundError:
            self.last_error = "index not built (run `make index`)"
            return None
        self.last_error = None
        return catalogue

    def get(self) -> "Catalogue":
        catalogue = self._catalogue
        now = time.monotonic()
        if catalogue is not None and now - self._last_check < self._reload_check_seconds:
            return catalogue
        with self._lock:
            self._last_check = now
            if self._catalogue is None:
                self._catalogue = self._open()
            else:
                self._catalogue.reload_if_changed()
            if self._catalogue is None:
                raise CatalogueUnavailable()
            return self._catalogue

    @property
    def loaded(self) -> bool:
        try:
            self.get()
        except CatalogueUnavailable:
            return False
        return True

    def hot(self, *, region: str | None = None, limit: int = 10) -> Any:
        """The current build's popular items (what the recommender asks of a catalogue)."""
        return self.get().hot(region=region, limit=limit)
