import numpy as np

from populace.ipf import rake_joint


def test_rake_joint_hits_every_table_in_any_axis_order():
    rng = np.random.default_rng(0)
    truth = rng.dirichlet(np.ones(24)).reshape(2, 3, 4)
    start = rng.dirichlet(np.ones(24)).reshape(2, 3, 4)
    tables = [((0,), truth.sum(axis=(1, 2)) * 1000), ((2, 1), truth.sum(axis=0).T * 1000)]
    q = rake_joint(start, tables)
    np.testing.assert_allclose(q.sum(axis=(1, 2)), truth.sum(axis=(1, 2)), atol=1e-9)
    np.testing.assert_allclose(q.sum(axis=0), truth.sum(axis=0), atol=1e-9)


def test_rake_joint_is_identity_when_tables_already_hold():
    rng = np.random.default_rng(1)
    p = rng.dirichlet(np.ones(6)).reshape(2, 3)
    q = rake_joint(p, [((0,), p.sum(axis=1)), ((1,), p.sum(axis=0))])
    np.testing.assert_allclose(q, p, atol=1e-12)


def test_zero_cells_stay_zero():
    p = np.array([[0.5, 0.0], [0.25, 0.25]])
    q = rake_joint(p, [((0,), np.array([1.0, 1.0])), ((1,), np.array([1.0, 1.0]))])
    assert q[0, 1] == 0.0
    np.testing.assert_allclose(q.sum(), 1.0)
