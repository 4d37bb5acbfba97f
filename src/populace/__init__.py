"""populace: synthetic persona populations from census tables and survey microdata.

The main functions are re-exported here and imported on first use, so
``import populace`` stays fast (PyMC loads only when a fit needs it)::

    import populace

    study = populace.load_study("study.toml")
    fit = populace.fit(study)
    personas = populace.sample_personas(fit, 1000)
    populace.to_parquet(personas, "personas.parquet")
    populace.summarize(personas, by="region", target="party")  # shares with intervals
    populace.write_report(fit, "report.html", personas=personas)  # one HTML page
"""

from __future__ import annotations

import importlib as _importlib
from importlib.metadata import PackageNotFoundError as _PackageNotFoundError
from importlib.metadata import version as _version
from typing import TYPE_CHECKING

try:
    __version__ = _version("populace")
except _PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

# Public name -> module that defines it.
_LAZY = {
    "load_study": "populace.study",
    "make_study": "populace.study",
    "fit": "populace.inference",
    "load_fit": "populace.inference",
    "save_fit": "populace.inference",
    "sample_personas": "populace.inference",
    "to_parquet": "populace.personas",
    "to_frame": "populace.personas",
    "summarize": "populace.summarize",
    "write_report": "populace.report",
}

__all__ = ["__version__", *_LAZY]

if TYPE_CHECKING:  # for type checkers and IDEs; never run
    from populace.inference.generate import sample_personas
    from populace.inference import fit, load_fit, save_fit
    from populace.personas import to_frame, to_parquet
    from populace.report import write_report
    from populace.summarize import summarize
    from populace.study import load_study, make_study


def __getattr__(name: str) -> object:
    """Import a re-exported function on first access and cache it in the module."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'populace' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
