"""Template search of one class (one rotation chunk) in one tomogram (rule match_templates)."""

import numpy as np

from tomobench.io import read_acquisition
from tomobench.methods.template_matching import search_class, write_search
from tomobench.methods.template_matching.correlation import keep_freed_memory_in_heap
from tomobench.mrc import read_mrc
from tomobench.workflow_support import script_logger

log = script_logger(snakemake)
keep_freed_memory_in_heap()  # per-rotation FFT buffers reuse pages instead of faulting
inputs, outputs, params = snakemake.input, snakemake.output, snakemake.params
tomogram, tomogram_voxel_nm = read_mrc(inputs.tomogram)
potential, potential_voxel_nm = read_mrc(inputs.potential)
acquisition = read_acquisition(inputs.acquisition, dict(params.fallback))
log.info("class %s, tomogram %s %s at %.3g nm; acquisition %s", params.class_name,
         inputs.tomogram, tomogram.shape, tomogram_voxel_nm, acquisition)
result, description = search_class(
    tomogram, tomogram_voxel_nm, np.real(potential).astype(np.float32), potential_voxel_nm,
    acquisition, dict(params.settings), chunk=int(params.chunk), device=params.device,
    threads=snakemake.threads,
)
write_search(result, description, outputs.scores, outputs.angles, outputs.search, params.class_name)
log.info("wrote %s (best score %.3f)", outputs.scores, float(result.scores.max()))
