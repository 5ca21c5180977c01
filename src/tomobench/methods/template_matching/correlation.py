"""Fast local normalised cross-correlation (Roseman 2003; PyTom's FLCF) over a rotation set.

For a template ``T`` with soft mask ``M`` (rotation invariant: a sphere) the score at ``x`` is the
``M``-weighted Pearson correlation of ``T`` and the tomogram ``V`` in the window centred at ``x``::

    score(x) = Σ_r K(r) V(x + r) / sqrt(Σ_r M V²(x + r) - (Σ_r M V(x + r))² / Σ M)
    K = M (T - μ_T) / sqrt(Σ M (T - μ_T)²),   μ_T = Σ M T / Σ M

The denominator does not depend on the rotation, so it is computed once per tomogram and mask
from the FFTs of ``V`` and ``V²``; each rotation then costs one forward FFT of the padded
kernel, one spectrum product and one inverse FFT, and the running maximum of the *numerator* is
kept with the index of its rotation (dividing once at the end gives the same maximum).

All arrays are ``(z, y, x)``. The same code runs on numpy/scipy (CPU) or cupy (GPU), picked by
``tomobench.backend.array_module``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from types import ModuleType

import numpy as np
from scipy.spatial.transform import Rotation

from tomobench.backend import to_numpy

logger = logging.getLogger(__name__)


def _fft_module(xp: ModuleType):
    if xp is np:
        import scipy.fft

        return scipy.fft
    import cupyx.scipy.fft

    return cupyx.scipy.fft


def _ndimage_module(xp: ModuleType):
    if xp is np:
        import scipy.ndimage

        return scipy.ndimage
    import cupyx.scipy.ndimage

    return cupyx.scipy.ndimage


def keep_freed_memory_in_heap() -> bool:
    """Ask glibc to serve large blocks from the heap and keep freed ones (process-wide).

    Every rotation allocates a spectrum and a correlation map of the search volume's size; by
    default glibc maps such blocks freshly and unmaps them on free, so each rotation pays page
    faults on ~2 volumes of new memory (about 15 % of the time per rotation at 256³). With
    ``M_MMAP_MAX = 0`` and a huge ``M_TRIM_THRESHOLD`` the freed blocks are reused instead.
    Meant for a worker process (the ``match_templates`` script); returns False where glibc's
    ``mallopt`` is unavailable (nothing changes then).
    """
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        mallopt = ctypes.CDLL(name).mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_max = -1, -4
    return bool(mallopt(m_mmap_max, 0)) and bool(mallopt(m_trim_threshold, 2**31 - 1))


def index_rotation_matrix(rotation: Rotation) -> np.ndarray:
    """Matrix ``A`` with ``rotated[o] = template[A o + offset]`` for ``(z, y, x)`` indices.

    The rotated template is ``T_R(p) = T(Rᵀ p)`` for ``(x, y, z)`` vectors ``p`` about the centre.
    """
    reverse = np.eye(3)[::-1]
    return reverse @ rotation.as_matrix().T @ reverse


@dataclass
class SearchResult:
    """Outcome of a search over one rotation set.

    Attributes
    ----------
    scores : float32 ``(z, y, x)`` best normalised score at each window centre.
    angles : int32 ``(z, y, x)`` index (into the caller's global rotation list) of the best one.
    score_mean, score_std : statistics of *all* scores (every rotation, every ``stats_stride``-th
        voxel along each axis), for false-alarm thresholds.
    score_count : number of values behind the statistics.
    rotations : number of rotations searched.
    seconds : wall time of the rotation loop.
    """

    scores: np.ndarray
    angles: np.ndarray
    score_mean: float
    score_std: float
    score_count: int
    rotations: int
    seconds: float



class LocalCorrelation:
    """FLCF of one tomogram against templates that share one spherical mask.

    Parameters
    ----------
    volume : ``(z, y, x)`` search volume, already filtered and normalised (mean 0, std 1).
    mask : odd cube ``(b, b, b)``, centred at ``b // 2``; must be invariant under rotation.
    xp : numpy or cupy.
    workers : CPU threads for scipy.fft.
    stats_stride : voxel stride of the score statistics.
    """

    def __init__(self, volume, mask, xp: ModuleType = np, workers: int = 1, stats_stride: int = 2):
        self.xp = xp
        self.fft = _fft_module(xp)
        self.ndimage = _ndimage_module(xp)
        self.workers = workers
        self.stats_stride = stats_stride
        self.shape = tuple(int(n) for n in volume.shape)
        mask = np.asarray(mask, dtype=np.float32)
        box = mask.shape[0]
        if mask.shape != (box,) * 3 or box % 2 == 0:
            raise ValueError(f"mask must be an odd cube, got shape {mask.shape}")
        if any(box > n for n in self.shape):
            raise ValueError(f"template box {box} is larger than the search volume {self.shape}")
        self.box = box
        self.mask = xp.asarray(mask)
        self.mask_sum = float(mask.sum())
        volume = xp.asarray(volume, dtype=xp.float32)
        self.volume_spectrum = self._rfftn(volume)
        self.inverse_denominator = self._inverse_denominator(volume)
        stride = (slice(None, None, stats_stride),) * 3
        self._inverse_denominator_strided = xp.ascontiguousarray(self.inverse_denominator[stride])

    def _rfftn(self, array):
        if self.xp is np:
            return self.fft.rfftn(array, workers=self.workers)
        return self.fft.rfftn(array)

    def _irfftn(self, spectrum):
        if self.xp is np:
            return self.fft.irfftn(spectrum, s=self.shape, workers=self.workers, overwrite_x=True)
        return self.fft.irfftn(spectrum, s=self.shape, overwrite_x=True)

    def _padded_rfftn(self, box):
        """rfftn of ``box`` zero-padded (at the end) to the search shape, skipping the 1-D
        transforms of rows that are all zeros (about half the cost of a full rfftn)."""
        nz, ny, nx = self.shape
        options = {"workers": self.workers} if self.xp is np else {}
        spectrum = self.fft.rfft(box, n=nx, axis=2, **options)
        spectrum = self.fft.fft(spectrum, n=ny, axis=1, overwrite_x=True, **options)
        return self.fft.fft(spectrum, n=nz, axis=0, overwrite_x=True, **options)

    def _convolve_kernel(self, kernel_reversed):
        """``Σ_r K(r) V(x + r)`` for all ``x``, from the *reversed* kernel, in the shifted frame."""
        spectrum = self._padded_rfftn(self.xp.ascontiguousarray(kernel_reversed))
        spectrum *= self.volume_spectrum
        return self._irfftn(spectrum)

    def _inverse_denominator(self, volume):
        xp = self.xp
        mask_spectrum = self._padded_rfftn(xp.ascontiguousarray(self.mask[::-1, ::-1, ::-1]))
        local_sum = self._irfftn(mask_spectrum * self.volume_spectrum)
        local_sum_sq = self._irfftn(mask_spectrum * self._rfftn(volume * volume))
        variance = local_sum_sq - local_sum * local_sum / self.mask_sum
        # Windows whose variance is at round-off level (flat or empty regions) score zero.
        floor = 1e-5 * float(xp.median(variance)) + 1e-12
        valid = variance > floor
        inverse = xp.zeros(self.shape, dtype=xp.float32)
        inverse[valid] = 1.0 / xp.sqrt(variance[valid])
        return inverse

    def kernel(self, template, rotation: Rotation | None, wedge=None):
        """Rotated, wedge-weighted, mask-normalised kernel ``K`` of ``template`` (odd cube).

        ``wedge``: rfftn-grid weight of the template box (``tomobench.fourier.missing_wedge``)
        or None.
        """
        xp = self.xp
        template = xp.asarray(template, dtype=xp.float32)
        if rotation is not None:
            matrix = index_rotation_matrix(rotation)
            centre = np.full(3, self.box // 2, dtype=np.float64)
            offset = centre - matrix @ centre
            template = self.ndimage.affine_transform(
                template, xp.asarray(matrix), offset=tuple(offset), order=1, mode="constant",
                cval=0.0, output=xp.float32,
            )
        if wedge is not None:
            box_shape = (self.box,) * 3
            if xp is np:
                spectrum = self.fft.rfftn(template) * wedge
                template = self.fft.irfftn(spectrum, s=box_shape).astype(np.float32)
            else:
                template = self.fft.irfftn(self.fft.rfftn(template) * wedge, s=box_shape)
        mean = (self.mask * template).sum() / self.mask_sum
        kernel = self.mask * (template - mean)
        norm = xp.sqrt((kernel * (template - mean)).sum())
        return kernel / xp.maximum(norm, 1e-30)

    def search(self, templates, rotations: Rotation, indices=None, wedge=None,
               log_every_seconds: float = 30.0) -> SearchResult:
        """Best score and rotation index over ``templates × rotations``.

        Parameters
        ----------
        templates : list of odd cubes (e.g. ``[template]`` or ``[template, mirrored]``).
        rotations : the rotations to search (scipy ``Rotation`` of length n).
        indices : global index of each (template, rotation) pair, shape ``(len(templates), n)``;
            default ``t * n + r``.
        wedge : rfftn-grid wedge weight of the template box, or None.
        """
        xp = self.xp
        n = len(rotations)
        if indices is None:
            indices = np.arange(len(templates) * n).reshape(len(templates), n)
        best = xp.full(self.shape, -xp.inf, dtype=xp.float32)
        best_index = xp.zeros(self.shape, dtype=xp.int32)
        greater = xp.zeros(self.shape, dtype=bool)
        wedge_xp = None if wedge is None else xp.asarray(wedge)
        stride = (slice(None, None, self.stats_stride),) * 3
        total = xp.zeros(2, dtype=xp.float64)
        start = last_log = time.perf_counter()
        for t, template in enumerate(templates):
            template_xp = xp.asarray(template, dtype=xp.float32)
            for r in range(n):
                kernel = self.kernel(template_xp, rotations[r], wedge_xp)
                correlation = self._convolve_kernel(kernel[::-1, ::-1, ::-1])
                xp.greater(correlation, best, out=greater)
                xp.maximum(best, correlation, out=best)
                xp.copyto(best_index, int(indices[t][r]), where=greater)
                sample = correlation[stride] * self._inverse_denominator_strided
                total[0] += sample.sum(dtype=xp.float64)
                total[1] += xp.vdot(sample, sample)
                now = time.perf_counter()
                if now - last_log > log_every_seconds:
                    done = t * n + r + 1
                    logger.info("rotation %d/%d (%.1f ms each)", done, len(templates) * n,
                                1e3 * (now - start) / done)
                    last_log = now
        seconds = time.perf_counter() - start
        scores = best * self.inverse_denominator
        # Undo the shift of the reversed-kernel convolution: window start -> window centre.
        shift = -(self.box // 2)
        scores = xp.roll(scores, (shift, shift, shift), axis=(0, 1, 2))
        best_index = xp.roll(best_index, (shift, shift, shift), axis=(0, 1, 2))
        count = len(templates) * n * int(np.prod(self.inverse_denominator[stride].shape))
        sums = to_numpy(total)
        mean = float(sums[0] / count)
        std = float(np.sqrt(max(sums[1] / count - mean**2, 0.0)))
        return SearchResult(
            scores=to_numpy(scores).astype(np.float32),
            angles=to_numpy(best_index).astype(np.int32),
            score_mean=mean,
            score_std=std,
            score_count=count,
            rotations=len(templates) * n,
            seconds=seconds,
        )


def brute_force_score(volume: np.ndarray, template: np.ndarray, mask: np.ndarray,
                      centre: tuple[int, int, int]) -> float:
    """Direct ``M``-weighted Pearson correlation of ``template`` with the periodic window of
    ``volume`` centred at ``centre`` (the reference the FLCF must reproduce)."""
    box = template.shape[0]
    half = box // 2
    index = [np.arange(c - half, c - half + box) % n
             for c, n in zip(centre, volume.shape, strict=True)]
    window = volume[np.ix_(*index)].astype(np.float64)
    weights = mask.astype(np.float64)
    t = template.astype(np.float64)
    mu_t = (weights * t).sum() / weights.sum()
    mu_v = (weights * window).sum() / weights.sum()
    numerator = (weights * (t - mu_t) * (window - mu_v)).sum()
    variance_t = (weights * (t - mu_t) ** 2).sum()
    variance_v = (weights * (window - mu_v) ** 2).sum()
    denominator = np.sqrt(variance_t * variance_v)
    return float(numerator / denominator)
