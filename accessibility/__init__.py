"""Elder mode (长辈版) transforms, TTS-ready text and Mongolian names: plain Python, no Flask.

See accessibility/README.md. Modules:

* ``accessibility.spoken``: ``speech_text`` and the number readers;
* ``accessibility.presentation``: ``PRESENTATION`` tokens, ``contrast_ratio``, ``help_block``;
* ``accessibility.elder``: tiles, elder search/detail/home, ``strip_marketing``;
* ``accessibility.mongolian``: ``mn-Mong`` names with fallback (``MongolianNames`` over the reference
  data it is handed, ``names_for(reference)``), ``normalize``.
"""
from accessibility.elder import (elder_candidates, elder_home, elder_item_detail, elder_search,
                                 elder_tiles, find_marketing, strip_marketing)
from accessibility.mongolian import MongolianNames, names_for, normalize
from accessibility.presentation import PRESENTATION, contrast_ratio, help_block
from accessibility.spoken import speech_text

__all__ = [
    "PRESENTATION", "MongolianNames", "contrast_ratio", "elder_candidates", "elder_home", "elder_item_detail",
    "elder_search", "elder_tiles", "find_marketing", "help_block", "names_for", "normalize",
    "speech_text", "strip_marketing",
]
