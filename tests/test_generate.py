"""Personas from a fit: margins, reproducibility, save/load, --where."""

import json

import numpy as np
import pytest
import xarray as xr

from populace.errors import FitError
from populace.inference.generate import sample_personas
from populace.inference import load_fit, save_fit
from populace.personas import read_parquet, to_frame, to_parquet

pytestmark = pytest.mark.slow

N, DRAWS = 4000, 10


@pytest.fixture(scope="module")
def personas(simulated_fit):
    return sample_personas(simulated_fit, N, draws=DRAWS, seed=5)


def test_shape_and_labels(personas, simulated):
    study, _ = simulated
    assert dict(personas.sizes) == {"draw": DRAWS, "persona": N}
    assert list(personas.data_vars) == list(study.names)
    frame = to_frame(personas)
    assert len(frame) == N * DRAWS
    assert set(frame["party"].cat.categories) == {"dem", "ind", "rep"}


def test_one_way_shares_match_census_within_monte_carlo_error(personas, simulated):
    """Raking pins every census margin; what is left is multinomial noise of N * DRAWS personas."""
    study, _ = simulated
    for m in study.marginals:
        if len(m.attributes) != 1:
            continue
        name = m.attributes[0]
        p = m.counts / m.counts.sum()
        q = np.bincount(personas[name].values.reshape(-1), minlength=len(p)) / (N * DRAWS)
        se = np.sqrt(p * (1 - p) / (N * DRAWS))
        assert np.all(np.abs(q - p) < 4 * se), (name, q, p)


def test_crosstab_census_table_is_reproduced(personas, simulated):
    study, _ = simulated
    m = next(m for m in study.marginals if m.attributes == ("age", "sex"))
    p = m.counts / m.counts.sum()
    flat = np.ravel_multi_index((personas["age"].values.reshape(-1), personas["sex"].values.reshape(-1)), p.shape)
    q = np.bincount(flat, minlength=p.size).reshape(p.shape) / (N * DRAWS)
    se = np.sqrt(p * (1 - p) / (N * DRAWS))
    assert np.all(np.abs(q - p) < 4 * se)


def test_dependence_is_learned(personas, simulated):
    """age x church across the posterior draws: the truth lies within 5 posterior sd of the
    posterior mean in every cell, and independence lies beyond 3 in both corner cells.

    The spread of a cell's share over the 10 draws is the posterior sd plus the
    multinomial noise of 4000 personas; a t with 9 degrees of freedom exceeds 5 with
    probability 7e-4, so over 9 cells a calibrated model fails < 1 % of the time. The true
    dependence (Gram entry 0.41) moves the young-never and old-weekly corners by about 5 of
    those sd (0.052 against sd 0.011) from independence, so the separation bar is 3: a
    model that learned no dependence clears it in both corners with probability
    P(|t_9| > 3)^2 = 2e-4, the true model misses it only when the estimated sd exceeds
    1.6 times its value (chi-square with 9 df: 0.4 % per corner). A bar of 5 had no margin:
    a correct fit missed it at 4.96 sd.
    """
    _, pi = simulated
    truth = pi.sum(axis=(1, 2))  # (age, church)
    codes = np.ravel_multi_index((personas["age"].values, personas["church"].values), truth.shape)  # (draw, persona)
    q = np.stack([np.bincount(c, minlength=truth.size) for c in codes]).reshape((DRAWS, *truth.shape)) / N
    mean, sd = q.mean(axis=0), q.std(axis=0, ddof=1)
    assert np.all(np.abs(mean - truth) < 5 * sd), {"mean": mean.round(3), "truth": truth.round(3), "sd": sd.round(4)}
    indep = np.outer(truth.sum(1), truth.sum(0))
    for corner in [(0, 0), (2, 2)]:
        assert abs(mean[corner] - indep[corner]) > 3 * sd[corner], (corner, mean[corner], indep[corner], sd[corner])


def test_same_seed_same_personas_and_other_seed_differs(simulated_fit, personas):
    again = sample_personas(simulated_fit, N, draws=DRAWS, seed=5)
    xr.testing.assert_identical(again, personas)
    other = sample_personas(simulated_fit, N, draws=DRAWS, seed=6)
    assert not np.array_equal(other["age"].values, personas["age"].values)


