#!/usr/bin/env python3
"""A small standalone particle picker, wired into tomobench as ``kind: command``.

It shows the external-picker contract (docs/EXTERNAL_PICKERS.md) end to end and needs only
numpy, scipy and mrcfile (requirements.txt); it does not import tomobench.

    picker.py train MANIFEST   # learns contrast, per-class thresholds and labels
    picker.py pick MANIFEST    # writes SHREC picks to the manifest's output

Method: a size-matched filter per class, ``mean(ball of radius r) - mean(shell r..1.5 r)`` of
the tomogram (sign learned), robust z-scored; candidates are the local maxima of the best
class response at least the smallest radius apart, labelled by the class whose filter
responds most. Training runs the same on the training and validation tomograms and, per
label, keeps the score threshold that maximises hits minus false picks, and relabels each
label by the true class it most often hits.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import mrcfile
import numpy as np
from scipy import ndimage, signal

MODEL_FILE = "picker_model.json"


def read_volume(path: str) -> np.ndarray:
    """An MRC volume as float32 ``(z, y, x)``."""
    with mrcfile.open(path, permissive=True) as handle:
        return np.asarray(handle.data, dtype=np.float32)


def ball(radius: float) -> np.ndarray:
    """Normalised ball kernel of ``radius`` voxels."""
    n = int(np.ceil(radius))
    z, y, x = np.mgrid[-n:n + 1, -n:n + 1, -n:n + 1]
    kernel = (x * x + y * y + z * z <= radius * radius).astype(np.float32)
    return kernel / kernel.sum()


def responses(volume: np.ndarray, radii_vox: list[float], sign: float) -> np.ndarray:
    """Robust z-scored matched-filter responses ``(class, z, y, x)``."""
    volume = sign * (volume - np.median(volume))
    maps = []
    for radius in radii_vox:
        inner = signal.fftconvolve(volume, ball(max(radius, 1.0)), mode="same")
        outer = signal.fftconvolve(volume, ball(max(1.5 * radius, 1.5)), mode="same")
        response = inner - outer
        mad = np.median(np.abs(response - np.median(response))) * 1.4826 or 1.0
        maps.append((response - np.median(response)) / mad)
    return np.stack(maps)


def candidates(maps: np.ndarray, min_distance: float, border: int):
    """Local maxima of the best class response: ``(z, y, x)`` array, label index, score."""
    best = maps.max(axis=0)
    size = max(3, int(2 * min_distance) | 1)
    peaks = (best == ndimage.maximum_filter(best, size=size)) & (best > 0)
    if border:
        inner = np.zeros_like(peaks)
        inner[border:-border or None, border:-border or None, border:-border or None] = True
        peaks &= inner
    zyx = np.argwhere(peaks)
    labels = maps[:, zyx[:, 0], zyx[:, 1], zyx[:, 2]].argmax(axis=0)
    return zyx, labels, best[zyx[:, 0], zyx[:, 1], zyx[:, 2]]


def picking_classes(manifest: dict) -> list[dict]:
    """The classes this picker looks for: proteins and fiducials with a radius."""
    return [c for c in manifest["classes"]
            if c["kind"] in ("protein", "fiducial") and c.get("radius_nm")]


def read_truth(folder: str, names: set[str]):
    """``(z, y, x)`` centres and class names of a training folder's particle_locations.txt."""
    centres, classes = [], []
    for line in Path(folder, "particle_locations.txt").read_text().splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[0] in names:
            centres.append([float(fields[3]), float(fields[2]), float(fields[1])])
            classes.append(fields[0])
    return np.array(centres).reshape(-1, 3), classes


def train(manifest: dict) -> None:
    classes = picking_classes(manifest)
    names = [c["name"] for c in classes]
    folders = [f["folder"] for f in manifest["training"] + manifest["validation"]]
    volumes = [read_volume(str(Path(f, "reconstruction.mrc"))) for f in folders]
    truths = [read_truth(f, set(names)) for f in folders]
    voxel_nm = _voxel_size_nm(str(Path(folders[0], "reconstruction.mrc")))
    radii = [c["radius_nm"] / voxel_nm for c in classes]
    # contrast: particles are where the filter at their own scale responds most
    signs = []
    for volume, (centres, _) in zip(volumes, truths, strict=True):
        response = responses(volume, [float(np.median(radii))], 1.0)[0]
        idx = np.round(centres).astype(int)
        signs.append(float(np.mean(response[idx[:, 0], idx[:, 1], idx[:, 2]])))
    sign = 1.0 if np.mean(signs) >= 0 else -1.0
    found = []  # (label, score, hit class or None)
    for volume, (centres, true_classes) in zip(volumes, truths, strict=True):
        zyx, labels, scores = candidates(responses(volume, radii, sign), min(radii), 2)
        for point, label, score in zip(zyx, labels, scores, strict=True):
            distance = np.linalg.norm(centres - point, axis=1) if len(centres) else np.array([])
            near = [k for k in np.argsort(distance)
                    if distance[k] <= radii[names.index(true_classes[k])]]
            found.append((int(label), float(score), true_classes[near[0]] if near else None))
    thresholds, relabel = {}, {}
    for index, name in enumerate(names):
        # by score only: equal scores keep their order (a hit class may be None)
        mine = sorted(((s, hit) for label, s, hit in found if label == index),
                      key=lambda pair: pair[0])
        # gain of threshold mine[k]: hits minus false picks among mine[k:] (suffix sums); the
        # lowest threshold of the largest positive gain, else none kept (infinite threshold)
        gains = np.cumsum([1 if hit else -1 for _, hit in reversed(mine)])[::-1]
        best_k = int(np.argmax(gains)) if len(mine) else -1
        thresholds[name] = mine[best_k][0] if best_k >= 0 and gains[best_k] > 0 else np.inf
        hits = [hit for _, hit in mine if hit]
        relabel[name] = max(set(hits), key=hits.count) if hits else name
    model = {"sign": sign, "thresholds": thresholds, "relabel": relabel}
    Path(manifest["model_dir"], MODEL_FILE).write_text(json.dumps(model, indent=1) + "\n")
    print(f"trained on {len(folders)} tomograms: {json.dumps(model)}")


def _voxel_size_nm(path: str) -> float:
    with mrcfile.open(path, header_only=True, permissive=True) as handle:
        return float(handle.voxel_size.x) / 10.0


def pick(manifest: dict) -> None:
    model = json.loads(Path(manifest["model_dir"], MODEL_FILE).read_text())
    classes = picking_classes(manifest)
    names = [c["name"] for c in classes]
    lines = []
    for tomogram in manifest["tomograms"]:
        radii = [c["radius_nm"] / tomogram["voxel_size_nm"] for c in classes]
        volume = read_volume(tomogram["path"])
        zyx, labels, scores = candidates(responses(volume, radii, model["sign"]), min(radii), 2)
        order = np.argsort(-scores, kind="stable")
        for k in order:
            name = names[labels[k]]
            if scores[k] >= model["thresholds"][name]:
                z, y, x = (int(v) for v in zyx[k])
                lines.append(f"{model['relabel'][name]} {x} {y} {z} {scores[k]:.4f}\n")
    Path(manifest["output"]).write_text("".join(lines))
    print(f"{len(lines)} picks -> {manifest['output']}")


def main(argv: list[str]) -> int:
    if len(argv) != 3 or argv[1] not in ("train", "pick"):
        print("usage: picker.py train|pick MANIFEST", file=sys.stderr)
        return 2
    manifest = json.loads(Path(argv[2]).read_text())
    (train if argv[1] == "train" else pick)(manifest)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
