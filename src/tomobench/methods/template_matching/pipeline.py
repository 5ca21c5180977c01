"""The template-matching steps the workflow calls: one class × rotation chunk search, and the
TM / TM-F extraction from the searches of all classes.

Search outputs per class and chunk (``match_templates``): ``<PDB>_chunk<c>_scores.mrc``
(float32 best score), ``<PDB>_chunk<c>_angles.mrc`` (best global rotation index; indices
``>= n_rotations`` are the mirrored template) and ``<PDB>_chunk<c>.json`` (everything needed to
extract: statistics, radii, voxel sizes, rotation set). Score maps are at the search voxel size;
search voxel ``j`` samples tomogram voxel ``j × factor``.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pandas as pd

from tomobench.backend import array_module
from tomobench.errors import InputError
from tomobench.fourier import missing_wedge
from tomobench.io import read_json, write_json
from tomobench.methods.kinds import ENTRY_KEYS
from tomobench.methods.log_fiducials import pick_fiducials
from tomobench.methods.template_matching import angles as angle_sets
from tomobench.methods.template_matching.correlation import LocalCorrelation, SearchResult
from tomobench.methods.template_matching.extraction import (
    ClassSearch,
    class_candidates,
    filter_tm_f,
    merge_tm,
)
from tomobench.methods.template_matching.templates import (
    integer_factor,
    make_template,
    mirror,
    prepare_tomogram,
)
from tomobench.mrc import read_mrc, write_mrc

logger = logging.getLogger(__name__)

#: Defaults of the ``template_matching`` config section (the schema fills the same values).
SEARCH_DEFAULTS = {
    "angular_step_deg": 20.0,
    "lowpass_nm": 4.0,
    "missing_wedge": True,
    "mirror": False,
    "rotation_chunks": 1,
    "search_voxel_size_nm": 2.0,
    "defocus_um": 3.65,
    "amplitude_contrast": 0.07,
    "protein_contrast": "dark",
    "mask_margin_nm": 0.0,
    "mask_edge_voxels": 1.0,
}

#: Defaults of the extraction parameters of a ``tm`` / ``tm_f`` method entry.
EXTRACTION_DEFAULTS = {
    "top_n": 1000,
    "threshold": "gaussian_fit",
    "n_sigma": 2.0,
    "false_alarms": 1.0,
    "fixed_threshold": None,
    "exclusion_radius_fraction": 1.0,
    "border_voxels": 0,
    "merge_distance_voxels": 0.0,
    "pick_order": "class_weight",
    "class_order": None,
    "overlap_radius_scale": 1.0,
    "fiducials": True,
    "fiducial_sigma_voxels": 3.0,
    "fiducial_threshold_sigma": 10.0,
    "fiducial_contrast_ratio": 3.0,
    "fiducial_max_count": None,
}


def _settings(given: dict, defaults: dict, section: str) -> dict:
    """``defaults`` overlaid with ``given`` (a method entry's ``kind`` and ``paper_name`` are
    ignored); ``InputError`` naming ``section`` for an unknown key."""
    given = {k: v for k, v in given.items() if k not in ENTRY_KEYS}
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise InputError(f"{section}: unknown keys {unknown}; known: {sorted(defaults)}")
    return {**defaults, **given}


def extraction_settings(kind: str, params: dict, where: str | None = None) -> dict:
    """The extraction parameters of a ``tm`` / ``tm_f`` method entry over
    :data:`EXTRACTION_DEFAULTS` (``InputError`` naming ``where`` for another kind or an
    unknown key)."""
    if kind not in ("tm", "tm_f"):
        raise InputError(f"template-matching extraction kind must be tm or tm_f, got {kind!r}")
    return _settings(params, EXTRACTION_DEFAULTS, where or f"methods.<{kind}>")


def search_class(tomogram: np.ndarray, tomogram_voxel_nm: float, potential: np.ndarray,
                 potential_voxel_nm: float, acquisition: dict, settings: dict, *,
                 chunk: int = 0, device: str = "auto", threads: int = 1
                 ) -> tuple[SearchResult, dict]:
    """Search one class (one rotation chunk) in one tomogram.

    Parameters
    ----------
    tomogram : ``(z, y, x)`` reconstruction at ``tomogram_voxel_nm``.
    potential : ``(n, n, n)`` real potential at ``potential_voxel_nm``, centred at ``n // 2``.
    acquisition : from ``tomobench.io.read_acquisition``.
    settings : the ``template_matching`` config section.

    Returns
    -------
    The search result and a JSON-ready description of the search.
    """
    settings = _settings(settings, SEARCH_DEFAULTS, "template_matching")
    search_voxel_nm = float(settings["search_voxel_size_nm"] or tomogram_voxel_nm)
    factor = integer_factor(search_voxel_nm, tomogram_voxel_nm,
                            "template_matching.search_voxel_size_nm")
    search_voxel_nm = factor * tomogram_voxel_nm
    defocus_um = settings["defocus_um"]
    defocus_um = acquisition["defocus_um"] if defocus_um is None else float(defocus_um)
    template = make_template(
        potential, potential_voxel_nm, search_voxel_nm,
        defocus_um=defocus_um, voltage_kv=acquisition["voltage_kv"],
        spherical_aberration_mm=acquisition["spherical_aberration_mm"],
        amplitude_contrast=settings["amplitude_contrast"], lowpass_nm=settings["lowpass_nm"],
        protein_contrast=settings["protein_contrast"], mask_margin_nm=settings["mask_margin_nm"],
        mask_edge_voxels=settings["mask_edge_voxels"],
    )
    volume = prepare_tomogram(tomogram, factor, search_voxel_nm, settings["lowpass_nm"], threads)
    rotations = angle_sets.uniform_rotations(settings["angular_step_deg"])
    indices = angle_sets.chunk_indices(len(rotations), settings["rotation_chunks"], chunk)
    templates = [template.volume] + ([mirror(template.volume)] if settings["mirror"] else [])
    global_indices = np.array([indices + t * len(rotations) for t in range(len(templates))])
    wedge = (missing_wedge(template.volume.shape, acquisition["tilt_range_deg"])
             if settings["missing_wedge"] else None)
    xp = array_module(device)
    logger.info("search chunk %d: volume %s at %.3g nm, template box %d, %d rotations x %d "
                "templates on %s", chunk, volume.shape, search_voxel_nm,
                template.volume.shape[0], len(indices), len(templates), xp.__name__)
    engine = LocalCorrelation(volume, template.mask, xp=xp, workers=threads)
    result = engine.search(templates, rotations[indices], indices=global_indices, wedge=wedge)
    logger.info("searched %d rotations in %.1f s (%.2f ms each); score mean %.4f std %.4f",
                result.rotations, result.seconds, 1e3 * result.seconds / max(result.rotations, 1),
                result.score_mean, result.score_std)
    description = {
        "chunk": chunk,
        "rotation_chunks": settings["rotation_chunks"],
        "rotation_index_range": [int(indices[0]), int(indices[-1]) + 1] if len(indices) else [0, 0],
        "n_rotations": len(rotations),
        "angular_step_deg": float(settings["angular_step_deg"]),
        "mirror": bool(settings["mirror"]),
        "search_voxel_size_nm": search_voxel_nm,
        "tomogram_voxel_size_nm": float(tomogram_voxel_nm),
        "factor": factor,
        "search_shape": list(volume.shape),
        "defocus_um": defocus_um,
        "template_box": int(template.volume.shape[0]),
        "mask_radius_nm": template.mask_radius_nm,
        "particle_radius_nm": template.particle_radius_nm,
        "enclosing_radius_nm": template.enclosing_radius_nm,
        "score_mean": result.score_mean,
        "score_std": result.score_std,
        "score_count": result.score_count,
        "rotations_searched": result.rotations,
        "device": xp.__name__,
    }
    return result, description


def write_search(result: SearchResult, description: dict, scores_path, angles_path, json_path,
                 class_name: str) -> None:
    """Write the score map, angle-index map and description of one search (atomically)."""
    voxel = description["search_voxel_size_nm"]
    write_mrc(scores_path, result.scores, voxel)
    write_mrc(angles_path, result.angles.astype(np.float32)
              if result.angles.max(initial=0) > 32767 else result.angles.astype(np.int16), voxel)
    write_json(json_path, {"class_name": class_name, **description})


def load_class_search(json_paths: list[str | Path], scores_paths: list[str | Path],
                      angles_paths: list[str | Path]) -> ClassSearch:
    """Merge the rotation chunks of one class: maximum score, its rotation, pooled statistics."""
    descriptions = [read_json(p, "template-matching search description") for p in json_paths]
    names = {d["class_name"] for d in descriptions}
    if len(names) != 1:
        raise InputError(f"{json_paths}: searches of different classes {sorted(names)} merged")
    scores = angles = None
    total = total_sq = count = 0.0
    for description, score_path, angle_path in zip(descriptions, scores_paths, angles_paths,
                                                   strict=True):
        chunk_scores, _ = read_mrc(score_path)
        chunk_angles, _ = read_mrc(angle_path)
        if scores is None:
            scores, angles = chunk_scores.astype(np.float32), chunk_angles.astype(np.int32)
        else:
            better = chunk_scores > scores
            scores[better] = chunk_scores[better]
            angles[better] = chunk_angles[better]
        n = description["score_count"]
        total += description["score_mean"] * n
        total_sq += (description["score_std"] ** 2 + description["score_mean"] ** 2) * n
        count += n
    mean = total / count
    first = descriptions[0]
    templates = 2 if first["mirror"] else 1
    return ClassSearch(
        class_name=first["class_name"],
        scores=scores,
        angles=angles,
        score_mean=float(mean),
        score_std=float(math.sqrt(max(total_sq / count - mean**2, 0.0))),
        search_space=int(np.prod(first["search_shape"])) * first["n_rotations"] * templates,
        factor=int(first["factor"]),
        particle_radius_nm=float(first["particle_radius_nm"]),
        mask_radius_nm=float(first["mask_radius_nm"]),
        search_voxel_nm=float(first["search_voxel_size_nm"]),
    )


def extract_picks(searches: list[ClassSearch], tomogram: np.ndarray | None, kind: str,
                  params: dict) -> tuple[pd.DataFrame, dict]:
    """TM (``kind="tm"``) or TM-F (``kind="tm_f"``) picks from the class searches.

    ``tomogram`` (``(z, y, x)``, the reconstruction) is used for the LoG fiducials when
    ``params["fiducials"]``. Returns the picks (``class_name, x, y, z, score`` in tomogram
    voxels) and a per-class report of the thresholds.
    """
    params = extraction_settings(kind, params)
    candidates, report = [], {}
    for search in searches:
        frame, info = class_candidates(
            search, top_n=int(params["top_n"]),
            exclusion_radius_fraction=params["exclusion_radius_fraction"],
            threshold=params["threshold"], n_sigma=params["n_sigma"],
            false_alarms=params["false_alarms"], fixed_threshold=params["fixed_threshold"],
            border_voxels=int(params["border_voxels"]),
        )
        candidates.append(frame)
        report[search.class_name] = info
    if params["fiducials"]:
        if tomogram is None:
            raise InputError("fiducial picking needs the reconstruction")
        fiducials = pick_fiducials(tomogram, params["fiducial_sigma_voxels"],
                                   params["fiducial_threshold_sigma"],
                                   max_count=params["fiducial_max_count"],
                                   contrast_ratio=params["fiducial_contrast_ratio"])
        candidates.append(fiducials.assign(angle_index=-1))
        report["fiducial"] = {"accepted": int(len(fiducials))}
    if kind == "tm":
        picks = merge_tm(candidates, params["merge_distance_voxels"], params["pick_order"])
    else:
        picks = filter_tm_f(candidates, params["class_order"], params["overlap_radius_scale"])
    report["picks_per_class"] = picks["class_name"].value_counts().sort_index().to_dict()
    return picks, report
