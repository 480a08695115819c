"""What push needs to know about a citizen, as an interface: auth's ``CitizenDirectory`` implements it."""
from __future__ import annotations

from typing import Protocol

from auth.directory import CitizenFacts

__all__ = ["CitizenFacts", "Directory"]


class Directory(Protocol):
    def facts(self, account_id: str) -> CitizenFacts | None: ...

    def account_for(self, kind: str, identifier: str) -> str | None: ...
