"""Reading and writing MRC volumes with their voxel size (nm in the API, Å in the file)."""

from __future__ import annotations

import os
from pathlib import Path

import mrcfile
import numpy as np

from tomobench.atomic import atomic_path
from tomobench.errors import InputError

_WRITABLE_DTYPES = (np.int8, np.int16, np.uint16, np.float32, np.complex64, np.uint8)


def read_mrc(path: str | os.PathLike, *, mmap: bool = False) -> tuple[np.ndarray, float]:
    """Read an MRC file.

    Returns
    -------
    data : ndarray
        ``(z, y, x)`` volume (or ``(section, y, x)`` stack), in the file's dtype.
    voxel_size_nm : float
        Voxel size along x in nm (the file stores Å).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: MRC file not found")
    try:
        if mmap:
            handle = mrcfile.mmap(path, mode="r", permissive=False)
            data = handle.data
            voxel_size_nm = float(handle.voxel_size.x) / 10.0
        else:
            with mrcfile.open(path, mode="r", permissive=False) as handle:
                data = np.array(handle.data)
                voxel_size_nm = float(handle.voxel_size.x) / 10.0
    except (ValueError, OSError) as error:
        raise InputError(f"{path}: not a valid MRC file ({error})") from error
    return data, voxel_size_nm


def write_mrc(path: str | os.PathLike, data: np.ndarray, voxel_size_nm: float, *,
              image_stack: bool = False) -> None:
    """Write ``data`` (``(z, y, x)``) to ``path`` atomically with the given voxel size in nm.

    float64/complex128 are stored as float32/complex64; bool as int8. ``image_stack=True``
    marks a ``(section, y, x)`` stack of 2-D images (a tilt series) as MRC2014 asks: space
    group ``ispg = 0`` and ``mz = 1`` (a volume has ``ispg = 1``, ``mz = nz``).
    """
    path = Path(path)
    data = np.asarray(data)
    if data.dtype == np.float64:
        data = data.astype(np.float32)
    elif data.dtype == np.complex128:
        data = data.astype(np.complex64)
    elif data.dtype == bool:
        data = data.astype(np.int8)
    elif data.dtype == np.int32 or data.dtype == np.int64:
        if data.size and (data.min() < -32768 or data.max() > 32767):
            data = data.astype(np.float32)
        else:
            data = data.astype(np.int16)
    if data.dtype.type not in _WRITABLE_DTYPES:
        raise TypeError(f"cannot write dtype {data.dtype} to MRC")
    if not voxel_size_nm > 0:
        raise ValueError(f"voxel_size_nm must be positive, got {voxel_size_nm}")
    with atomic_path(path) as tmp, mrcfile.new(tmp, overwrite=True) as handle:
        handle.set_data(np.ascontiguousarray(data))
        if image_stack:
            handle.set_image_stack()
        handle.voxel_size = float(voxel_size_nm) * 10.0
        # No timestamp in the header: identical inputs give byte-identical files.
        handle.header.label[0] = b"tomobench".ljust(80)
        handle.header.nlabl = 1
