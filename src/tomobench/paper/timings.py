"""Table 7: training and inference wall time, CPU time and peak memory per method, from
Snakemake ``benchmark:`` TSVs.

A benchmark TSV has one row per repeat with the wall time in column ``s``, the CPU time of the
job's processes in ``cpu_time`` (s) and their peak resident memory in ``max_rss`` (MB); repeats
are averaged, files summed (inference = every pick job of the method's test tomograms, plus
template matching for the template-matching kinds; training = the method's training job); the
peak memory is the largest of any of the method's jobs. External pickers (``kind: command``)
are timed like built-in ones: their train and pick jobs run the command alone.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from tomobench.errors import InputError
from tomobench.paper import published


def _read_benchmark(path: str | os.PathLike) -> pd.DataFrame:
    path = Path(path)
    try:
        frame = pd.read_csv(path, sep="\t")
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise InputError(f"{path}: cannot read benchmark TSV ({error})") from error
    if "s" not in frame.columns or frame.empty:
        raise InputError(f"{path}: benchmark TSV without an 's' column or rows")
    return frame


def benchmark_seconds(path: str | os.PathLike) -> float:
    """Mean wall time (s) of a Snakemake benchmark TSV."""
    return float(_read_benchmark(path)["s"].mean())


def _benchmark_column(path: str | os.PathLike, column: str) -> float:
    """Mean of one column of a benchmark TSV (NaN when absent or not measured, e.g. "NA" or
    "-" for a job too short to sample)."""
    frame = _read_benchmark(path)
    if column not in frame.columns:
        return math.nan
    values = pd.to_numeric(frame[column], errors="coerce")
    return float(values.mean()) if values.notna().any() else math.nan


def _nan_sum(values: list[float]) -> float:
    known = [v for v in values if not math.isnan(v)]
    return float(sum(known)) if known else math.nan


def cpu_seconds(paths: Sequence[str | os.PathLike]) -> float:
    """Summed CPU time (s) of benchmark TSVs (NaN when none has one)."""
    return _nan_sum([_benchmark_column(p, "cpu_time") for p in paths])


def peak_memory_mb(paths: Sequence[str | os.PathLike]) -> float:
    """Largest peak resident memory (MB) of benchmark TSVs (NaN when none has one)."""
    values = [v for v in (_benchmark_column(p, "max_rss") for p in paths) if not math.isnan(v)]
    return float(max(values)) if values else math.nan


def total_seconds(paths: Sequence[str | os.PathLike]) -> float:
    """Sum of :func:`benchmark_seconds` (NaN when there are no files: not applicable)."""
    return float(sum(benchmark_seconds(p) for p in paths)) if paths else math.nan


def format_duration(seconds: float | None) -> str:
    """``"300h"``, ``"2h 6m"``, ``"20m"``, ``"3m 4s"``, ``"12.3s"``; ``"N/A"`` for NaN/None."""
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return "N/A"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    parts = [f"{hours}h"] if hours else []
    if minutes or (hours and secs):
        parts.append(f"{minutes}m")
    if secs and not hours:
        parts.append(f"{secs}s")
    return " ".join(parts)


def timing_table(training: Mapping[str, Sequence[str]],
                 inference: Mapping[str, Sequence[str]]) -> pd.DataFrame:
    """Table 7: ``{method: [benchmark TSVs]}`` for each stage → per-method durations.

    Returns
    -------
    DataFrame
        Index ``Method``; columns ``Training stage``, ``Inference stage`` (formatted wall
        time), ``Training (s)``, ``Inference (s)`` (wall), ``Training CPU (s)``,
        ``Inference CPU (s)`` and ``Peak memory (MB)`` (largest of any of its jobs).
    """
    rows = {}
    for method in inference:
        train_files, infer_files = list(training.get(method, [])), list(inference[method])
        train_s = total_seconds(train_files)
        infer_s = total_seconds(infer_files)
        rows[method] = {"Training stage": format_duration(train_s),
                        "Inference stage": format_duration(infer_s),
                        "Training (s)": train_s, "Inference (s)": infer_s,
                        "Training CPU (s)": cpu_seconds(train_files),
                        "Inference CPU (s)": cpu_seconds(infer_files),
                        "Peak memory (MB)": peak_memory_mb(train_files + infer_files)}
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "Method"
    return frame


def published_timings() -> pd.DataFrame:
    """Table 7 of the paper, in the same layout as :func:`timing_table`."""
    rows = {}
    for method, (train, infer) in published.TABLE7_TIMINGS.items():
        train_s, infer_s = published.duration_seconds(train), published.duration_seconds(infer)
        rows[method] = {"Training stage": train or "–", "Inference stage": infer or "–",
                        "Training (s)": math.nan if train_s is None else train_s,
                        "Inference (s)": math.nan if infer_s is None else infer_s}
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "Method"
    return frame
