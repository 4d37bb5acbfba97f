"""Simulation-based calibration (Talts et al. 2018) of the copula model and its inference.

If parameters are drawn from the prior, data from the model given them, and the
posterior is computed correctly, then the rank of the true value of any quantity among
``L`` independent posterior draws is uniform on ``0 .. L``. A skewed rank histogram
means biased posteriors, a U shape too narrow ones (over-confidence), a hump too wide ones.

One replication (:func:`simulate_study`, then :func:`run_sbc`):

1. The loadings are drawn from the model's own prior (``pymc.draw`` on the PyMC model,
   so the simulator cannot drift from the priors in :mod:`populace.models.copula`).
   K = 1 factor and four small attributes (:data:`ATTRIBUTES`: ordinal, binary, a
   3-level nominal with softmax loadings, ordinal), so that a fit takes seconds.
2. True margins are drawn from ``Dirichlet(4)`` per attribute (margins are data to the
   model, not parameters: the census pins them).
3. A population of ``n_pop`` people is drawn from the copula joint ``pi(x)``
   (:meth:`CopulaModel.joint`); the census is its four 1-D tables; the microdata are a
   simple random sample of ``n_sample`` of its rows (multivariate hypergeometric).
   With ``n_pop = 10^6`` the census shares are within ~5e-4 of the true margins, far
   below what ``n_sample`` rows can see, so the data follow the model's assumptions.
4. :func:`populace.inference.fit` with one chain; ``L`` posterior draws evenly spaced
   over the chain (thinning, to weaken autocorrelation, which would flatten the
   histogram's middle).
5. Ranks of the rotation-invariant quantities (:func:`quantities`): the entries of the
   upper triangle of ``loading_gram`` (for K = 1, ``lambda_i lambda_j``, invariant to the
   sign flip) and the copula probabilities of :data:`CELLS`.

**The Dirichlet layer is off** (``model_config={"dirichlet": False}``, see
:data:`SBC_MODEL_CONFIG`): the simulator draws the population from the copula itself,
so the fitted model must be the copula alone for the two to match. With the layer on,
the population joint would be ``Dirichlet(alpha * pi)`` around the copula, a different
generative model.

Cost: each replication builds and compiles a new PyMC model (the data are constants of
the graph), about a minute of numba compiling on a 2-core machine, plus seconds of
sampling.
"""

from __future__ import annotations

import math
import os
import re
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from populace.study.spec import Attribute, Marginal, Microdata, Study

__all__ = [
    "ATTRIBUTES",
    "CELLS",
    "SBC_MODEL_CONFIG",
    "Uniformity",
    "default_bins",
    "prior_draws",
    "quantities",
    "rank_statistic",
    "run_sbc",
    "simulate_study",
    "summarize",
    "uniformity_test",
    "write_sbc",
]

#: The simulated studies' attributes: small, one of each kind of link.
ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute("a", "ordinal", ("a1", "a2", "a3")),
    Attribute("b", "nominal", ("b1", "b2")),
    Attribute("c", "nominal", ("c1", "c2", "c3")),
    Attribute("d", "ordinal", ("d1", "d2", "d3")),
)
#: Cells whose copula probability is ranked (level codes in attribute order): the two
#: corners, where dependence moves mass most, and a middle cell.
CELLS: tuple[tuple[int, ...], ...] = ((0, 0, 0, 0), (2, 1, 2, 2), (1, 0, 1, 2))
#: Model config of simulator and fit alike: K = 1, no Dirichlet layer (see above).
SBC_MODEL_CONFIG: dict[str, Any] = {"factors": 1, "dirichlet": False}
#: Concentration of the Dirichlet the true margins are drawn from.
MARGIN_CONCENTRATION = 4.0


# --------------------------------------------------------------------------- simulate


