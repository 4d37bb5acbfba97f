"""NUTS by nutpie on PyTensor's own compiled log density, one process per chain.

Two backends compile the log density and its gradient:

* ``"jax"`` (default): PyTensor's JAX backend, the margin kernels in ``models.solve_jax``.
  XLA compiles the model in 6-10 s where numba takes 40-51 s (gss, anes 1 %, empty caches).
  One gradient while sampling costs as much as numba's on anes (0.8 ms) and 2-3x on gss
  (0.16-0.23 against 0.07 ms): a first fit is 30-40 s shorter, a warm anes fit as long
  (19 s), a warm gss fit 2-4 s longer (``benchmarks/results/fit_time_nutpie*.md``). Each
  chain's process compiles it (both at once, on two cores), through XLA's persistent cache
  in PyTensor's compile folder. This process
  never starts JAX: a forked copy of a running JAX runtime can deadlock. Where JAX is
  already running here (or off Linux), the chains' processes are spawned instead and
  rebuild the model from the study.
* ``"numba"``: PyTensor's numba function, cached on disk by numba, compiled here once and
  forked into the chains' processes, as PyMC's own multiprocess sampler does on Linux.

Why not ``nutpie.compile_pymc_model``: with numba it wraps the graph in a ``cfunc``, which
numba never caches (88 s on the bundled study with warm caches), and its JAX path needs
named shared variables. nutpie's ``from_pyfunc`` takes PyTensor's function instead. Called
from Python it holds the GIL, so nutpie's threads would run the chains one at a time
(measured with JAX: 14.7 s for two gss chains that take 8 s each alone), hence processes.

Chain ``c`` is seeded from ``(seed, c)``, so a fit does not depend on how many chains
ran at once.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pymc as pm
import xarray as xr

__all__ = ["sample_nutpie", "chain_seeds", "logp_gradient", "model_functions", "BACKENDS"]

#: Compilers of the log density: PyTensor's JAX or numba backend.
BACKENDS = ("jax", "numba")

# Set before forking so that the chain processes inherit them: the compiled model (numba),
# or the model that each chain's process compiles (jax; it keeps its compiled model here).
_COMPILED: Any = None
_MODEL: Any = None
#: Calls of the log density + gradient in this chain process and their seconds.
_GRADIENTS = [0, 0.0]


def _die_with_parent() -> None:
    """A chain process ends when the fit's process dies, even by SIGKILL (a timeout, the
    OOM killer), instead of sampling on as an orphan (Linux: ``PR_SET_PDEATHSIG``)."""
    if platform.system() != "Linux":
        return
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL))  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def chain_seeds(seed: int | None, chains: int, first: int = 0) -> list[int]:
    """One 63-bit seed per chain ``first .. first + chains - 1``, from ``(seed, chain)``
    (fresh entropy when ``seed`` is None): chains added later get seeds of their own."""
    root = np.random.SeedSequence(seed)
    children = root.spawn(first + chains)[first:]
    return [int(child.generate_state(1, dtype=np.uint64)[0] >> np.uint64(1)) for child in children]


def sample_nutpie(
    pm_model: pm.Model,
    *,
    draws: int,
    tune: int,
    chains: int,
    cores: int,
    target_accept: float,
    seed: int | None,
    adaptation: str = "diag",
    backend: str = "numba",
    rebuild: tuple[Any, dict[str, Any]] | None = None,
    progressbar: bool = False,
    first_chain: int = 0,
) -> xr.DataTree:
    """``chains`` nutpie NUTS chains of ``pm_model`` (numbered from ``first_chain``, whose
    seeds they take, see :func:`chain_seeds`), run ``cores`` at a time, with
    nutpie's ``adaptation`` of the mass matrix (``"diag"`` or ``"low_rank"``), on the log
    density compiled by ``backend`` (see :data:`BACKENDS`). ``rebuild``, ``(study,
    model_config)``, lets spawned chain processes rebuild the model (``backend="jax"``
    where this process runs JAX already); without it they are forked only.

    Returns a DataTree with ``posterior`` and ``sample_stats`` (nutpie's names:
    ``diverging``, ``n_steps``, ``depth``, ...), chains numbered 0, 1, ... Its attrs give
    ``sampling_time`` (the slowest chain's sampling), ``compile_time`` (the slowest
    chain process's compile, jax; 0 with numba, compiled before the chains start), and per
    chain (JSON lists) ``gradient_calls`` and ``gradient_time``, the evaluations of the log
    density + gradient while sampling and the seconds spent in them.
    """
    global _COMPILED, _MODEL
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    seeds = chain_seeds(seed, chains, first_chain)
    n_proc = min(chains, cores)
    linux = platform.system() == "Linux"
    context = "fork" if n_proc > 1 and linux else None
    if backend == "numba":
        _COMPILED = _compile(pm_model, "NUMBA")
    else:
        _MODEL = pm_model
        context = "spawn" if _jax_running() or not linux else "fork"
        if context == "spawn" and rebuild is None:
            raise RuntimeError("backend='jax' here needs rebuild=(study, model_config): JAX runs in this process already")
    spec = rebuild if context == "spawn" else None
    jobs = [
        (s, int(draws), int(tune), float(target_accept), adaptation, progressbar and c == 0, backend, spec)
        for c, s in enumerate(seeds)
    ]
    try:
        if context is not None:
            with multiprocessing.get_context(context).Pool(max(n_proc, 1), initializer=_die_with_parent) as pool:
                parts = pool.map(_run_chain, jobs, chunksize=1)
        else:
            parts = [_run_chain(job) for job in jobs]
    finally:
        _COMPILED = _MODEL = None
    tree = xr.DataTree()
    for group in ("posterior", "sample_stats"):
        ds = xr.concat([p[group].assign_coords(chain=[first_chain + c]) for c, p in enumerate(parts)], dim="chain")
        # nutpie's own settings attr holds chain 0's seed only: record every chain's.
        ds.attrs.update(
            {
                "inference_library": "nutpie",
                "backend": backend,
                "chain_start": context or "this process",
                "sampling_time": max(p["seconds"][1] for p in parts),
                "compile_time": max(p["seconds"][0] for p in parts),
                # Evaluations of the log density + gradient, per chain, and their seconds.
                "gradient_calls": json.dumps([p["gradients"][0] for p in parts]),
                "gradient_time": json.dumps([p["gradients"][1] for p in parts]),
                "chain_seeds": json.dumps(seeds),
            }
        )
        tree[group] = xr.DataTree(ds)
    return tree


def _jax_running() -> bool:
    """Has this process started a JAX runtime (whose threads a fork would not copy)?"""
    if "jax" not in sys.modules:
        return False
    try:
        from jax._src import xla_bridge

        return bool(xla_bridge.backends_are_initialized())
    except (ImportError, AttributeError):  # an unknown JAX: assume the worst
        return True


def _start_jax() -> None:
    """Set JAX up in a chain's process: float64, one thread (the chains use the cores),
    XLA's persistent compile cache beside PyTensor's, the margin kernels registered.

    XLA runs with one thread (``PJRT_NPROC=1``): its CPU client otherwise keeps a pool of a
    thread per core in every chain's process, and the chains' pools compete for the cores.
    Where the CPU has AVX-512, XLA emits 512-bit vector code (its default is 256): the
    margin kernels are mostly ``erfc`` and ``exp`` over (area x node x threshold) arrays,
    whose cost this halved. One anes 1 % gradient while two chains sample: 1.00 ms with
    XLA's defaults, 0.84 with one thread, 0.76 with 512-bit vectors as well
    (``benchmarks/results/jax_runtime.md``, AMD EPYC, 2 cores). User settings of
    ``PJRT_NPROC`` and ``XLA_FLAGS`` are kept."""
    os.environ.setdefault("PJRT_NPROC", "1")
    flags = "--xla_cpu_multi_thread_eigen=false"
    if _has_avx512():
        flags += " --xla_cpu_prefer_vector_width=512"
    os.environ.setdefault("XLA_FLAGS", flags)
    import jax
    import pytensor

    from populace.models import margin_ops

    jax.config.update("jax_enable_x64", True)
    if not os.environ.get("JAX_COMPILATION_CACHE_DIR"):
        jax.config.update("jax_compilation_cache_dir", str(Path(pytensor.config.compiledir) / "jax"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    margin_ops.register_jax()


def _has_avx512() -> bool:
    """Does this (Linux) machine's CPU have AVX-512 (its ``avx512f`` flag)?"""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            return any(line.startswith("flags") and " avx512f" in line for line in f)
    except OSError:
        return False


def _run_chain(job: tuple[Any, ...]) -> dict[str, Any]:
    import nutpie

    global _COMPILED
    seed, draws, tune, target_accept, adaptation, progressbar, backend, spec = job
    start = time.perf_counter()
    if backend == "jax" and _COMPILED is None:  # once per chain process, which may run several chains
        _start_jax()
        model = _MODEL
        if spec is not None:  # a spawned process: rebuild the model
            from populace.models.copula import CopulaModel

            model = CopulaModel(spec[0], model_config=spec[1]).build_model()
        _COMPILED = _compile(model, "JAX")
    compiled = _COMPILED
    compile_s = time.perf_counter() - start
    _GRADIENTS[:] = [0, 0.0]
    start = time.perf_counter()
    trace = nutpie.sample(
        compiled,
        draws=draws,
        tune=tune,
        chains=1,
        cores=1,
        seed=seed,
        save_warmup=False,
        progress_bar=progressbar,
        target_accept=target_accept,
        adaptation=adaptation,
    )
    out: dict[str, Any] = {group: trace[group].to_dataset() for group in ("posterior", "sample_stats")}
    out["seconds"] = (compile_s if backend == "jax" else 0.0, time.perf_counter() - start)
    out["gradients"] = tuple(_GRADIENTS)
    return out


def logp_gradient(pm_model: pm.Model) -> tuple[Any, np.ndarray]:
    """The compiled function the numba chains call, ``x -> (logp, gradient)`` on the flat
    unconstrained point, and a starting point (for timing it)."""
    _, logp_fn, _, init_fn, _, _ = model_functions(pm_model)
    return logp_fn, init_fn(0)


def model_functions(pm_model: pm.Model, *, jitter: bool = True, mode: str = "NUMBA") -> tuple[Any, ...]:
    """``(n_dim, logp_fn, expand_fn, init_fn, shape_info, reparameterized)`` of ``pm_model``
    on the flat unconstrained point, compiled by PyTensor's ``mode`` ("NUMBA", cached on
    disk, or "JAX", after :func:`_start_jax`): ``logp_fn(x)`` gives ``(logp, gradient)``,
    ``expand_fn(x)`` every stored variable (names and shapes in ``shape_info``),
    ``init_fn(seed)`` PyMC's initial point, jittered when ``jitter``."""
    from nutpie.compile_pymc import _make_functions
    from pymc.initial_point import make_initial_point_fn

    jitter_rvs = set(pm_model.free_RVs) if jitter else set()
    point_fn = make_initial_point_fn(model=pm_model, jitter_rvs=jitter_rvs, return_transformed=True, default_strategy="support_point")
    n_dim, _, logp_fn, expand_fn, init_fn, shape_info, reparameterized = _make_functions(
        pm_model, mode=mode, compute_grad=True, join_expanded=False, pymc_initial_point_fn=point_fn
    )
    logp_fn.trust_input = True
    expand_fn.trust_input = True
    return n_dim, logp_fn, expand_fn, init_fn, shape_info, reparameterized


def _compile(pm_model: pm.Model, mode: str) -> Any:
    """nutpie's model of ``pm_model``, through PyTensor's function compiled in ``mode``."""
    from nutpie.compile_pymc import _prepare_dims_and_coords
    from nutpie.compiled_pyfunc import from_pyfunc

    n_dim, logp_fn, expand_fn, init_fn, shape_info, reparameterized = model_functions(pm_model, mode=mode)
    names, _, shapes = shape_info

    def make_logp() -> Any:
        def logp(x: np.ndarray) -> tuple[float, np.ndarray]:
            start = time.perf_counter()
            value, grad = logp_fn(x)
            out = float(value), np.asarray(grad, dtype="float64", order="C")
            _GRADIENTS[0] += 1
            _GRADIENTS[1] += time.perf_counter() - start
            return out

        return logp

    def make_expand(seed1: int, seed2: int, chain: int) -> Any:
        def expand(x: np.ndarray) -> dict[str, np.ndarray]:
            return {n: np.asarray(v, dtype="float64", order="C").reshape(s) for n, v, s in zip(names, expand_fn(x), shapes, strict=True)}

        return expand

    x0 = init_fn(0)
    logp_fn(x0)  # compile (or load from the cache) here, once, before any fork
    expand_fn(x0)
    dims, coords = _prepare_dims_and_coords(pm_model, shape_info, reparameterized)
    return from_pyfunc(
        ndim=n_dim,
        make_logp_fn=make_logp,
        make_expand_fn=make_expand,
        make_initial_point_fn=init_fn,
        expanded_dtypes=[np.dtype("float64")] * len(names),
        expanded_shapes=shapes,
        expanded_names=names,
        dims=dims,
        coords=coords,
    )
