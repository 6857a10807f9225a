"""Rebuild ``animals.npz`` from the ``animal-mnist`` wheel (MIT, © 2025 SinaSR-6; see LICENSE-animal-mnist).

    pip download animal-mnist==0.4 --no-deps -d /tmp/am && python make_animals.py /tmp/am/animal_mnist-0.4-py3-none-any.whl

The wheel stores its images as gzipped pickles and depends on tensorflow only for
loaders we do not use, so it is read here, once, with an unpickler that admits
nothing but numpy arrays. Exact duplicate images (284 of 10,000) are dropped,
keeping the first, so that no image lands in both a training and a test part;
an image that appears under two labels would be dropped altogether.
"""
from __future__ import annotations

import gzip
import pickle
import sys
import zipfile
from pathlib import Path

import numpy as np

_NUMPY_ONLY = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype")}


class _NumpyUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) not in _NUMPY_ONLY:
            raise pickle.UnpicklingError(f"refusing {module}.{name}: only numpy arrays are expected")
        return super().find_class(module, name)


def read_wheel(wheel: Path) -> tuple[np.ndarray, np.ndarray]:
    folder = "animal_mnist/data/Animal_MNIST/"
    with zipfile.ZipFile(wheel) as z:
        load = lambda name: np.asarray(_NumpyUnpickler(gzip.open(z.open(folder + name))).load())  # noqa: E731
        return load("animal_data_version_3.gz"), load("animal_label_version_3.gz")


def deduplicate(images: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    first: dict[bytes, int] = {}
    conflicting: set[bytes] = set()
    for i, img in enumerate(images):
        key = img.tobytes()
        if key in first and labels[first[key]] != labels[i]:
            conflicting.add(key)
        first.setdefault(key, i)
    keep = sorted(i for key, i in first.items() if key not in conflicting)
    return images[keep], labels[keep]


def main(wheel: str) -> None:
    images, labels = read_wheel(Path(wheel))
    if images.shape[1:] != (28, 28) or images.dtype != np.uint8 or len(images) != len(labels):
        raise SystemExit(f"unexpected contents: images {images.shape} {images.dtype}, {len(labels)} labels")
    images, labels = deduplicate(images, labels)
    out = Path(__file__).with_name("animals.npz")
    np.savez_compressed(out, images=images, labels=labels.astype(np.uint8))
    print(f"wrote {out}: {len(images)} distinct images, per class {np.bincount(labels).tolist()}")


if __name__ == "__main__":
    main(*sys.argv[1:])