def _template_study(attributes: Sequence[Attribute], margins: Sequence[np.ndarray] | None = None) -> Study:
    """A study with the given 1-D census shares (uniform by default) and one dummy row;
    enough to build the model for prior draws or for ``joint``."""
    shares = margins or [np.full(a.n_levels, 1.0 / a.n_levels) for a in attributes]
    marginals = tuple(Marginal((a.name,), np.asarray(s, float) * 1e6) for a, s in zip(attributes, shares, strict=True))
    return Study(tuple(attributes), marginals, Microdata(np.zeros((1, len(attributes)), np.int64), np.ones(1)))


def prior_draws(
    reps: int, *, seed: int, model_config: Mapping[str, Any] = SBC_MODEL_CONFIG,
    attributes: Sequence[Attribute] = ATTRIBUTES,
) -> list[dict[str, np.ndarray]]:
    """``reps`` draws of the free parameters from the model's prior (``pymc.draw``).

    Potentials (the likelihood) are ignored by forward sampling, so these are prior draws.
    """
    import pymc as pm

    from populace.models.copula import CopulaModel

    model = CopulaModel(_template_study(attributes), model_config=dict(model_config)).build_model()
    # The free variables plus the loadings (a deterministic function of the free ones
    # when the rotation is fixed): simulation and ranking use the loadings.
    free = list(model.free_RVs) + [v for v in model.deterministics if v.name.startswith("loadings_")]
    values = pm.draw(free, draws=reps, random_seed=seed)
    if reps == 1:  # pm.draw drops the draw axis for a single draw
        values = [v[None] for v in values]
    return [{rv.name: np.asarray(v[r], float) for rv, v in zip(free, values, strict=True)} for r in range(reps)]


def simulate_study(
    params: Mapping[str, np.ndarray],
    rng: np.random.Generator,
    *,
    n_sample: int = 300,
    n_pop: int = 1_000_000,
    model_config: Mapping[str, Any] = SBC_MODEL_CONFIG,
    attributes: Sequence[Attribute] = ATTRIBUTES,
) -> Study:
    """A study simulated from the copula with parameters ``params`` (steps 2-3 above)."""
    from populace.inference.enumerate import joint_shares
    from populace.models.copula import CopulaModel

    shape = tuple(a.n_levels for a in attributes)
    margins = [rng.dirichlet(np.full(n, MARGIN_CONCENTRATION)) for n in shape]
    truth = CopulaModel(_template_study(attributes, margins), model_config=dict(model_config))
    pi = joint_shares(truth, dict(params))[0].reshape(-1)
    pop = rng.multinomial(n_pop, pi / pi.sum())
    counts = pop.reshape(shape)
    marginals = tuple(
        Marginal((a.name,), counts.sum(axis=tuple(k for k in range(len(shape)) if k != j)).astype(float))
        for j, a in enumerate(attributes)
    )
    taken = rng.multivariate_hypergeometric(pop, n_sample)
    cells = np.repeat(np.arange(pi.size), taken)
    codes = np.column_stack(np.unravel_index(rng.permutation(cells), shape)).astype(np.int64)
    micro = Microdata(codes, np.full(n_sample, n_pop / n_sample))
    return Study(tuple(attributes), marginals, micro, name="sbc")


# ------------------------------------------------------------------------- quantities


def quantities(model: Any, params: Mapping[str, np.ndarray]) -> dict[str, float]:
    """Rotation-invariant quantities of one parameter draw.

    ``gram[r,s]`` for the upper triangle of the loading Gram matrix (rows as
    ``CopulaModel.loading_rows``) and ``cell[...]`` for the copula probability of each
    cell of :data:`CELLS` (labels in attribute order).
    """
    from populace.inference.enumerate import joint_shares
    from populace.models.backend import NP

    p = {k: np.asarray(v, float) for k, v in params.items()}
    gram = np.asarray(model.gram(p, NP))  # the model's own definition of loading_gram
    rows = model.loading_rows
    out = {f"gram[{rows[i]},{rows[j]}]": float(gram[i, j]) for i in range(len(rows)) for j in range(i, len(rows))}
    pi = joint_shares(model, p)[0]
    attrs = model.study.attributes
    for cell in CELLS:
        label = ",".join(a.levels[c] for a, c in zip(attrs, cell, strict=True))
        out[f"cell[{label}]"] = float(pi[cell])
    return out


