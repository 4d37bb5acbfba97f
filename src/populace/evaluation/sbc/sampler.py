"""NUTS compiled once per study shape and rerun on new data (the SBC's inner loop).

Every replication's study has the same structure, and the model's microdata and
cross-tab counts are pytensor shared variables (``models.backend``), so one compiled
log-density and gradient serve every replication: the new study's data are written into
the shared variables of the first one's graph. The census shares that pin the margins
(1-D and area tables, area shares) are *constants* of the graph, so every study must
have the same fixed tables (``run_sbc`` draws them once per run); :meth:`set_study`
refuses a study whose fixed shares differ. ``populace.inference.fit`` would build and compile a new model per
replication (about 85 s of its 105 s at K = 3 on this machine); this takes seconds.
The sampler is PyMC's NUTS with the settings of ``fit``'s default
(``init="jitter+adapt_diag"``, ``target_accept`` of the sampler config), one chain.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from populace.study.spec import Study

__all__ = ["ReusableNuts"]


def _shared_inputs(model: Any) -> list[Any]:
    """The data shared variables of the model's likelihood, in graph order."""
    from pytensor.compile.sharedvalue import SharedVariable
    from pytensor.graph.traversal import graph_inputs
    from pytensor.tensor.type import TensorType

    seen: dict[int, Any] = {}
    for v in graph_inputs(list(model.potentials)):
        if isinstance(v, SharedVariable) and isinstance(v.type, TensorType) and id(v) not in seen:
            seen[id(v)] = v
    return list(seen.values())


class ReusableNuts:
    """One compiled NUTS sampler for every study of one shape.

    Parameters
    ----------
    study
        The first study; later ones go through :meth:`set_study`.
    model_config
        The model config (simulator and fit alike).
    """

    def __init__(self, study: Study, *, model_config: Mapping[str, Any]) -> None:
        import pymc as pm

        from populace.models.copula import CopulaModel

        self.copula = CopulaModel(study, model_config=dict(model_config))
        self.model = self.copula.build_model()
        self.shared = _shared_inputs(self.model)
        self.target_accept = float(self.copula.sampler_config["target_accept"])
        with self.model:
            self.step = pm.NUTS(target_accept=self.target_accept)  # compiles logp and gradient once
        self.names = [v.name for v in self.model.free_RVs]
        self.names += [v.name for v in self.model.deterministics if v.name.startswith("loadings_")]
        # Values, not the random variables (compiling an RV would draw from its prior).
        outs = self.model.replace_rvs_by_values([self.model[n] for n in self.names])
        self.point_fn = self.model.compile_fn(outs, inputs=self.model.value_vars, on_unused_input="ignore", point_fn=True)
        self.init_fn = pm.initial_point.make_initial_point_fn(model=self.model, jitter_rvs=set(self.model.free_RVs))

    def set_study(self, study: Study) -> None:
        """Write ``study``'s data into the compiled graph (same structure required)."""
        from populace.models.copula import CopulaModel

        model = CopulaModel(study, model_config=dict(self.copula.model_config))
        old_s, new_s = self.copula.structure, model.structure
        same = [
            (a is None and b is None) or (a is not None and b is not None and np.array_equal(a, b))
            for a, b in zip(
                (*old_s.margins, *old_s.national, old_s.geo_shares),
                (*new_s.margins, *new_s.national, new_s.geo_shares),
                strict=True,
            )
        ]
        if not all(same):
            raise ValueError("the study's fixed census shares differ from the compiled graph's constants")
        new = _shared_inputs(model.build_model())
        if len(new) != len(self.shared):
            raise ValueError("the study's structure differs from the compiled one")
        for old, nv in zip(self.shared, new, strict=True):
            value = nv.get_value(borrow=True)
            if old.type.ndim != value.ndim or any(
                s == 1 and d != 1 for s, d in zip(old.type.shape, value.shape, strict=True)
            ):
                raise ValueError("the study's data do not fit the compiled graph's shapes")
            old.set_value(value)
        self.copula = model

    def sample(self, *, draws: int, tune: int, seed: Any) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """One chain: returns ``(posterior, stats)``, arrays with a leading draw axis;
        stats ``diverging`` and ``n_steps`` of the kept draws."""
        from pymc.blocking import DictToArrayBijection
        from pymc.step_methods.hmc.integration import CpuLeapfrogIntegrator
        from pymc.step_methods.hmc.quadpotential import QuadPotentialDiagAdapt

        rng = np.random.default_rng(seed)
        point = self.init_fn(int(rng.integers(2**31)))
        mean = DictToArrayBijection.map({v.name: point[v.name] for v in self.model.value_vars}).data
        step = self.step
        # A fresh adaptive diagonal mass matrix per chain, as init="jitter+adapt_diag" makes.
        # The leapfrog integrator holds its own reference to the potential: replace both, or
        # momenta and kinetic energy disagree and the chain targets the wrong distribution.
        step.potential = QuadPotentialDiagAdapt(mean.size, mean, np.ones(mean.size), 10, rng=rng)
        step.integrator = CpuLeapfrogIntegrator(step.potential, step._logp_dlogp_func)
        step.setup_chain(rng, tune, draws)
        step.tune = bool(tune)
        step.reset_tuning()
        step.iter_count = 0
        post: dict[str, list[np.ndarray]] = {k: [] for k in self.names}
        div, n_steps = [], []
        for i in range(tune + draws):
            if i == tune:
                step.stop_tuning()
            point, stats = step.step(point)
            if i >= tune:
                for k, v in zip(self.names, self.point_fn(point), strict=True):
                    post[k].append(np.asarray(v, float))
                div.append(bool(stats[0]["diverging"]))
                n_steps.append(int(stats[0].get("n_steps", stats[0].get("tree_size", 0))))
        return {k: np.stack(v) for k, v in post.items()}, {"diverging": np.array(div), "n_steps": np.array(n_steps)}
