"""Control submissions every benchmark table carries: the oracle and chance.

- ``oracle``: the ground truth itself (every scored particle's class at its listed centre).
  It must score 1 everywhere; :func:`check_oracle` fails loudly when it does not, because then
  the ground truth (occupancy mask vs particle list) is inconsistent and no number of the
  benchmark can be trusted.
- ``random``: as many picks as there are scored particles, at uniformly random voxels of the
  ice slab, with classes drawn from the scored particles' class frequencies: the chance level
  of every metric. :func:`random_chance_level` gives its expected localisation numbers.

Scored particles are those the SHREC evaluation scores: all but vesicles and 4V94.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tomobench.classes import EXCLUDED_CLASSES
from tomobench.errors import InputError
from tomobench.evaluation.truth import GroundTruth

CONTROLS = ("oracle", "random")


def control_label(name: str) -> str:
    """How a control is named in tables and figures: ``"oracle (control)"``."""
    return f"{name} (control)"


def is_control_label(label: str) -> bool:
    return str(label).endswith(" (control)")


def scored_particles(locations: pd.DataFrame) -> pd.DataFrame:
    """Rows of a ``particle_locations`` frame that the evaluation scores."""
    return locations[~locations["class_name"].isin(EXCLUDED_CLASSES)]


def oracle_picks(locations: pd.DataFrame) -> pd.DataFrame:
    """Picks ``class_name, x, y, z, score`` at every scored particle's listed centre."""
    truth = scored_particles(locations)
    return pd.DataFrame({"class_name": truth["class_name"].to_numpy(),
                         "x": truth["x"].to_numpy(float), "y": truth["y"].to_numpy(float),
                         "z": truth["z"].to_numpy(float), "score": 1.0})


def random_picks(locations: pd.DataFrame, volume_shape_zyx: tuple[int, int, int],
                 slab_z: tuple[int, int], rng: np.random.Generator) -> pd.DataFrame:
    """Chance picks: one per scored particle, uniform over the voxels of the ice slab.

    Parameters
    ----------
    volume_shape_zyx : the tomogram shape ``(z, y, x)``.
    slab_z : ``(first, last + 1)`` z range of the ice slab in the tomogram.
    """
    truth = scored_particles(locations)
    count = len(truth)
    z0, z1 = slab_z
    if not 0 <= z0 < z1 <= volume_shape_zyx[0]:
        raise InputError(f"ice slab z {slab_z} outside the volume of depth {volume_shape_zyx[0]}")
    names = truth["class_name"].to_numpy()
    return pd.DataFrame({
        "class_name": names[rng.integers(0, count, size=count)] if count else names,
        "x": rng.integers(0, volume_shape_zyx[2], size=count).astype(float),
        "y": rng.integers(0, volume_shape_zyx[1], size=count).astype(float),
        "z": rng.integers(z0, z1, size=count).astype(float),
        "score": 0.0,
    })


def check_oracle(result: dict, where: str) -> None:
    """Raise ``InputError`` unless the oracle's evaluation ``result`` is perfect.

    Every scored particle found once (TP = scored particles, FN = FP = MH = 0), every class F1
    1 and, in ``corrected`` mode, localisation F1 1. (In ``published`` mode the organisers'
    denominator also counts vesicles, which no submission can find, so its F1 stays below 1
    whenever there are vesicles: quirk Q3.)
    """
    loc = result["localization"]
    problems = []
    scored = sum(1 for unit in result["units"]["scored"] if unit)
    if loc["TP"] != scored or loc["FN"] or loc["FP"] or loc["MH"]:
        problems.append(f"TP {loc['TP']} of {scored} scored particles, FN {loc['FN']}, "
                        f"FP {loc['FP']}, MH {loc['MH']}")
    wrong = {name: s["F1"] for name, s in result["classification"]["per_class"].items()
             if name != "background" and s["support"] and not s["F1"] == 1.0}
    if wrong:
        problems.append("class F1 below 1: " + ", ".join(f"{n} {f:.3f}" for n, f in wrong.items()))
    if result["mode"] == "corrected" and not loc["F1"] == 1.0:
        problems.append(f"localization F1 {loc['F1']:.4f}")
    if problems:
        raise InputError(
            f"{where}: the oracle control (the ground truth submitted as picks) is not perfect "
            f"({'; '.join(problems)}): particle_locations.txt and occupancy_mask.mrc disagree, "
            "so no score of this benchmark can be trusted")


def random_chance_level(truth: GroundTruth, slab_z: tuple[int, int], mode: str) -> dict:
    """Expected localisation numbers of :func:`random_picks` (one pick per scored particle).

    With R picks uniform over the V slab voxels, particle k (dilated region of v_k slab voxels)
    is found with probability ``1 − (1 − v_k / V)^R``; a pick lands on background with
    probability ``V_background / V`` and on an excluded particle otherwise. Returns expected
    ``TP``, ``RR`` and the recall, precision and F1 of those expectations.
    """
    z0, z1 = slab_z
    shape = truth.volume_shape
    zz, yy, xx = np.meshgrid(np.arange(z0, z1), np.arange(shape[1]), np.arange(shape[2]),
                             indexing="ij")
    ids = truth.ids_at(np.stack([zz.ravel(), yy.ravel(), xx.ravel()], axis=1))
    volume = ids.size
    region = np.bincount(ids, minlength=len(truth.class_names) + 1)[1:] / volume
    excluded = np.isin(np.array(truth.class_names, dtype=object), EXCLUDED_CLASSES)
    picks = int(np.count_nonzero(~excluded))
    found = 1.0 - (1.0 - region) ** picks
    tp = float(found[~excluded].sum())
    if mode == "corrected":
        rr = picks * (1.0 - float(region[excluded].sum()))
        n = picks
    else:
        rr = float(picks)
        n = len(truth.class_names) - truth.class_names.count("4V94")
    recall, precision = tp / n, tp / rr
    f1 = 2 * recall * precision / (recall + precision) if tp > 0 else 0.0
    return {"TP": tp, "RR": rr, "recall": recall, "precision": precision, "F1": f1}