def test_saved_fit_loads_back_and_generates_the_same(simulated_fit, personas, tmp_path):
    path = save_fit(simulated_fit, tmp_path / "fit.nc")
    loaded = load_fit(path)
    assert loaded.attrs["populace_study"] == simulated_fit.attrs["populace_study"]
    xr.testing.assert_identical(sample_personas(loaded, N, draws=DRAWS, seed=5), personas)
    assert [p.name for p in tmp_path.iterdir()] == ["fit.nc"]  # no temp file left behind


def test_same_seed_byte_identical_parquet_also_from_a_saved_fit(simulated_fit, tmp_path):
    from populace.inference import write_personas

    a, _ = write_personas(simulated_fit, tmp_path / "a.parquet", 3000, draws=2, seed=8)
    b, _ = write_personas(simulated_fit, tmp_path / "b.parquet", 3000, draws=2, seed=8)
    loaded = load_fit(save_fit(simulated_fit, tmp_path / "fit.nc"))
    c, _ = write_personas(loaded, tmp_path / "c.parquet", 3000, draws=2, seed=8)
    assert a.read_bytes() == b.read_bytes() == c.read_bytes()
    d, _ = write_personas(simulated_fit, tmp_path / "d.parquet", 3000, draws=2, seed=9)
    assert d.read_bytes() != a.read_bytes()


def test_where_restricts_to_one_level(simulated_fit):
    ds = sample_personas(simulated_fit, 500, draws=2, seed=1, where={"party": "rep"})
    assert (ds["party"].values == 2).all()
    with pytest.raises(FitError, match="not a level of party"):
        sample_personas(simulated_fit, 10, draws=1, where={"party": "green"})
    with pytest.raises(FitError, match="no attribute"):
        sample_personas(simulated_fit, 10, draws=1, where={"colour": "red"})


def test_parquet_has_labels_and_integer_draw(personas, tmp_path):
    path = to_parquet(personas, tmp_path / "p.parquet")
    df = read_parquet(path)
    assert list(df.columns) == ["draw", "age", "sex", "party", "church"]
    assert df["draw"].dtype.kind == "i"
    assert set(df["age"].astype(str)) <= {"young", "middle", "old"}


def test_too_many_draws_is_a_clear_error(simulated_fit):
    with pytest.raises(FitError, match="fit stores"):
        sample_personas(simulated_fit, 10, draws=10**6)


def test_streamed_parquet_equals_in_memory_personas_whatever_the_chunking(simulated_fit, tmp_path, monkeypatch):
    """write_personas streams row groups; chunk seeds are (seed, draw, chunk), so the rows are
    those of sample_personas, and a chunk's rows do not depend on how many chunks precede it."""
    import pyarrow.parquet as pq

    import populace.inference.generate as gen
    from populace.inference import write_personas

    monkeypatch.setattr(gen, "CHUNK", 700)
    ds = sample_personas(simulated_fit, 1500, draws=3, seed=9)
    path, rows = write_personas(simulated_fit, tmp_path / "p.parquet", 1500, draws=3, seed=9)
    assert rows == 4500
    meta = pq.ParquetFile(path).metadata
    assert meta.num_row_groups == 9  # 3 chunks of <= 700 rows per draw
    df = read_parquet(path)
    want = to_frame(ds)
    for col in want.columns:
        assert (df[col].astype(str).to_numpy() == want[col].astype(str).to_numpy()).all(), col
    assert [p.name for p in tmp_path.iterdir()] == ["p.parquet"]
    # The first chunk of draw 0 is the same whether 1500 or 700 personas are asked for.
    small = sample_personas(simulated_fit, 700, draws=1, seed=9)
    first = sample_personas(simulated_fit, 1500, draws=1, seed=9)
    np.testing.assert_array_equal(small["age"].values[0], first["age"].values[0, :700])


def test_iter_personas_yields_bounded_chunks(simulated_fit, monkeypatch):
    import populace.inference.generate as gen

    monkeypatch.setattr(gen, "CHUNK", 256)
    sizes = [(c.draw, c.n) for c in gen.iter_personas(simulated_fit, 600, draws=2, seed=1)]
    assert sizes == [(0, 256), (0, 256), (0, 88), (1, 256), (1, 256), (1, 88)]


def _dataset_files(root):
    import pyarrow.parquet as pq

    return {str(p.relative_to(root)): pq.read_table(p).to_pandas().astype(str) for p in sorted(root.rglob("*.parquet"))}


