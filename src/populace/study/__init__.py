"""The study: attributes, census tables and survey microdata.

Load one from a TOML file with :func:`load_study`, build one from Python
objects with :func:`make_study`; both run the same validation and raise a
single :class:`populace.errors.StudyError` naming the file, line and column
of the first problem.
"""

from __future__ import annotations

from populace.study.build import make_study
from populace.study.load import load_study
from populace.study.serialize import study_from_dict, study_to_dict
from populace.study.spec import Attribute, Marginal, Microdata, Study
from populace.study.write import write_study

__all__ = [
    "Attribute",
    "Marginal",
    "Microdata",
    "Study",
    "load_study",
    "make_study",
    "study_to_dict",
    "study_from_dict",
    "write_study",
]
