import numpy as np
import pytest
import xarray as xr

from populace.inference import ConvergenceWarning, check_convergence


def _tree(shift: float, diverging: int) -> xr.DataTree:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 500))
    x[1] += shift  # chain 1 elsewhere
    post = xr.Dataset({"log_concentration": (("chain", "draw"), x)})
    div = np.zeros((2, 500), bool)
    div[0, :diverging] = True
    stats = xr.Dataset({"diverging": (("chain", "draw"), div)})
    return xr.DataTree.from_dict({"posterior": post, "sample_stats": stats})


def test_healthy_chains_pass():
    d = check_convergence(_tree(0.0, 0), warn=False)
    assert d.ok and d.max_rhat < 1.01 and d.divergences == 0


def test_disagreeing_chains_and_divergences_are_explained():
    with pytest.warns(ConvergenceWarning, match="chains disagree"):
        d = check_convergence(_tree(3.0, 7))
    assert d.divergences == 7
    text = d.to_text()
    assert "R-hat" in text and "divergent" in text and "--draws" in text


def _gram_tree(*, shift: bool, slow: bool) -> xr.DataTree:
    """A loading Gram, with its (age, educ) entries 5 sd apart between the chains
    (``shift``), or its (race=Black, race=Black) entry autocorrelated (``slow``: AR(1) at
    0.95, an ESS far below 200 and an R-hat near 1)."""
    rng = np.random.default_rng(1)
    rows = ["age", "educ", "race=Black"]
    g = rng.normal(size=(2, 400, 3, 3))
    g = (g + g.transpose(0, 1, 3, 2)) / 2
    if shift:
        g[1, :, 0, 1] += 5.0
        g[1, :, 1, 0] += 5.0
    if slow:
        for t in range(1, 400):
            g[:, t, 2, 2] = 0.95 * g[:, t - 1, 2, 2] + rng.normal(size=2)
    post = xr.Dataset(
        {"loading_gram": (("chain", "draw", "loading_row", "loading_row_bis"), g)},
        coords={"loading_row": rows, "loading_row_bis": rows},
    )
    stats = xr.Dataset({"diverging": (("chain", "draw"), np.zeros((2, 400), bool))})
    return xr.DataTree.from_dict({"posterior": post, "sample_stats": stats})


def test_an_rhat_problem_names_the_quantity_and_says_what_it_is():
    with pytest.warns(ConvergenceWarning, match=r"R-hat .* on loading_gram\[age, educ\]"):
        d = check_convergence(_gram_tree(shift=True, slow=False))
    assert d.worst_rhat == "loading_gram[age, educ]"
    assert "how age and educ depend on each other through the factors" in d.problems[0]
    assert "(loading_gram[age, educ])" in d.to_text()


def test_an_ess_problem_names_the_quantity_and_says_what_it_is():
    d = check_convergence(_gram_tree(shift=False, slow=True), warn=False)
    assert d.max_rhat < 1.1 and d.worst_ess == "loading_gram[race=Black, race=Black]"
    (problem,) = [p for p in d.problems if p.startswith("effective sample size")]
    assert "how strongly race=Black depends on the latent factors" in problem and "Increase --draws" in problem


def test_a_healthy_fit_still_names_its_worst_quantities():
    d = check_convergence(_tree(0.0, 0), warn=False)
    assert d.ok and d.worst_rhat == "log_concentration" and d.worst_ess == "log_concentration"


def _with_depth_hits(hits: list[int]) -> xr.DataTree:
    """``_tree(0, 0)`` with the first ``hits[c]`` draws of chain ``c`` at nutpie's maximum
    tree depth."""
    tree = _tree(0.0, 0)
    deep = np.zeros((2, 500), bool)
    for c, k in enumerate(hits):
        deep[c, :k] = True
    stats = tree["sample_stats"].to_dataset().assign(maxdepth_reached=(("chain", "draw"), deep))
    return xr.DataTree.from_dict({"posterior": tree["posterior"].to_dataset(), "sample_stats": stats})


def test_a_chain_stuck_at_the_maximum_tree_depth_is_a_problem_that_names_it():
    with pytest.warns(ConvergenceWarning, match=r"maximum tree depth \(chain 1: 500 of 500\)"):
        d = check_convergence(_with_depth_hits([0, 500]))
    assert d.max_depth_draws == 500 and not d.ok and "--tune" in d.problems[-1]


def test_rare_draws_at_the_maximum_tree_depth_only_cost_time():
    d = check_convergence(_with_depth_hits([3, 2]), warn=False)  # 5 of 1,000 draws: under 1 %
    assert d.ok and d.max_depth_draws == 5


def test_a_level_with_a_comma_in_its_name_is_still_explained():
    """Row labels are ``attribute=level`` with the study's own level names, commas included."""
    tree = _gram_tree(shift=True, slow=False)
    rows = ["trust=Yes, always", "educ", "race=Black"]
    tree["posterior"] = tree["posterior"].to_dataset().assign_coords(loading_row=rows, loading_row_bis=rows)
    d = check_convergence(tree, warn=False)
    assert d.worst_rhat == "loading_gram[trust=Yes, always, educ]"
    assert "how trust=Yes, always and educ depend on each other through the factors" in d.problems[0]


def _with_concentration(tree: xr.DataTree) -> xr.DataTree:
    x = np.random.default_rng(2).normal(size=(2, 400))
    post = tree["posterior"].to_dataset().assign(log_concentration=(("chain", "draw"), x))
    return xr.DataTree.from_dict({"posterior": post, "sample_stats": tree["sample_stats"].to_dataset()})


def test_convergence_table_gives_each_quantity_its_worst_entry_and_agrees_with_the_check():
    from populace.inference.diagnostics import convergence_table

    shifted = _with_concentration(_gram_tree(shift=True, slow=False))
    table = convergence_table(shifted).set_index("quantity")
    assert list(table.index) == ["loading_gram", "log_concentration"]  # worst R-hat first
    assert table.loc["loading_gram", "entries"] == 9
    assert table.loc["loading_gram", "at_rhat_max"] == "loading_gram[age, educ]"
    d = check_convergence(shifted, warn=False)
    assert table.loc["loading_gram", "rhat_max"] == d.max_rhat and table["ess_bulk_min"].min() == d.min_ess_bulk
    assert table.loc["log_concentration", "rhat_max"] < 1.01

    slow = convergence_table(_with_concentration(_gram_tree(shift=False, slow=True))).set_index("quantity")
    assert slow.loc["loading_gram", "at_ess_bulk_min"] == "loading_gram[race=Black, race=Black]"
    assert slow.loc["loading_gram", "ess_bulk_min"] < 200 < slow.loc["log_concentration", "ess_bulk_min"]
