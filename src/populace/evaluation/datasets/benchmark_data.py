"""The :class:`Benchmark` container: population, census tables and samples; its study per
sample, and writing it to / reading it from a folder of files."""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from populace.atomic import atomic_path, write_text
from populace.evaluation.datasets.census import census_array, census_filename
from populace.evaluation.datasets.recode import categorize, codes_of
from populace.study.spec import Attribute, Marginal, Microdata, Study


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
        return codes_of(self.population, self.attributes)

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
                counts=census_array(df, [self._attr(a) for a in attrs]),
                source=census_filename(attrs),
            )
            for attrs, df in self.census.items()
        )
        df = self.samples[sample]
        micro = Microdata(
            codes=codes_of(df, self.attributes),
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
            write_text(out / census_filename(attrs), csv_text(df))
        for name, df in self.samples.items():
            write_text(out / f"sample_{name}.csv", csv_text(df))
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
        population = categorize(pop, attributes)
        census = {}
        for entry in meta["census_files"]:
            df = pd.read_csv(d / entry["file"], dtype=str, keep_default_na=False)
            df["count"] = df["count"].astype(np.int64)
            census[tuple(entry["vars"])] = categorize(df, attributes)
        samples = {}
        for entry in meta["samples"]:
            df = pd.read_csv(d / entry["file"], dtype=str, keep_default_na=False)
            df["weight"] = df["weight"].astype(float)
            samples[entry["name"]] = categorize(df, attributes)
        return cls(meta["name"], attributes, population, census, samples, meta)

    def _attr(self, name: str) -> Attribute:
        for a in self.attributes:
            if a.name == name:
                return a
        raise KeyError(name)


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


def _write_parquet(path: Path, df: pd.DataFrame) -> None:
    with atomic_path(path, suffix=".parquet") as tmp:
        df.to_parquet(tmp, index=False)


def csv_text(df: pd.DataFrame) -> str:
    buf = io.StringIO()
    df.to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue()
