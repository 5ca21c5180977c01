"""Shared training loop, checkpoints and picking for every learning kind.

Training draws class-balanced patches (``data.PatchSampler``) from the training tomograms,
evaluates the loss on a fixed set of validation patches every ``validation_interval`` steps
and keeps the weights with the lowest validation loss. Batches are drawn from
``rng(seed, "learning", kind, "batch", step)`` and the weights are initialised from
``torch_seed(seed, "learning", kind, "init")``, so a run is reproducible and a resumed run
(from the training-state file written every ``checkpoint_interval`` steps) continues exactly
where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from tomobench.atomic import atomic_path
from tomobench.classes import CLASS_ID
from tomobench.errors import InputError
from tomobench.evaluation.bootstrap import Units, point_estimates
from tomobench.evaluation.shrec import score_picks
from tomobench.evaluation.truth import GroundTruth
from tomobench.methods.learning.data import (
    ClassTable,
    PatchSampler,
    TomogramData,
    bin_tomogram,
    bin_volume,
    class_statistics,
    normalize,
    particle_centres,
    patch_shape_of,
)
from tomobench.methods.learning.inference import sliding_window
from tomobench.methods.learning.postprocess import to_picks
from tomobench.methods.learning.registry import LearningKind, PredictContext, get_kind
from tomobench.progress import Progress
from tomobench.seeding import rng, torch_seed

logger = logging.getLogger(__name__)

#: Activations and weights in (batch, z, y, x, channel) order: 1.3-2x faster 3D convolutions
#: with oneDNN on CPU and cuDNN on GPU; the numbers are the same.
CHANNELS_LAST = torch.channels_last_3d


#: ``training.cpu_precision`` values: fp32, bf16 (autocast; InputError where the CPU lacks
#: native bfloat16), auto (bf16 where the CPU has it, else fp32).
CPU_PRECISIONS = ("fp32", "bf16", "auto")


def cpu_bf16_supported() -> bool:
    """Whether this CPU runs bfloat16 convolutions natively (AVX-512 BF16 or AMX via oneDNN);
    without it bf16 autocast is emulated and slower than fp32."""
    probe = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    amx = getattr(torch.cpu, "_is_amx_tile_supported", None)
    return bool(torch.backends.mkldnn.is_available() and (
        (probe is not None and probe()) or (amx is not None and amx())))


def resolve_precision(params: dict, device: torch.device) -> str:
    """``"bf16"`` or ``"fp32"``: the autocast dtype of a run on ``device`` (CUDA:
    ``mixed_precision``; CPU: ``cpu_precision``)."""
    if device.type == "cuda":
        return "bf16" if bool(params.get("mixed_precision", True)) else "fp32"
    choice = str(params.get("cpu_precision", "fp32"))
    if choice not in CPU_PRECISIONS:
        raise InputError(f"training.cpu_precision must be one of {', '.join(CPU_PRECISIONS)}, "
                         f"got {choice!r}")
    if choice == "bf16" and not cpu_bf16_supported():
        raise InputError("training.cpu_precision: bf16 asked for but this CPU has no native "
                         "bfloat16 (AVX-512 BF16 / AMX); use fp32 or auto")
    if choice == "auto":
        return "bf16" if cpu_bf16_supported() else "fp32"
    return choice


def compute_path(precision: str, device: torch.device) -> dict:
    """What ran, for ``training.json``: precision, memory format, torch version, CPU flags."""
    path = {"precision": precision, "memory_format": "channels_last_3d",
            "torch_version": torch.__version__, "device": str(device)}
    if device.type == "cpu":
        path["cpu_capability"] = torch.backends.cpu.get_cpu_capability()
        path["cpu_bf16"] = cpu_bf16_supported()
    return path


def configure_threads(device: torch.device, threads: int) -> None:
    """On CPU use exactly ``threads`` intra-op threads (Snakemake's ``threads``)."""
    if device.type == "cpu" and threads > 0:
        torch.set_num_threads(int(threads))


def save_checkpoint(path: str | os.PathLike, payload: dict) -> None:
    """``torch.save`` ``payload`` (tensors, numbers, strings, lists, dicts) atomically.

    Identical payloads give identical bytes: saved through an open file, the zip archive's
    root folder is torch's fixed ``archive`` rather than the temporary file's random name.
    """
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            torch.save(payload, handle)


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Load a checkpoint weights-only (no pickled code runs); ``InputError`` if unreadable."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: checkpoint not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # corrupt file or foreign pickle content
        raise InputError(f"{path}: not a weights-only tomobench checkpoint ({error})") from error


def build_network(kind: LearningKind, params: dict, n_classes: int, seed: int) -> torch.nn.Module:
    """The kind's network with weights initialised from the seed (global torch RNG untouched)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(torch_seed(seed, "learning", kind.name, "init"))
        return kind.build_network(params, n_classes)


def _to_tensors(batch: dict[str, np.ndarray], device: torch.device) -> dict[str, torch.Tensor]:
    tensors = {}
    for key, value in batch.items():
        tensor = torch.from_numpy(value)
        if key == "segmentation":
            tensor = tensor.long()
        tensor = tensor.to(device, non_blocking=True)
        if tensor.dim() == 5:
            tensor = tensor.contiguous(memory_format=CHANNELS_LAST)
        tensors[key] = tensor
    return tensors


def _fingerprint(kind: str, params: dict, seed: int, data_names: list[str]) -> str:
    text = json.dumps([kind, params, seed, data_names], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def _scheduler(optimizer, params: dict):
    if params["lr_schedule"] == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(
            optimizer, T_max=int(params["steps"]), eta_min=float(params["min_learning_rate"]))
    if params["lr_schedule"] == "constant":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
    raise InputError(f"training.lr_schedule must be constant or cosine, got "
                     f"{params['lr_schedule']!r}")


def sampling_probabilities(stats: dict[str, dict], table: ClassTable, power: float
                           ) -> dict[int, float] | None:
    """Class-draw weights ``median_voxels ** -power`` per class id (None for ``power = 0``:
    uniform); a class without statistics gets the weight of the smallest class."""
    if power == 0:
        return None
    weights = {CLASS_ID[name]: float(s["median_voxels"]) ** -power for name, s in stats.items()
               if s["median_voxels"] > 0}
    fallback = max(weights.values(), default=1.0)
    return {class_id: weights.get(class_id, fallback) for class_id in table.class_ids[1:]}


def _sampler(kind, tomograms, table, params, patch_shape, probabilities=None) -> PatchSampler:
    return PatchSampler(
        inputs=[t.reconstruction for t in tomograms],
        targets=[kind.make_targets(t, table, params) for t in tomograms],
        centres=[particle_centres(t, table) for t in tomograms],
        patch_shape=patch_shape,
        shift_voxels=int(params["shift_voxels"]),
        background_fraction=float(params["background_fraction"]),
        class_probabilities=probabilities,
    )


def _optimise(kind, network, optimisers, batch, params, weights, device, autocast,
              step: int) -> float:
    """One optimiser step on ``batch`` (``optimisers``: optimizer, scheduler, moving average
    or None); returns the loss."""
    optimizer, scheduler, ema = optimisers
    tensors = _to_tensors(batch, device)
    with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=autocast):
        outputs = network(tensors["input"])
    loss, _terms = kind.loss(outputs, tensors, params, weights)
    if not torch.isfinite(loss):
        raise FloatingPointError(f"{kind.name}: non-finite loss at step {step}")
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    scheduler.step()
    if ema is not None:
        ema.update_parameters(network)
    return float(loss.detach())


def _validation_batches(kind, tomograms, table, params, patch_shape, seed,
                        probabilities=None) -> list[dict]:
    """The fixed validation batches (``validation_patches`` patches drawn as the training
    patches are; none without validation tomograms)."""
    if not tomograms:
        return []
    sampler = _sampler(kind, tomograms, table, params, patch_shape, probabilities)
    generator = rng(seed, "learning", kind.name, "validation")
    batch_size = int(params["batch_size"])
    count = math.ceil(int(params["validation_patches"]) / batch_size)
    return [sampler.batch(generator, batch_size) for _ in range(count)]


def _evaluate(network, kind, batches, params, class_weights, device, autocast
              ) -> dict[str, float]:
    """Mean loss of the fixed validation batches and, for kinds with a ``segmentation`` head,
    their macro Dice (:func:`macro_dice` of the arg-max labels over all batches)."""
    network.eval()
    total = 0.0
    predicted, target = [], []
    with torch.no_grad():
        for batch in batches:
            tensors = _to_tensors(batch, device)
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=autocast):
                outputs = network(tensors["input"])
            total += float(kind.loss(outputs, tensors, params, class_weights)[0])
            if "segmentation" in outputs and "segmentation" in tensors:
                predicted.append(outputs["segmentation"].argmax(1).cpu().numpy())
                target.append(tensors["segmentation"].cpu().numpy())
    network.train()
    metrics = {"validation_loss": total / max(1, len(batches))}
    if predicted:
        metrics["validation_dice"] = macro_dice(np.concatenate(predicted),
                                                np.concatenate(target))
    return metrics


#: Validation metrics that can choose the kept weights (``training.select_by``).
SELECTION_METRICS = ("validation_loss", "validation_dice")


def _selection_score(entry: dict, select_by: str, step: int) -> float:
    """Lower is better: the validation loss, minus the validation Dice, or (without
    validation tomograms) minus the step, so the last weights win."""
    if select_by == "validation_dice" and "validation_dice" in entry:
        return -entry["validation_dice"]
    return entry.get("validation_loss", -step)


def _entry_at(history: list[dict], step: int) -> dict:
    return next((entry for entry in history if entry["step"] == step), {})


def macro_dice(predicted: np.ndarray, target: np.ndarray) -> float:
    """Mean Dice over the foreground channels (index > 0) present in ``target``.

    ``predicted`` and ``target`` are integer channel-index arrays of one shape (e.g.
    ``(batch, z, y, x)``); a channel present in ``target`` but never predicted scores 0, so the
    mean rewards finding every class, not just the common ones.
    """
    scores = []
    for channel in np.unique(target):
        if channel == 0:
            continue
        truth, guess = target == channel, predicted == channel
        scores.append(2.0 * np.count_nonzero(truth & guess)
                      / (np.count_nonzero(truth) + np.count_nonzero(guess)))
    return float(np.mean(scores)) if scores else 0.0


def _check_patch(patch_shape, alignment: int, key: str) -> None:
    if any(p % alignment for p in patch_shape):
        raise InputError(f"{key}: {list(patch_shape)} must be a multiple of {alignment} "
                         "(2 ** number of poolings)")


def check_method_parameters(kind_name: str, training: dict | None, inference: dict | None,
                            where: str) -> None:
    """Check a learning method's config before any job runs: known kind and keys, training
    and inference patch sizes multiples of the network's alignment. ``where`` is the config
    key of the method (``methods.<name>``) that the ``InputError`` names."""
    kind = get_kind(kind_name)
    params = kind.training_params(training, f"{where}.training")
    inference_params = kind.inference_params(inference, f"{where}.inference")
    alignment = kind.alignment(params)
    for section, value in (("training", params["patch_voxels"]),
                           ("inference", inference_params["patch_voxels"])):
        key = f"{where}.{section}.patch_voxels"
        try:
            shape = patch_shape_of(value)
        except ValueError as error:
            raise InputError(f"{key}: {error}") from None
        _check_patch(shape, alignment, key)
    _check_select_by(params["select_by"], f"{where}.training.select_by")


def _check_select_by(value, key: str) -> None:
    if value not in SELECTION_METRICS:
        raise InputError(f"{key}: {value!r} is not one of {list(SELECTION_METRICS)}")


def class_weights(targets: list[np.ndarray], n_channels: int, power: float, cap: float
                  ) -> np.ndarray:
    """Cross-entropy weight of each output channel from its voxel share in the targets.

    ``w_c = min(cap, (f_0 / f_c) ** power)`` with ``f_c`` the share of channel ``c`` among the
    voxels of the ``(z, y, x)`` channel-index targets (channel 0 = background, weight 1); a
    channel without voxels gets the cap. ``power = 0`` gives equal weights.
    """
    counts = np.zeros(n_channels, dtype=np.float64)
    for target in targets:
        counts += np.bincount(np.asarray(target).ravel(), minlength=n_channels)[:n_channels]
    weights = np.ones(n_channels)
    if power > 0 and counts[0] > 0:
        with np.errstate(divide="ignore"):
            ratio = np.where(counts > 0, counts[0] / np.maximum(counts, 1), np.inf)
        weights = np.minimum(cap, ratio ** power)
        weights[0] = 1.0
    return weights.astype(np.float32)


def _ema(network: torch.nn.Module, decay: float):
    """An exponential moving average of ``network``'s weights and buffers (None when off)."""
    if decay <= 0:
        return None
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    return AveragedModel(network, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)


def train(
    kind_name: str,
    training: dict,
    training_tomograms: list[TomogramData],
    validation_tomograms: list[TomogramData],
    seed: int,
    device: torch.device | str = "cpu",
    threads: int = 1,
    state_path: str | os.PathLike | None = None,
) -> tuple[dict, dict]:
    """Train a learning kind and return ``(checkpoint, report)``.

    Each step draws a class-balanced batch, optimises the kind's loss (cross-entropy terms
    weighted by :func:`class_weights`) and updates the moving average of the weights
    (``ema_decay``); every ``validation_interval`` steps the loss of the fixed validation
    patches (on the averaged weights when ``ema_decay`` > 0) decides the best weights. After
    training, the kind's post-processing is tuned on the validation tomograms
    (:func:`tune_postprocessing`).

    Parameters
    ----------
    kind_name : a registered kind (``deepfinder``, ``mc_ds_net``, ...)
    training : the method's ``training:`` config dict (defaults filled in)
    training_tomograms, validation_tomograms : annotated tomograms (``data.load_tomogram``);
        without validation tomograms the final weights are kept and nothing is tuned.
    state_path : resumable training-state file; resumed when its fingerprint (kind, params,
        seed, tomogram names) matches, deleted after a successful run.

    Returns
    -------
    checkpoint : dict for ``save_checkpoint`` (weights of the best validation step plus the
        kind, params, class table, per-class size statistics, tuned inference parameters and
        the training tomograms' ``voxel_size_nm``); ``report``: JSON-able history
        (``training.json``).
    """
    kind = get_kind(kind_name)
    params = kind.training_params(training)
    _check_select_by(params["select_by"], "training.select_by")
    device = torch.device(device)
    configure_threads(device, threads)
    if not training_tomograms:
        raise InputError("tomograms.training: no training tomograms given")
    table = ClassTable.from_tomograms(training_tomograms + validation_tomograms)
    voxel_size_nm = float(training_tomograms[0].voxel_size_nm)  # before input_binning
    binning = int(params["input_binning"])
    full_validation = validation_tomograms
    training_tomograms = [bin_tomogram(t, binning) for t in training_tomograms]
    validation_tomograms = [bin_tomogram(t, binning) for t in validation_tomograms]
    stats = class_statistics(training_tomograms, table)
    patch_shape = patch_shape_of(params["patch_voxels"])
    _check_patch(patch_shape, kind.alignment(params), "training.patch_voxels")
    probabilities = sampling_probabilities(stats, table, float(params["sampling_size_power"]))
    train_sampler = _sampler(kind, training_tomograms, table, params, patch_shape, probabilities)
    batch_size = int(params["batch_size"])
    validation_batches = _validation_batches(kind, validation_tomograms, table, params,
                                             patch_shape, seed, probabilities)
    # from the class masks, so kinds without a dense segmentation target are weighted alike
    weights = class_weights([table.channel_map(t.class_mask) for t in training_tomograms],
                            len(table.class_ids), float(params["class_weight_power"]),
                            float(params["class_weight_cap"]))
    weights_tensor = torch.from_numpy(weights).to(device)

    network = build_network(kind, params, len(table.class_ids), seed).to(
        device, memory_format=CHANNELS_LAST)
    optimizer = torch.optim.Adam(network.parameters(), lr=float(params["learning_rate"]),
                                 betas=(0.9, 0.999))
    scheduler = _scheduler(optimizer, params)
    ema = _ema(network, float(params["ema_decay"]))
    precision = resolve_precision(params, device)
    autocast = precision == "bf16"
    names = [t.name for t in training_tomograms] + [f"val:{t.name}" for t in
                                                     validation_tomograms]
    fingerprint = _fingerprint(kind.name, params, seed, names)
    state = _resume(state_path, fingerprint, network, optimizer, scheduler, ema)
    step, history = state["step"], state["history"]
    best = state["best"]
    steps = int(params["steps"])
    interval = max(1, int(params["validation_interval"]))
    voxels_per_step = batch_size * int(np.prod(patch_shape))
    logger.info("%s: %d parameters, classes %s, class weights %s, %d steps of %d x %s on %s",
                kind.name, sum(p.numel() for p in network.parameters()), list(table.names),
                np.round(weights, 2).tolist(), steps, batch_size, list(patch_shape), device)
    network.train()
    clock, window_loss, window_steps = time.perf_counter(), 0.0, 0
    progress = Progress("training step", steps, logger, done=step)
    while step < steps:
        batch = train_sampler.batch(rng(seed, "learning", kind.name, "batch", step), batch_size,
                                    params["augment"])
        window_loss += _optimise(kind, network, (optimizer, scheduler, ema), batch, params,
                                 weights_tensor, device, autocast, step)
        step += 1
        window_steps += 1
        progress.step()
        if step % interval == 0 or step == steps:
            evaluated = ema.module if ema is not None else network
            entry = {
                "step": step,
                "epoch": math.ceil(step / interval),
                "training_loss": window_loss / window_steps,
                "learning_rate": optimizer.param_groups[0]["lr"],
            }
            throughput = window_steps * voxels_per_step / max(time.perf_counter() - clock, 1e-9)
            if validation_batches:
                entry.update(_evaluate(evaluated, kind, validation_batches, params,
                                       weights_tensor, device, autocast))
            score = _selection_score(entry, params["select_by"], step)
            if best is None or score < best["score"]:
                best = {"score": score, "step": step, "state_dict": _plain_state(evaluated)}
            history.append(entry)
            logger.info(
                "epoch %d step %d/%d (%.0f %%, %s left) loss %.4f val %s dice %s lr %.2e "
                "throughput %.3g voxels/s", entry["epoch"], step, steps, progress.percent(),
                progress.time_left_text(), entry["training_loss"],
                f"{entry['validation_loss']:.4f}" if "validation_loss" in entry else "n/a",
                f"{entry['validation_dice']:.3f}" if "validation_dice" in entry else "n/a",
                entry["learning_rate"], throughput)
            clock, window_loss, window_steps = time.perf_counter(), 0.0, 0
        if state_path and (step % int(params["checkpoint_interval"]) == 0) and step < steps:
            _save_state(state_path, fingerprint, network, optimizer, scheduler, ema, step,
                        history, best)
    checkpoint = {
        "format": "tomobench-learning-1",
        "kind": kind.name,
        "training": params,
        "seed": int(seed),
        "class_ids": list(table.class_ids),
        "class_names": list(table.names),
        "class_stats": stats,
        "best_step": int(best["step"]),
        "state_dict": best["state_dict"],
        "tuned_inference": {},
        # the tomograms' voxel size: tomobench pick resamples other tomograms to it
        "voxel_size_nm": voxel_size_nm,
    }
    tuning = []
    if validation_tomograms and params["tune_postprocessing"] and kind.tuning_grid:
        checkpoint["tuned_inference"], tuning = tune_postprocessing(
            checkpoint, full_validation, device, threads)
    report = {
        **{key: checkpoint[key] for key in ("kind", "training", "seed", "class_names",
                                            "class_stats", "best_step", "tuned_inference")},
        "class_weights": weights.tolist(),
        "training_tomograms": [t.name for t in training_tomograms],
        "validation_tomograms": [t.name for t in validation_tomograms],
        "parameters": sum(p.numel() for p in network.parameters()),
        "selected_by": params["select_by"] if validation_batches else "last step",
        "best_validation_loss": _entry_at(history, best["step"]).get("validation_loss"),
        "history": history,
        "tuning": tuning,
        # float sums run in another order with another thread count: the learned weights are
        # reproducible at a fixed count (Snakemake's threads of train_learning)
        "torch_threads": torch.get_num_threads(),
        "device": str(device),
        "compute": compute_path(precision, device),
    }
    if state_path:
        Path(state_path).unlink(missing_ok=True)
    return checkpoint, report


def validation_truth(tomogram: TomogramData):
    """The SHREC ground truth of an annotated tomogram (for scoring picks on it)."""
    frame = tomogram.particles
    return GroundTruth(
        class_names=tuple(frame["class_name"]),
        centres_zyx=frame[["z", "y", "x"]].to_numpy(dtype=np.int64).reshape(-1, 3),
        occupancy=tomogram.occupancy,
        z_offset=0,
        volume_shape=tomogram.shape,
        voxel_size_nm=tomogram.voxel_size_nm,
    )


def tune_postprocessing(checkpoint: dict, tomograms: list[TomogramData],
                        device: torch.device | str = "cpu", threads: int = 1
                        ) -> tuple[dict, list[dict]]:
    """Choose the kind's post-processing parameters on annotated (validation) tomograms.

    The network's maps of each tomogram are computed once; every combination of
    ``kind.tuning_grid`` is post-processed and scored (SHREC ``corrected`` mode, counts summed
    over the tomograms) by the mean of the localisation F1 and the mean per-class F1 (over the
    classes present, as Table 4). Ties go to the first combination in grid order.

    Returns ``(best parameters, [{parameters, localization_F1, class_F1, score}, ...])``.
    """
    from itertools import product

    kind = get_kind(checkpoint["kind"])
    table = ClassTable(tuple(checkpoint["class_ids"]))
    base = kind.inference_params({})
    maps = [predict_maps(checkpoint, t.reconstruction, base, device, threads) for t in tomograms]
    truths = [validation_truth(t) for t in tomograms]
    keys = sorted(kind.tuning_grid)
    results = []
    for values in product(*(kind.tuning_grid[k] for k in keys)):
        candidate = dict(zip(keys, values, strict=True))
        params = {**base, **candidate}
        parts = []
        for tomogram_maps, truth in zip(maps, truths, strict=True):
            picks = to_picks(_unbinned(kind.postprocess(
                tomogram_maps, table, checkpoint["class_stats"], params), checkpoint))
            parts.append(Units.from_json(score_picks(truth, picks, mode="corrected")["units"]))
        estimates = point_estimates(Units.concatenate(parts))
        localization_f1 = estimates["F1"]
        per_class = [v for k, v in estimates.items() if k.startswith("class:") and v == v]
        class_f1 = float(np.mean(per_class)) if per_class else 0.0
        results.append({"parameters": candidate, "localization_F1": localization_f1,
                        "class_F1": class_f1, "score": 0.5 * (localization_f1 + class_f1)})
    best = max(results, key=lambda r: r["score"])  # first of equals: grid order
    logger.info("post-processing tuned on %s: %s (localization F1 %.3f, class F1 %.3f)",
                [t.name for t in tomograms], best["parameters"], best["localization_F1"],
                best["class_F1"])
    return best["parameters"], results


def _plain_state(network: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A CPU copy of the weights in the default (contiguous) memory layout."""
    return {k: v.detach().cpu().contiguous().clone() for k, v in network.state_dict().items()}


def _empty_state() -> dict:
    return {"step": 0, "history": [], "best": None}


def _resume(state_path, fingerprint, network, optimizer, scheduler, ema) -> dict:
    if not state_path or not Path(state_path).is_file():
        return _empty_state()
    try:
        state = torch.load(state_path, map_location="cpu", weights_only=True)
    except Exception as error:  # unreadable leftovers: start over
        logger.warning("ignoring unreadable training state %s (%s)", state_path, error)
        return _empty_state()
    if state.get("fingerprint") != fingerprint:
        logger.info("training state %s belongs to another configuration: starting over",
                    state_path)
        return _empty_state()
    network.load_state_dict(state["network"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    if ema is not None:
        ema.load_state_dict(state["ema"])
    logger.info("resuming from %s at step %d", state_path, state["step"])
    return {"step": int(state["step"]), "history": list(state["history"]), "best": state["best"]}


def _save_state(path, fingerprint, network, optimizer, scheduler, ema, step, history,
                best) -> None:
    save_checkpoint(path, {
        "fingerprint": fingerprint,
        "network": network.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "ema": ema.state_dict() if ema is not None else {},
        "step": step,
        "history": history,
        "best": best,
    })


def network_from_checkpoint(checkpoint: dict, device: torch.device | str = "cpu"
                            ) -> tuple[LearningKind, torch.nn.Module]:
    """Rebuild the kind's network and load the checkpoint weights (eval mode)."""
    kind = get_kind(checkpoint["kind"])
    network = kind.build_network(checkpoint["training"], len(checkpoint["class_ids"]))
    network.load_state_dict(checkpoint["state_dict"])
    return kind, network.to(device, memory_format=CHANNELS_LAST).eval()


def predict_maps(checkpoint: dict, volume: np.ndarray, inference: dict,
                 device: torch.device | str = "cpu", threads: int = 1,
                 progress=None) -> dict[str, np.ndarray]:
    """Network output maps for a raw ``(z, y, x)`` tomogram (normalised here): the sliding window,
    or the kind's own ``predict``; ``progress`` is the sliding window's optional
    ``(patches done, patches in all)`` callback."""
    device = torch.device(device)
    configure_threads(device, threads)
    kind, network = network_from_checkpoint(checkpoint, device)
    params = kind.inference_params(inference)
    patch_shape = patch_shape_of(params["patch_voxels"])
    alignment = kind.alignment(checkpoint["training"])
    _check_patch(patch_shape, alignment, "inference.patch_voxels")
    volume = normalize(bin_volume(volume, _input_binning(checkpoint)))

    def window(forward) -> dict[str, np.ndarray]:
        return sliding_window(
            forward, volume, kind.heads, patch_shape,
            overlap=int(params["overlap_voxels"]), margin=int(params["margin_voxels"]),
            alignment=alignment, batch_size=int(params["batch_size"]), device=device,
            autocast=resolve_precision(checkpoint["training"], device) == "bf16",
            progress=progress,
        )

    if kind.predict is None:
        return window(network)
    context = PredictContext(training=checkpoint["training"], seed=int(checkpoint["seed"]),
                             device=device, sliding_window=window)
    return kind.predict(network, volume, params, context)


def inference_parameters(checkpoint: dict, inference: dict | None) -> dict:
    """The kind's inference defaults, overridden by the values tuned on the validation
    tomograms, overridden by the keys the config sets (``inference``)."""
    kind = get_kind(checkpoint["kind"])
    tuned = dict(checkpoint.get("tuned_inference") or {})
    return kind.inference_params({**tuned, **dict(inference or {})})


def pick(checkpoint: dict, volume: np.ndarray, inference: dict,
         device: torch.device | str = "cpu", threads: int = 1, progress=None) -> pd.DataFrame:
    """Picks (``class_name, x, y, z, score``, best score first) in one tomogram (the workflow's
    ``pick_learning`` and ``tomobench pick``); ``progress`` as in :func:`predict_maps`."""
    kind = get_kind(checkpoint["kind"])
    params = inference_parameters(checkpoint, inference)
    maps = predict_maps(checkpoint, volume, params, device, threads, progress)
    table = ClassTable(tuple(checkpoint["class_ids"]))
    frame = kind.postprocess(maps, table, checkpoint["class_stats"], params)
    return to_picks(_unbinned(frame, checkpoint))


def _input_binning(checkpoint: dict) -> int:
    return int(checkpoint["training"].get("input_binning", 1))


def _unbinned(frame: pd.DataFrame, checkpoint: dict) -> pd.DataFrame:
    """Positions ``z, y, x`` of the binned network grid back in tomogram voxels (binned sample
    ``i`` sits at voxel ``binning * i``, see ``data.bin_volume``)."""
    binning = _input_binning(checkpoint)
    if binning == 1 or frame.empty:
        return frame
    return frame.assign(**{axis: frame[axis].to_numpy(dtype=np.float64) * binning
                           for axis in ("z", "y", "x")})
