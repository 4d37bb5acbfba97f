"""The latent class peer: a mixture of products of multinomials, raked to the census.

Model: a persona belongs to class ``k`` with probability ``pi_k``; given the class, its
attributes are independent with ``P(x_j = l | k) = theta_j[k, l]``. The mixture can
express associations between attributes that the census cross-tabs lack, yet gives every
cell positive probability, so (unlike resampling) it produces combinations the sample
lacks.

Fitting is EM on the weighted microdata, maximising the penalised log-likelihood

    L = sum_i v_i log sum_k pi_k prod_{j observed in i} theta_j[k, x_ij]
        + sum_{j,k,l} a_{j,l} log theta_j[k, l],

with ``v_i`` the survey weights rescaled to sum to the number of rows (so the prior
weighs against the real amount of data, not against N), and Dirichlet smoothing
``a_{j,l} = prior_strength * m_{j,l}``: ``prior_strength`` pseudo-rows per class and
attribute spread in proportion to the census margin ``m_j``. Rows with missing cells are
kept; a missing cell is left out of that row's likelihood (missing at random). EM is
restarted from ``n_init`` random responsibilities and the best fit kept. The number of
classes is fixed (default 4) or chosen by BIC.

Generation: the model's joint table over all cells (or, above ``max_cells`` cells, a
large sample drawn from it) is raked to every census table and n personas are drawn
from it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xarray as xr
from scipy.special import logsumexp

from populace.baselines.base import Resample, integerize, to_personas
from populace.baselines.independence import margins
from populace.baselines.raking import RakeResult, rake
from populace.study.spec import Study

__all__ = ["LatentClassFit", "fit_latent_class", "LatentClassGenerator"]


@dataclass(frozen=True, eq=False)
class LatentClassFit:
    """A fitted latent class model.

    ``pi`` has shape ``(K,)``; ``theta[j]`` shape ``(K, L_j)``; ``trace`` holds the
    penalised log-likelihood after every EM iteration (non-decreasing); ``loglik`` is the
    final unpenalised weighted log-likelihood and ``bic`` its BIC.
    """

    pi: np.ndarray
    theta: tuple[np.ndarray, ...]
    trace: np.ndarray
    loglik: float
    bic: float
    converged: bool

    @property
    def n_classes(self) -> int:
        return int(self.pi.size)

    def log_prob(self, codes: np.ndarray) -> np.ndarray:
        """Log probability of each row (missing cells marginalised out)."""
        return logsumexp(_class_loglik(codes, self.pi, self.theta), axis=1)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` rows of codes drawn from the model."""
        k = rng.choice(self.n_classes, size=n, p=self.pi)
        out = np.empty((n, len(self.theta)), dtype=np.int64)
        for j, th in enumerate(self.theta):
            cum = np.cumsum(th[k], axis=1)
            out[:, j] = np.minimum((rng.random((n, 1)) > cum).sum(axis=1), th.shape[1] - 1)
        return out


def fit_latent_class(
    codes: np.ndarray,
    weights: np.ndarray,
    n_levels: tuple[int, ...],
    *,
    n_classes: int = 4,
    prior: list[np.ndarray] | None = None,
    n_init: int = 4,
    max_iter: int = 500,
    tol: float = 1e-7,
    rng: np.random.Generator | None = None,
) -> LatentClassFit:
    """EM for a latent class model on weighted rows with missing cells (-1).

    Parameters
    ----------
    codes
        Level codes ``(rows, attributes)``, -1 where missing.
    weights
        Row weights; rescaled to sum to the number of rows.
    n_levels
        Number of levels of every attribute.
    n_classes
        Number of latent classes K.
    prior
        Dirichlet pseudo-counts ``a_j`` (one vector per attribute; zeros = maximum
        likelihood). Default: none.
    n_init, max_iter, tol
        Random restarts, EM iterations per start, and the stopping rule (change of the
        penalised log-likelihood per row below ``tol``).
    rng
        Random generator for the starting responsibilities.
    """
    rng = rng or np.random.default_rng()
    codes = np.asarray(codes, dtype=np.int64)
    n = len(codes)
    v = np.asarray(weights, dtype=float)
    v = v * (n / v.sum())
    prior = prior or [np.zeros(L) for L in n_levels]
    best: LatentClassFit | None = None
    for _ in range(n_init):
        resp = rng.dirichlet(np.ones(n_classes), size=n)
        trace = []
        converged = False
        for _ in range(max_iter):
            pi, theta = _m_step(codes, v, resp, n_levels, prior)
            ll = _class_loglik(codes, pi, theta)
            row_ll = logsumexp(ll, axis=1)
            resp = np.exp(ll - row_ll[:, None])
            obj = float(v @ row_ll + sum((a[None, :] * np.log(th)).sum() for a, th in zip(prior, theta)))
            trace.append(obj)
            if len(trace) > 1 and abs(trace[-1] - trace[-2]) < tol * n:
                converged = True
                break
        loglik = float(v @ row_ll)
        n_par = (n_classes - 1) + n_classes * sum(L - 1 for L in n_levels)
        bic = -2 * loglik + n_par * np.log(n)
        fit = LatentClassFit(pi, tuple(theta), np.asarray(trace), loglik, bic, converged)
        if best is None or fit.trace[-1] > best.trace[-1]:
            best = fit
    assert best is not None
    return best


