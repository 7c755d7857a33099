"""1-D targets: exact densities, fixed draws, KL by quadrature, a user's own column of numbers."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate

from genzoo.data import Toy1DData, toy1d


@pytest.mark.parametrize("name", list(toy1d.TARGETS))
def test_targets_are_normalized_and_splits_fixed(name):
    p = toy1d.target(name)
    lo, hi = p.support()
    total = integrate.quad(lambda y: float(np.exp(np.asarray(p.logpdf(np.array([y])))[0])), lo, hi, limit=500,
                           points=None if math.isinf(lo) or math.isinf(hi) else [0.5 * (lo + hi)])[0]
    assert total == pytest.approx(1.0, abs=1e-6)
    a, b = toy1d.sample_target(name, "test"), toy1d.sample_target(name, "test")
    assert a.shape == (10000,) and np.array_equal(a, b)
    assert not np.array_equal(a[:100], toy1d.sample_target(name, "valid")[:100])


def test_gmm10_entropy_matches_the_published_figure():
    p = toy1d.target("gmm10")
    entropy = -integrate.quad(lambda y: float(p.pdf(np.array([y]))[0] * p.logpdf(np.array([y]))[0]), -2, 2,
                              limit=500, points=toy1d.GMM10_MEANS)[0]
    assert entropy == pytest.approx(-0.5978, abs=5e-4)


def test_kl_is_zero_for_the_target_and_positive_otherwise():
    p = toy1d.target("laplace")
    assert toy1d.kl_divergence("laplace", lambda y: p.logpdf(y)) == pytest.approx(0.0, abs=1e-9)
    from scipy import stats

    q = stats.norm(0, math.sqrt(2))  # the Gaussian with the Laplace's variance
    kl = toy1d.kl_divergence("laplace", lambda y: q.logpdf(y))
    expected = -(1 + math.log(2)) - np.mean(q.logpdf(toy1d.sample_target("laplace", "train")))  # -H(p) - E_p log q
    assert kl == pytest.approx(expected, abs=0.02) and kl > 0


def test_user_columns_from_npy_and_csv(tmp_path):
    values = np.random.RandomState(0).standard_normal(1000)
    np.save(tmp_path / "v.npy", values)
    (tmp_path / "v.csv").write_text("value,other\n" + "\n".join(f"{v},{i}" for i, v in enumerate(values)))
    for name in ("v.npy", "v.csv"):
        config = Toy1DData(target="file", path=str(tmp_path / name))
        splits = {s: config.load(s).images()[:, 0].double().numpy() for s in ("train", "valid", "test")}
        assert [len(v) for v in splits.values()] == [800, 100, 100]
        assert np.allclose(np.sort(np.concatenate(list(splits.values()))), np.sort(values), atol=1e-6)


def test_bad_columns_and_targets(tmp_path):
    np.save(tmp_path / "bad.npy", np.array([1.0, np.nan] * 10))
    with pytest.raises(ValueError, match="NaN or infinite"):
        toy1d.load_column(tmp_path / "bad.npy")  # re-exported by toy1d
    with pytest.raises(ValueError, match="unknown 1-D target"):
        Toy1DData(target="cauchy")
    with pytest.raises(ValueError, match="data.path"):
        Toy1DData(target="file")


def _csv(tmp_path, text, name="v.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, message", [
    ("value\n" + "\n".join(map(str, range(20))) + "\noops\n", r"row 22: 'oops' is not a number"),
    ("1.5\n2.5\nn/a\n" + "\n".join(map(str, range(20))), r"row 3: 'n/a' is not a number"),
    ("a;b\n" + "\n".join(f"{i},5;{i}" for i in range(20)), r"row 2: '0,5' has a decimal comma"),
    ("1.0\n2.0\n", r"2 values; an 80/10/10 train/valid/test split needs at least 10"),
    ("7\n", r"1 values"),
])
def test_bad_csv_files_name_the_file_and_row(tmp_path, text, message):
    from genzoo.data.columns import load_column

    with pytest.raises(ValueError, match=r"v\.csv.*" + message):
        load_column(_csv(tmp_path, text))


@pytest.mark.parametrize("array, message", [
    (np.zeros((30, 1, 5)), r"shape \(30, 1, 5\); expected one column"),
    (np.zeros((30, 2)), r"shape \(30, 2\)"),
    (np.arange(30) + 1j, "complex values"),
    (np.array(["a"] * 30), "dtype <U1"),
])
def test_bad_npy_files_are_named(tmp_path, array, message):
    from genzoo.data.columns import load_column

    np.save(tmp_path / "v.npy", array)
    with pytest.raises(ValueError, match=message):
        load_column(tmp_path / "v.npy")


def test_semicolon_files_and_a_header_are_read(tmp_path):
    from genzoo.data.columns import load_column

    values = load_column(_csv(tmp_path, "x;y\n" + "\n".join(f"{i}.25;{i}" for i in range(12))))
    assert values.tolist() == [i + 0.25 for i in range(12)]