def rank_statistic(truth: np.ndarray, draws: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Rank of each true value among the posterior draws, ties broken at random.

    Parameters
    ----------
    truth
        True values, shape ``(Q,)``.
    draws
        Posterior draws, shape ``(L, Q)``.
    rng
        Breaks ties: the truth takes a uniformly random place among the draws equal
        to it, so ranks stay uniform for discrete quantities too.

    Returns
    -------
    numpy.ndarray
        Integer ranks in ``0 .. L``, shape ``(Q,)``.
    """
    truth = np.asarray(truth, float)
    draws = np.asarray(draws, float)
    below = (draws < truth[None, :]).sum(axis=0)
    ties = (draws == truth[None, :]).sum(axis=0)
    return below + rng.integers(0, ties + 1)


# ---------------------------------------------------------------------------- testing


@dataclass(frozen=True)
class Uniformity:
    """Chi-square test of ranks against the discrete uniform on ``0 .. n_ranks``."""

    counts: np.ndarray  # observed ranks per bin
    expected: np.ndarray  # expected ranks per bin under uniformity
    chi2: float
    dof: int
    pvalue: float


def default_bins(reps: int, n_ranks: int) -> int:
    """Histogram bins: about 5 expected ranks per bin (the chi-square's rule of thumb),
    between 2 and 20, and no more than there are rank values."""
    return int(max(2, min(20, reps // 5, n_ranks + 1)))


def uniformity_test(ranks: np.ndarray, n_ranks: int, *, bins: int | None = None) -> Uniformity:
    """Chi-square test that ``ranks`` are uniform on ``0 .. n_ranks``.

    Rank ``r`` goes to bin ``floor(r * bins / (n_ranks + 1))``; the expected count of a
    bin is exact (the number of rank values it holds), so ``n_ranks + 1`` need not be a
    multiple of ``bins``.
    """
    from scipy import stats

    r = np.asarray(ranks, dtype=np.int64)
    if r.size == 0:
        raise ValueError("no ranks to test")
    if (r < 0).any() or (r > n_ranks).any():
        raise ValueError(f"ranks must lie in 0..{n_ranks}")
    b = default_bins(r.size, n_ranks) if bins is None else int(bins)
    values = np.arange(n_ranks + 1)
    width = np.bincount(values * b // (n_ranks + 1), minlength=b)
    counts = np.bincount(r * b // (n_ranks + 1), minlength=b)
    expected = r.size * width / (n_ranks + 1)
    chi2, p = stats.chisquare(counts, expected)
    return Uniformity(counts, expected, float(chi2), b - 1, float(p))


# ------------------------------------------------------------------------------- run


def run_sbc(
    *,
    reps: int = 50,
    n_sample: int = 300,
    n_pop: int = 1_000_000,
    method: str = "nuts",
    draws: int = 200,
    tune: int = 200,
    n_ranks: int | None = None,
    seed: int = 0,
    model_config: Mapping[str, Any] | None = None,
    progress: Callable[[str], None] | None = None,
    previous: pd.DataFrame | None = None,
    on_rep: Callable[[pd.DataFrame], None] | None = None,
) -> pd.DataFrame:
    """Simulation-based calibration of the copula model (see the module docstring).

    Parameters
    ----------
    reps
        Replications (simulated studies, one fit each).
    n_sample
        Microdata rows per study.
    n_pop
        Size of the simulated population the census is counted from.
    method
        ``"nuts"`` or ``"advi"`` (:func:`populace.inference.fit`).
    draws, tune
        Posterior draws and tuning steps of the single chain (ADVI: draws from the
        approximation; ``tune`` unused).
    n_ranks
        Thinned posterior draws ``L`` per replication; ranks lie in ``0 .. L``. Default
        ``min(99, draws // 2)``.
    seed
        Seeds the prior draws (``seed``) and each replication (``[seed, rep]``).
    model_config
        Overrides on top of :data:`SBC_MODEL_CONFIG` for simulator and fit alike.
        ``dirichlet`` must stay False and ``factors`` 1 (the quantities assume K = 1).
    progress
        Called with one line per replication.
    previous
        Rows of an earlier, interrupted run with the same settings (its
        ``sbc_ranks.csv``): their replications are kept and not run again. Every
        replication is seeded by ``[seed, rep]`` and the prior draws by ``seed``, so a
        resumed run gives the same ranks as an uninterrupted one.
    on_rep
        Called after each replication with all rows so far (to save them as they come:
        an hour of fits should survive a killed process).

    Returns
    -------
    pandas.DataFrame
        One row per (replication, quantity): ``rep, quantity, rank, n_ranks, true,
        post_mean, post_sd``, and per replication ``seconds, divergences, ess_min``
        (NaN for ADVI). Failed replications are left out and counted in
        ``df.attrs["failed"]``.
    """
    from populace.inference.fit import fit, posterior_draws
    from populace.models.copula import CopulaModel

    config = {**SBC_MODEL_CONFIG, **dict(model_config or {})}
    if config.get("dirichlet", True) or int(config.get("factors", 0)) != 1:
        raise ValueError("SBC simulates from the copula with K = 1: keep dirichlet=False and factors=1")
    L = int(n_ranks) if n_ranks is not None else max(1, min(99, draws // 2))
    if L > draws:
        raise ValueError(f"n_ranks={L} is more than the {draws} posterior draws")
    say = progress or (lambda _msg: None)
    thetas = prior_draws(reps, seed=seed, model_config=config)
    rows: list[dict[str, Any]] = [] if previous is None else previous.to_dict("records")
    if rows and any(int(r["n_ranks"]) != L for r in rows):
        raise ValueError(f"the previous rows were ranked among another number of draws than n_ranks={L}")
    done = {int(r["rep"]) for r in rows}
    failed: list[str] = []
    attrs = {"reps": reps, "method": method, "draws": draws, "tune": tune, "n_sample": n_sample, "n_pop": n_pop}
    for rep, theta in enumerate(thetas):
        if rep in done:
            continue
        t0 = time.perf_counter()
        rng = np.random.default_rng([seed, rep])
        study = simulate_study(theta, rng, n_sample=n_sample, n_pop=n_pop, model_config=config)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # each rep's chatter would bury the progress lines
                fitted = fit(
                    study,
                    method=method,
                    draws=draws,
                    tune=tune,
                    chains=1,
                    seed=seed * 100_003 + rep,
                    model_config=config,
                    warn=False,
                )
        except Exception as exc:  # noqa: BLE001 - one bad replication must not lose an hour of others
            failed.append(f"rep {rep}: {type(exc).__name__}: {exc}")
            say(f"rep {rep + 1}/{reps} FAILED ({type(exc).__name__}: {exc})")
            continue
        model = CopulaModel(study, model_config=config)
        truth = quantities(model, theta)
        total, post = posterior_draws(fitted)
        keep = np.linspace(0, total - 1, L).round().astype(int)
        names = list(truth)
        per_draw = [quantities(model, {k: v[i] for k, v in post.items()}) for i in keep]
        samples = np.array([[d[q] for q in names] for d in per_draw])
        ranks = rank_statistic(np.array([truth[q] for q in names]), samples, rng)
        seconds = time.perf_counter() - t0
        div, ess = _health(fitted, samples)
        for j, q in enumerate(names):
            rows.append(
                {
                    "rep": rep,
                    "quantity": q,
                    "rank": int(ranks[j]),
                    "n_ranks": L,
                    "true": truth[q],
                    "post_mean": float(samples[:, j].mean()),
                    "post_sd": float(samples[:, j].std(ddof=1)) if L > 1 else float("nan"),
                    "seconds": seconds,
                    "divergences": div,
                    "ess_min": ess,
                }
            )
        say(f"rep {rep + 1}/{reps} done in {seconds:.1f} s (divergences {div:.0f}, ESS min {ess:.0f})")
        if on_rep is not None:
            on_rep(_frame(rows, failed, attrs))
    return _frame(rows, failed, attrs)


def _frame(rows: list[dict[str, Any]], failed: list[str], attrs: Mapping[str, Any]) -> pd.DataFrame:
    df = pd.DataFrame.from_records(rows)
    df.attrs.update(failed=list(failed), **attrs)
    return df


def _health(fitted: Any, samples: np.ndarray) -> tuple[float, float]:
    """Divergences (NaN without NUTS stats) and the smallest bulk ESS of the quantities
    over the thinned draws."""
    nan = float("nan")
    div = nan
    if "sample_stats" in fitted.children and "diverging" in fitted["sample_stats"]:
        div = float(fitted["sample_stats"]["diverging"].sum())
    try:
        import arviz as az

        ess = float(np.nanmin([az.ess(samples[None, :, j]) for j in range(samples.shape[1])]))
    except Exception:  # noqa: BLE001 - a diagnostic, never a reason to fail
        ess = nan
    return div, ess


# ---------------------------------------------------------------------------- outputs


def summarize(df: pd.DataFrame, *, bins: int | None = None) -> pd.DataFrame:
    """Uniformity test per quantity: ``quantity, reps, bins, chi2, dof, pvalue, counts``."""
    out = []
    for q, part in df.groupby("quantity", sort=False):
        L = int(part["n_ranks"].iloc[0])
        res = uniformity_test(part["rank"].to_numpy(), L, bins=bins)
        out.append(
            {
                "quantity": q,
                "reps": len(part),
                "bins": res.dof + 1,
                "chi2": res.chi2,
                "dof": res.dof,
                "pvalue": res.pvalue,
                "counts": " ".join(map(str, res.counts)),
                "mean_rank_frac": float((part["rank"] / L).mean()),
            }
        )
    return pd.DataFrame(out)


def write_sbc(
    df: pd.DataFrame,
    out: str | os.PathLike[str],
    *,
    command: str,
    bins: int | None = None,
    plots: bool = True,
) -> dict[str, Path]:
    """Write ``sbc_ranks.csv``, ``sbc.md`` (p-values) and one rank histogram per quantity.

    Returns the paths by kind (``csv``, ``md``, ``hist:<quantity>``).
    """
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {"csv": folder / "sbc_ranks.csv", "md": folder / "sbc.md"}
    _atomic_write(paths["csv"], df.to_csv(index=False, float_format="%.6g"))
    table = summarize(df, bins=bins) if len(df) else pd.DataFrame()
    if plots and len(df):
        for q, part in df.groupby("quantity", sort=False):
            path = folder / f"rank_hist_{_slug(q)}.png"
            _histogram(part["rank"].to_numpy(), int(part["n_ranks"].iloc[0]), q, path, bins=bins)
            paths[f"hist:{q}"] = path
    _atomic_write(paths["md"], _markdown(df, table, command=command, paths=paths))
    return paths


def _markdown(df: pd.DataFrame, table: pd.DataFrame, *, command: str, paths: Mapping[str, Path]) -> str:
    a = df.attrs
    failed = list(a.get("failed", []))
    done = int(df["rep"].nunique()) if len(df) else 0
    lines = [
        f"Made by: `{command}`",
        "",
        "# Simulation-based calibration of the copula model",
        "",
        f"{done} replications ({len(failed)} failed) of: loadings from the prior (K = 1, "
        f"attributes {', '.join(f'{x.name} ({x.type}, {x.n_levels})' for x in ATTRIBUTES)}), "
        f"Dirichlet(4) margins, a population of {a.get('n_pop', '?'):,} from the copula, "
        f"census = its 1-D tables, microdata = SRS of n = {a.get('n_sample', '?')}; "
        f"fit by {a.get('method', '?')} (1 chain, {a.get('draws', '?')} draws, {a.get('tune', '?')} tune), "
        "`dirichlet=False` so that model and simulator match (see `populace.evaluation.sbc`).",
    ]
    if len(df):
        per_rep = df.drop_duplicates("rep")
        lines += [
            f"Ranks among L = {int(df['n_ranks'].iloc[0])} thinned posterior draws (uniform on 0..L if "
            f"calibrated). Seconds per replication: median {per_rep['seconds'].median():.0f} "
            f"(total {per_rep['seconds'].sum() / 60:.1f} min); divergences: total "
            f"{per_rep['divergences'].sum():.0f}; ESS of the thinned draws, smallest: "
            f"median {per_rep['ess_min'].median():.0f}.",
            "",
            "Chi-square test of uniform ranks per quantity (bins chosen for about 5 expected "
            f"ranks each). With {len(table)} quantities about {0.05 * len(table):.1f} p-values "
            f"below 0.05 are expected by chance; Bonferroni threshold 0.05/{len(table)} = "
            f"{0.05 / max(1, len(table)):.4f}. mean rank/L: 0.5 if unbiased.",
            "",
            "| quantity | reps | bins | chi2 | dof | p-value | counts per bin | mean rank/L |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for _, r in table.iterrows():
            lines.append(
                f"| {r['quantity']} | {r['reps']} | {r['bins']} | {r['chi2']:.2f} | {r['dof']} | "
                f"{r['pvalue']:.3f} | {r['counts']} | {r['mean_rank_frac']:.2f} |"
            )
        lines += ["", f"Smallest p-value: {table['pvalue'].min():.3f}."]
    if failed:
        lines += ["", "Failed replications:", "", *(f"- {f}" for f in failed)]
    hists = [(k[5:], p.name) for k, p in paths.items() if k.startswith("hist:")]
    if hists:
        lines += ["", "Rank histograms (grey band: 99 % interval of each bin's count under uniformity):", ""]
        lines += [f"![{q}]({name})" for q, name in hists]
    return "\n".join(lines) + "\n"


def _histogram(ranks: np.ndarray, n_ranks: int, title: str, path: Path, *, bins: int | None) -> None:
    """Rank histogram with the 99 % band of a uniform histogram (Talts et al., fig. 1)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy import stats

    res = uniformity_test(ranks, n_ranks, bins=bins)
    b = len(res.counts)
    n = len(ranks)
    p = res.expected / n
    lo, hi = stats.binom.ppf(0.005, n, p), stats.binom.ppf(0.995, n, p)
    fig, ax = plt.subplots(figsize=(4.2, 3.0))
    x = np.arange(b)
    ax.fill_between(np.r_[x - 0.5, b - 0.5], np.r_[lo, lo[-1]], np.r_[hi, hi[-1]], step="post", color="0.85")
    ax.step(np.r_[x - 0.5, b - 0.5], np.r_[res.expected, res.expected[-1]], where="post", color="0.5", lw=1)
    ax.bar(x, res.counts, width=0.9, color="tab:blue", alpha=0.85)
    ax.set_xticks(x, [f"{math.ceil(i * (n_ranks + 1) / b)}" for i in x], fontsize=7)
    ax.set_xlabel(f"rank (bin start; ranks 0..{n_ranks})")
    ax.set_ylabel("replications")
    ax.set_title(f"{title}  p = {res.pvalue:.3f}", fontsize=9)
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
