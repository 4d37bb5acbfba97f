"""populace.inference: fitting, diagnostics and fit files."""

from populace.inference.diagnostics import ConvergenceWarning, Diagnostics, check_convergence
from populace.inference.fit import METHODS, SAMPLERS, fit, model_from_fit
from populace.inference.generate import iter_personas, sample_personas, write_personas, write_personas_dataset
from populace.inference.io import load_fit, save_fit
from populace.inference.ipf import RakeResult, rake

__all__ = [
    "fit",
    "METHODS",
    "SAMPLERS",
    "model_from_fit",
    "check_convergence",
    "Diagnostics",
    "ConvergenceWarning",
    "save_fit",
    "load_fit",
    "sample_personas",
    "iter_personas",
    "write_personas",
    "write_personas_dataset",
    "rake",
    "RakeResult",
]