def _m_step(
    codes: np.ndarray, v: np.ndarray, resp: np.ndarray, n_levels: tuple[int, ...], prior: list[np.ndarray]
) -> tuple[np.ndarray, list[np.ndarray]]:
    wr = resp * v[:, None]
    pi = wr.sum(axis=0)
    pi = pi / pi.sum()
    theta = []
    for j, L in enumerate(n_levels):
        seen = codes[:, j] >= 0
        counts = np.zeros((resp.shape[1], L))
        # counts[k, l] = sum over rows with x_j = l of v_i r_ik
        np.add.at(counts.T, codes[seen, j], wr[seen])
        counts += prior[j][None, :]
        # a level nobody has and no prior for would give log(0); a tiny floor keeps EM finite
        counts = np.maximum(counts, 1e-300)
        theta.append(counts / counts.sum(axis=1, keepdims=True))
    return pi, theta


def _class_loglik(
    codes: np.ndarray, pi: np.ndarray, theta: tuple[np.ndarray, ...] | list[np.ndarray]
) -> np.ndarray:
    """``log pi_k + sum_j log theta_j[k, x_ij]`` per row and class (missing cells skipped)."""
    ll = np.tile(np.log(pi), (len(codes), 1))
    for j, th in enumerate(theta):
        seen = codes[:, j] >= 0
        ll[seen] += np.log(th[:, codes[seen, j]]).T
    return ll


class LatentClassGenerator:
    """Latent class model fitted by EM, its population raked to the census tables.

    Parameters
    ----------
    n_classes
        Number of classes, or ``"bic"`` to choose it by BIC among ``1 .. max_classes``.
    max_classes
        Largest K tried with ``"bic"``.
    prior_strength
        Pseudo-rows of Dirichlet smoothing per class and attribute, spread like the census
        margin (see the module docstring).
    rake
        Rake the model's population to every census table (the ``lca_ipf`` peer).
    resample
        How personas are drawn from the raked cells (default ``"integerize"``).
    max_cells
        Largest joint table built densely; above it the model's population is
        ``synthetic_rows`` rows drawn from the model.
    synthetic_rows
        Size of that drawn population.
    n_init, max_iter
        EM restarts and iterations.
    """

    name = "lca_ipf"

    def __init__(
        self,
        *,
        n_classes: int | str = 4,
        max_classes: int = 6,
        prior_strength: float = 1.0,
        rake: bool = True,
        resample: Resample = "integerize",
        max_cells: int = 2_000_000,
        synthetic_rows: int = 200_000,
        n_init: int = 4,
        max_iter: int = 500,
    ) -> None:
        self.n_classes = n_classes
        self.max_classes = max_classes
        self.prior_strength = prior_strength
        self.rake = rake
        self.resample = resample
        self.max_cells = max_cells
        self.synthetic_rows = synthetic_rows
        self.n_init = n_init
        self.max_iter = max_iter
        if not rake:
            self.name = "lca"

    def fit(self, study: Study, *, seed: int | None = None) -> LatentClassGenerator:
        rng = np.random.default_rng(seed)
        self.study_ = study
        codes = np.asarray(study.microdata.codes, dtype=np.int64)
        weights = np.asarray(study.microdata.weights, dtype=float)
        keep = weights > 0
        codes, weights = codes[keep], weights[keep]
        n_levels = tuple(a.n_levels for a in study.attributes)
        prior = [self.prior_strength * m for m in margins(study)]
        ks = range(1, self.max_classes + 1) if self.n_classes == "bic" else [int(self.n_classes)]
        fits = [
            fit_latent_class(
                codes,
                weights,
                n_levels,
                n_classes=k,
                prior=prior,
                n_init=self.n_init,
                max_iter=self.max_iter,
                rng=rng,
            )
            for k in ks
        ]
        self.fit_ = min(fits, key=lambda f: f.bic)
        self.bic_ = {f.n_classes: f.bic for f in fits}
        self._build_population(rng)
        return self

    def _build_population(self, rng: np.random.Generator) -> None:
        """Cells (or synthetic rows) of the model's population and their raked weights."""
        study = self.study_
        shape = tuple(a.n_levels for a in study.attributes)
        total = study.marginals[0].total if study.marginals else 1.0
        if int(np.prod(shape)) <= self.max_cells:
            cells = np.indices(shape).reshape(len(shape), -1).T
            w = np.exp(self.fit_.log_prob(cells))
        else:
            cells = self.fit_.sample(self.synthetic_rows, rng)
            w = np.ones(len(cells))
        w = w * (total / w.sum())
        if self.rake and study.marginals:
            self.rake_: RakeResult | None = rake(cells, w, study.marginals, study.names)
            w = self.rake_.weights
        else:
            self.rake_ = None
        self.cells_, self.cell_weights_ = cells, w

    def sample_personas(self, n: int, *, draws: int = 1, seed: int | None = None) -> xr.Dataset:
        rng = np.random.default_rng(seed)
        out = []
        for _ in range(draws):
            if self.resample == "integerize":
                counts = integerize(self.cell_weights_, n, rng)
                rows = rng.permutation(np.repeat(np.arange(len(counts)), counts))
            else:
                p = self.cell_weights_ / self.cell_weights_.sum()
                rows = rng.choice(len(p), size=n, p=p)
            out.append(self.cells_[rows])
        k = self.fit_.n_classes
        return to_personas(np.stack(out), self.study_, method=self.name, seed=seed, n_classes=k)
