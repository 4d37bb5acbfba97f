"""Persona cards and persona libraries: what people who prompt LLMs with personas load.

- :func:`write_cards`: a personas Parquet file -> JSON Lines, one card per persona
  (attributes, rendered text, each attribute's provenance).
- :func:`build_library`: a fit -> a library folder (Parquet shards with a ``text``
  column, a ``README.md`` dataset card whose figures come from the fit).
"""

from populace.library.build import LibraryInfo, build_library
from populace.library.cards import study_of_personas, write_cards
from populace.study.provenance import Kind, Provenance, provenance
from populace.library.templates import CardTemplate, load_template

__all__ = [
    "write_cards",
    "study_of_personas",
    "build_library",
    "LibraryInfo",
    "provenance",
    "Provenance",
    "Kind",
    "load_template",
    "CardTemplate",
]
