"""One small real index (scale 0.02, ~16k entries, ~2 s) shared by the
catalogue tests of a session."""
from __future__ import annotations

from pathlib import Path

import pytest

from catalog.build import BuildReport, build_index
from catalog.model import ReferenceData
from catalog.service import Catalogue

TEST_SCALE = 0.02


@pytest.fixture(scope="session")
def catalog_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, BuildReport]:
    root = tmp_path_factory.mktemp("catalog-index")
    return root, build_index(root, scale=TEST_SCALE)


@pytest.fixture(scope="session")
def catalog_index_dir(catalog_build: tuple[Path, BuildReport]) -> Path:
    return catalog_build[0]


@pytest.fixture(scope="session")
def cat(catalog_index_dir: Path) -> Catalogue:
    return Catalogue.open(catalog_index_dir)


@pytest.fixture(scope="session")
def ref() -> ReferenceData:
    return ReferenceData.load()
