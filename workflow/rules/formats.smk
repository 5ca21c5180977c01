# ---------------------------------------------------------------------------------------------
# Exchange formats (tomobench.formats): the run as a copick project (target `copick`): every
# tomogram as an OME-Zarr multiscale tomogram, ground truth and every method's picks as copick
# points, class and occupancy masks as segmentations. Needs the copick library (extra
# `formats`, part of `dev`).
# ---------------------------------------------------------------------------------------------


include: "formats_functions.smk"


rule export_copick:
    input:
        unpack(copick_inputs),
    output:
        directory("results/{name}/copick"),
    log:
        "results/{name}/logs/export_copick/export_copick.log",
    benchmark:
        "results/{name}/benchmarks/export_copick/export_copick.tsv"
    conda:
        "../../envs/tomobench.yaml"
    threads: 1
    resources:
        mem_mb=2000,
    params:
        code=code("export_copick.py"),
        picks=copick_picks,
        radii_nm={**CZII_RADII_NM, **central_slice_radii_nm()},
    script:
        "../scripts/export_copick.py"


rule copick:
    input:
        f"results/{RUN_NAME}/copick",
    localrule: True
