"""LLM answers of personas turned into population answers with honest intervals.

- ``ppi``: the prediction-powered (PPI++) estimator of a mean with its variance, persona
  draws' spread included;
- ``baselines``: the raw LLM share and the human-only share;
- ``inputs``: reading and checking personas (streamed into counts) and the human sample;
- ``rectify``: :func:`rectify`, the tidy table of all three for every answer level and group.
"""

from populace.simulate.ppi import DrawSummary, PPIEstimate, ppi_mean, summarize_draws
from populace.simulate.rectify import COLUMNS, METHODS, RectifyWarning, rectify

__all__ = ["rectify", "RectifyWarning", "COLUMNS", "METHODS", "ppi_mean", "summarize_draws", "DrawSummary", "PPIEstimate"]
