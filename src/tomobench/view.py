"""``tomobench view``: a tomogram of a run with its ground truth and any method's picks, in napari.

The layers are built as plain Python objects (:class:`LayerSpec`: name, napari layer type, data,
keyword arguments), so they can be checked without a display; :func:`show` hands them to napari
(optional dependency, extra ``view``), imported only there.

Layers, bottom to top, all in the reconstruction's ``(z, y, x)`` voxel frame with the voxel size
as scale (napari then shows nanometres):

- ``<model> reconstruction``: the tomogram (grey, contrast 1st–99th percentile);
- ``class mask``: ``class_mask.mrc`` as labels, each class in its figure colour
  (:mod:`tomobench.paper.style`), hidden at start;
- ``ground truth``: one point per particle of ``particle_locations.txt``, an open circle in the
  class colour, as large as the particle's volume-equivalent sphere;
- ``<method> picks``: one filled diamond per pick, in the colour of its class, with the class
  and score as point features (napari shows them under the cursor).
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tomobench.errors import InputError

#: Install hint printed when napari is missing.
NAPARI_MISSING = ("tomobench view needs napari, an optional dependency: "
                  "pip install 'tomobench[view]' (or: pip install 'napari[all]')")
#: Diameter (nm) drawn for a class without a known size (vesicles, fiducials, unknown names).
DEFAULT_DIAMETER_NM = {"vesicle": 40.0, "fiducial": 10.0}


@dataclass
class LayerSpec:
    """One napari layer: ``viewer.add_<layer_type>(data, name=name, **options)``.

    Attributes
    ----------
    name : layer name shown in napari.
    layer_type : ``image``, ``labels`` or ``points``.
    data : ``(z, y, x)`` volume (image, labels) or ``(n, 3)`` point coordinates ``z, y, x``.
    options : further keyword arguments of the ``add_*`` call (colours, sizes, features...).
    """

    name: str
    layer_type: str
    data: np.ndarray
    options: dict = field(default_factory=dict)


def _model_folder(run: Path, model: int) -> Path:
    folder = Path(run) / "data" / f"model_{model}"
    if not folder.is_dir():
        available = sorted(p.name for p in (Path(run) / "data").glob("model_*"))
        raise InputError(f"{folder}: no such tomogram folder (run has {available or 'none'}; "
                         "give --run results/<name> of a finished run)")
    return folder


def _colours(names) -> np.ndarray:
    """``(n, 4)`` RGBA colours of class names (the figures' palette)."""
    from matplotlib.colors import to_rgba

    from tomobench.paper.style import class_colour

    return np.array([to_rgba(class_colour(name)) for name in names], dtype=float).reshape(-1, 4)


def _diameters_voxels(names, voxel_size_nm: float) -> np.ndarray:
    from tomobench.classes import SPHERE_RADIUS_NM

    return np.array([2.0 * SPHERE_RADIUS_NM[n] if n in SPHERE_RADIUS_NM
                     else DEFAULT_DIAMETER_NM.get(n, 8.0) for n in names],
                    dtype=float) / voxel_size_nm


def _points_zyx(frame) -> np.ndarray:
    return frame[["z", "y", "x"]].to_numpy(dtype=float).reshape(-1, 3)


def tomogram_layer(path: Path, name: str) -> tuple[LayerSpec, float]:
    """The reconstruction as an image layer, and its voxel size (nm)."""
    from tomobench.mrc import read_mrc

    volume, voxel_size_nm = read_mrc(path)
    low, high = np.percentile(volume, [1, 99])
    return LayerSpec(name, "image", volume, {
        "colormap": "gray", "contrast_limits": (float(low), float(high)),
        "scale": (voxel_size_nm,) * 3}), voxel_size_nm


def class_mask_layer(path: Path, voxel_size_nm: float) -> LayerSpec:
    """``class_mask.mrc`` as labels coloured like the figures (background transparent)."""
    from tomobench.classes import SHREC_CLASS_NAMES
    from tomobench.mrc import read_mrc

    labels, _ = read_mrc(path)
    labels = np.asarray(labels).astype(np.int32)
    present = [int(c) for c in np.unique(labels) if 0 < c < len(SHREC_CLASS_NAMES)]
    colours = dict(zip(present, _colours([SHREC_CLASS_NAMES[c] for c in present]),
                       strict=True))
    return LayerSpec("class mask", "labels", labels, {
        "colormap": {None: (0.0, 0.0, 0.0, 0.0), 0: (0.0, 0.0, 0.0, 0.0), **colours},
        "opacity": 0.5, "visible": False, "scale": (voxel_size_nm,) * 3})


def truth_layer(path: Path, voxel_size_nm: float) -> LayerSpec:
    """Ground-truth particles as open circles in their class colours, sphere-sized."""
    from tomobench.particles import read_particle_locations

    truth = read_particle_locations(path)
    names = [str(n) for n in truth["class_name"]]
    return LayerSpec("ground truth", "points", _points_zyx(truth), {
        "features": {"class": names},
        "size": _diameters_voxels(names, voxel_size_nm),
        "face_color": "transparent", "border_color": _colours(names), "border_width": 0.12,
        "symbol": "disc", "scale": (voxel_size_nm,) * 3})


def picks_layer(path: Path, method: str, voxel_size_nm: float) -> LayerSpec:
    """A method's picks as filled diamonds in their class colours, with class and score."""
    from tomobench.particles import read_picks

    picks = read_picks(path)
    names = [str(n) for n in picks["class_name"]]
    scores = (picks["score"].to_numpy(dtype=float) if "score" in picks
              else np.full(len(picks), np.nan))
    return LayerSpec(f"{method} picks", "points", _points_zyx(picks), {
        "features": {"class": names, "score": scores},
        "size": np.full(len(picks), 4.0 / voxel_size_nm) if len(picks) else 4.0,
        "face_color": _colours(names), "border_color": "white", "border_width": 0.1,
        "symbol": "diamond", "scale": (voxel_size_nm,) * 3})


def build_layers(run: str | os.PathLike, model: int, methods: list[str] | None = None
                 ) -> list[LayerSpec]:
    """The layers of ``tomobench view``: tomogram, class mask, ground truth, each method's picks.

    Parameters
    ----------
    run : a run folder ``results/<name>`` (with ``data/`` and ``picks/``).
    model : the tomogram number (``data/model_<model>``).
    methods : methods whose ``picks/<method>/model_<model>.txt`` to show (default: none;
        controls by their folder name, ``oracle``, ``random``).
    """
    run = Path(run)
    folder = _model_folder(run, model)
    for name in ("reconstruction.mrc", "particle_locations.txt"):
        if not (folder / name).is_file():
            raise InputError(f"{folder / name}: not found (the tomogram folder is incomplete)")
    image, voxel_size_nm = tomogram_layer(folder / "reconstruction.mrc",
                                          f"model_{model} reconstruction")
    layers = [image]
    if (folder / "class_mask.mrc").is_file():
        layers.append(class_mask_layer(folder / "class_mask.mrc", voxel_size_nm))
    layers.append(truth_layer(folder / "particle_locations.txt", voxel_size_nm))
    for method in methods or []:
        path = run / "picks" / method / f"model_{model}.txt"
        if not path.is_file():
            known = sorted(p.parent.name for p in (run / "picks").glob(f"*/model_{model}.txt"))
            raise InputError(f"{path}: no picks of method {method!r} on model_{model} "
                             f"(picks exist for: {', '.join(known) or 'none'})")
        layers.append(picks_layer(path, method, voxel_size_nm))
    return layers


def show(layers: list[LayerSpec], *, title: str = "tomobench") -> None:
    """Open a napari window with ``layers`` (blocks until it is closed)."""
    try:
        import napari
    except ImportError:
        raise InputError(NAPARI_MISSING) from None
    viewer = napari.Viewer(title=title)
    add_layers(viewer, layers)
    napari.run()


def add_layers(viewer, layers: list[LayerSpec]) -> list:
    """Add ``layers`` to a napari viewer (or ``napari.components.ViewerModel``)."""
    return [getattr(viewer, f"add_{spec.layer_type}")(spec.data, name=spec.name, **spec.options)
            for spec in layers]


def add_view_parser(commands) -> None:
    """The ``view`` subcommand of the ``tomobench`` CLI."""
    view = commands.add_parser(
        "view", help="open a tomogram with its ground truth and picks in napari",
        description="Open one tomogram of a run in napari (optional dependency: pip install "
                    "'tomobench[view]') with its class mask, its ground-truth particles (open "
                    "circles) and the picks of the given methods (filled diamonds), all in the "
                    "figures' class colours.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    view.add_argument("--run", required=True, type=Path, metavar="DIR", dest="run_dir",
                      help="run folder results/<name>")
    view.add_argument("--model", required=True, type=_model_number, metavar="I",
                      help="tomogram number (data/model_<I>)")
    view.add_argument("--methods", nargs="*", default=[], metavar="METHOD",
                      help="methods whose picks to show (folders of picks/, e.g. TM DeepFinder "
                           "oracle)")
    view.set_defaults(run=run_view)


def _model_number(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a tomogram number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def run_view(args) -> None:
    layers = build_layers(args.run_dir, args.model, args.methods)
    show(layers, title=f"tomobench: {Path(args.run_dir).name} model_{args.model}")