def test_partitioned_dataset_is_the_same_on_a_dask_cluster(simulated_fit, tmp_path, monkeypatch):
    """Each draw is a task seeded from (seed, draw): two workers write the same files as one process."""
    distributed = pytest.importorskip("distributed")
    import pandas as pd

    import populace.inference.generate as gen
    from populace.inference import write_personas_dataset

    monkeypatch.setattr(gen, "CHUNK", 400)
    local, rows = write_personas_dataset(simulated_fit, tmp_path / "local", 1000, draws=3, seed=4)
    assert rows == 3000
    files = _dataset_files(local)
    assert sorted(files) == [f"draw={d}/part-0000{k}.parquet" for d in range(3) for k in range(3)]
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            # Workers import populace afresh: CHUNK must reach them as the same value.
            client.run(lambda: setattr(__import__("populace.inference.generate", fromlist=["CHUNK"]), "CHUNK", 400))
            remote, _ = write_personas_dataset(simulated_fit, tmp_path / "remote", 1000, draws=3, seed=4, client=client)
    other = _dataset_files(remote)
    assert sorted(other) == sorted(files)
    for name in files:
        pd.testing.assert_frame_equal(other[name], files[name])
    # The dataset reads back with its partition column, and matches the one-file output.
    back = pd.read_parquet(local)
    one = to_frame(sample_personas(simulated_fit, 1000, draws=3, seed=4))
    assert len(back) == 3000 and sorted(back["draw"].astype(int).unique()) == [0, 1, 2]
    for d in range(3):
        a = back[back["draw"].astype(int) == d]["age"].astype(str).to_numpy()
        b = one[one["draw"] == d]["age"].astype(str).to_numpy()
        assert (a == b).all()


def test_every_draw_records_its_approximations_in_memory_and_in_the_streamed_file(simulated_fit, personas, tmp_path):
    """Per draw: the stick-breaking mass the truncation dropped (random, so it differs between
    draws, and small), the raking sweeps, the margin solvers' gap; the streamed file records
    the same in its footer."""
    from populace.inference import write_personas
    from populace.models.copula import MARGIN_GAP_TOL
    from populace.personas import read_metadata

    a = personas.attrs
    dropped = np.array(a["stick_breaking_dropped_mass"])
    assert dropped.shape == (DRAWS,) and len(np.unique(dropped)) == DRAWS
    # E[dropped] <= atoms.TAIL (1e-6), so by Markov P(dropped > 1e-3) <= 1e-3 per draw
    assert ((dropped >= 0) & (dropped < 1e-3)).all() and a["stick_breaking_dropped_mass_max"] == dropped.max()
    assert len(a["raking_sweeps"]) == DRAWS and min(a["raking_sweeps"]) >= 1
    assert a["draws_not_raked_to_convergence"] == 0
    assert max(a["margin_gap"]) <= MARGIN_GAP_TOL
    path, _ = write_personas(simulated_fit, tmp_path / "p.parquet", N, draws=DRAWS, seed=5)
    meta = read_metadata(path)
    for key in ("stick_breaking_dropped_mass", "raking_sweeps", "margin_gap", "pair_gap", "draws_not_raked_to_convergence"):
        assert meta[key] == a[key], key
    assert "study" in meta
    # Which census tables and surveys each attribute came from, for every attribute.
    assert list(json.loads(meta["provenance"])) == [a["name"] for a in json.loads(meta["study"])["attributes"]]


def test_draws_do_not_share_randomness(personas):
    """Each posterior draw's personas use their own seed (seed, draw, chunk). Two draws with
    independent randomness agree on a whole persona at position i with probability
    q = sum_c f_a(c) f_b(c) (f the draws' cell shares); a shared seed makes them agree far
    more often (the records are in cell order, so the same uniforms pick the same cells).
    Binomial z below 4.5 for each consecutive pair."""
    codes = np.stack([personas[name].values for name in personas.data_vars], axis=-1).astype(np.int64)
    shape = tuple(int(codes[..., j].max()) + 1 for j in range(codes.shape[-1]))
    cells = np.ravel_multi_index(np.moveaxis(codes, -1, 0), shape)  # (draw, persona)
    for d in range(DRAWS - 1):
        a, b = cells[d], cells[d + 1]
        f_a = np.bincount(a, minlength=int(np.prod(shape))) / N
        f_b = np.bincount(b, minlength=int(np.prod(shape))) / N
        q = float(f_a @ f_b)
        agree = int((a == b).sum())
        assert (agree - N * q) / np.sqrt(N * q * (1 - q)) < 4.5, (d, agree, N * q)
