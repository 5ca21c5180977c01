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


class MrcVolume:
    """A read-only MRC volume read z-slab by z-slab from the file, never held whole.

    ``volume[z0:z1]`` returns planes ``z0 .. z1 − 1`` as an in-memory ``(k, y, x)`` array (plain
    file reads: unlike a memory map, nothing stays resident). ``shape``, ``dtype`` and
    ``voxel_size_nm`` describe the volume.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        if not self.path.is_file():
            raise InputError(f"{self.path}: MRC file not found")
        try:
            with mrcfile.open(self.path, mode="r", permissive=False, header_only=True) as handle:
                header = handle.header
                self.dtype = mrcfile.utils.data_dtype_from_header(header)
                self.shape = mrcfile.utils.data_shape_from_header(header)
                self.voxel_size_nm = float(handle.voxel_size.x) / 10.0
                self._offset = int(header.nbytes) + int(header.nsymbt)
        except (ValueError, OSError) as error:
            raise InputError(f"{self.path}: not a valid MRC file ({error})") from error
        if len(self.shape) != 3:
            raise InputError(f"{self.path}: expected a volume, got shape {self.shape}")

    def __getitem__(self, planes: slice) -> np.ndarray:
        start, stop, step = planes.indices(self.shape[0])
        if step != 1:
            raise ValueError("MrcVolume reads contiguous z-slabs only")
        plane = self.shape[1] * self.shape[2]
        count = max(stop - start, 0) * plane
        data = np.fromfile(self.path, dtype=self.dtype, count=count,
                           offset=self._offset + start * plane * self.dtype.itemsize)
        if data.size != count:
            raise InputError(f"{self.path}: file is shorter than its header says")
        return data.reshape(-1, *self.shape[1:]).astype(self.dtype.newbyteorder("="),
                                                        copy=False)


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
    data = data if data.flags.c_contiguous else np.ascontiguousarray(data)
    with atomic_path(path) as tmp:
        with mrcfile.new(tmp, overwrite=True) as handle:
            # header from a one-voxel stand-in, patched to the real shape: mrcfile's own
            # statistics would need several temporaries the size of the data
            handle.set_data(np.zeros((1,) * data.ndim, dtype=data.dtype))
            handle.header.nx, handle.header.ny = data.shape[-1], data.shape[-2]
            handle.header.mx, handle.header.my = data.shape[-1], data.shape[-2]
            sections = data.shape[0] if data.ndim == 3 else 1
            handle.header.nz = handle.header.mz = sections
            if image_stack:
                handle.set_image_stack()
            handle.voxel_size = float(voxel_size_nm) * 10.0
            _set_statistics(handle.header, data)
            # No timestamp in the header: identical inputs give byte-identical files.
            handle.header.label[0] = b"tomobench".ljust(80)
            handle.header.nlabl = 1
            offset = handle.header.nbytes + int(handle.header.nsymbt)
        with open(tmp, "r+b") as stream:
            stream.seek(offset)
            stream.truncate()
            flat = data.reshape(-1)
            for start in range(0, flat.size, _CHUNK_ELEMENTS):
                stream.write(flat[start : start + _CHUNK_ELEMENTS].tobytes())


#: Elements per chunk when writing data and computing header statistics.
_CHUNK_ELEMENTS = 1 << 24


def _set_statistics(header, data: np.ndarray) -> None:
    """``dmin, dmax, dmean, rms`` of the header, accumulated chunk by chunk in float64 (for
    complex data only ``rms``, as mrcfile does)."""
    flat = data.reshape(-1)
    if flat.size == 0:
        return
    total = 0.0 if not np.iscomplexobj(data) else 0j
    low, high = np.inf, -np.inf
    for start in range(0, flat.size, _CHUNK_ELEMENTS):
        chunk = flat[start : start + _CHUNK_ELEMENTS]
        total += chunk.sum(dtype=np.complex128 if np.iscomplexobj(data) else np.float64)
        if not np.iscomplexobj(data):
            low, high = min(low, float(chunk.min())), max(high, float(chunk.max()))
    mean = total / flat.size
    squares = 0.0
    for start in range(0, flat.size, _CHUNK_ELEMENTS):
        deviation = flat[start : start + _CHUNK_ELEMENTS].astype(
            np.complex128 if np.iscomplexobj(data) else np.float64) - mean
        squares += float(np.vdot(deviation, deviation).real)
    header.rms = np.float32(np.sqrt(squares / flat.size))
    if not np.iscomplexobj(data):
        header.dmin, header.dmax, header.dmean = np.float32(low), np.float32(high), np.float32(mean)
