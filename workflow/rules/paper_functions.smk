# Constants and input/param functions of paper.smk (kept apart from the rules, as
# snakemake --lint asks).
import re
from pathlib import Path

from tomobench.evaluation.controls import control_label

PAPER = "results/{name}/paper"
#: Benchmark TSVs that make up a method's inference and training stages, by kind family
#: (Table 7). Template matching is shared by TM and TM-F, so both count it (the paper's
#: "TM-F/TM" row).
INFERENCE_RULES = {
    "dog": ("pick_dog",),
    "template_matching": ("match_templates", "pick_template_matching"),
    "learning": ("pick_learning",),
    "command": ("pick_command",),
}
TRAINING_RULES = {
    "learning": ("train_learning",),
    "dog": ("calibrate_dog",),
    "command": ("train_command",),
}
#: Paper tables and figures: number -> (file stem, topic). Every output, report entry and
#: report order derives from these two dicts (table_outputs, figure_outputs, paper_outputs).
TABLES = {
    1: ("table1_structures", "structures"),
    2: ("table2_particle_counts", "particles per class"),
    3: ("table3_localization", "localization"),
    4: ("table4_classification", "per-class F1"),
    5: ("table5_size_groups", "size groups"),
    6: ("table6_size_group_f1", "size-group F1"),
    7: ("table7_timings", "timings"),
}
FIGURES = {
    4: ("figure4_central_slice", "central slice with picks"),
    9: ("figure9_cumulative_f1", "cumulative F1"),
    10: ("figure10_f1_vs_weight", "F1 against molecular weight"),
    11: ("figure11_confusion_matrices", "confusion matrices"),
}
#: Tables that show the published numbers in their own columns (no *_vs_paper version).
TABLES_WITHOUT_PAPER_VERSION = {1}
#: Per table: the report's label of a version, the file-name suffix and the output-key suffix.
TABLE_VERSIONS = (("tomobench", "", ""), ("beside the paper", "_vs_paper", "_paper"))
TABLE_FORMATS = ("csv", "md", "tex", "html")
# The report sorts its sections by name (localeCompare): numbers are padded with U+2007 FIGURE
# SPACE (a digit-wide space that sorts before digits) so that Figure 4 comes before Figure 10.
_FIGURE_SPACE = "\u2007"


#: The report's captions (workflow/report/*.rst); each table and figure rule reads its own, so
#: that its HTML page shows the caption beside the numbers (and reruns when it changes).
REPORT_DIR = Path(workflow.current_basedir).parent / "report"
#: Report categories of the paper's outputs: one subcategory each, so that a click on the
#: category lists every table (figure) and a second click opens it.
TABLES_CATEGORY = "Paper tables"
FIGURES_CATEGORY = "Paper figures"


def caption_file(kind, number):
    """The report caption of table or figure ``number`` (``kind``: "table" or "figure")."""
    return str(REPORT_DIR / f"{kind}{number}.rst")


def caption_text(kind, number):
    """The caption's text, a rule's param: an edit reruns that rule, and unlike an input path
    inside the repository it does not change with the clone the workflow runs from."""
    return Path(caption_file(kind, number)).read_text(encoding="utf-8")


def report_section(kind, number, topic, numbers):
    """Report subcategory of a table or figure, e.g. 'Figure  4: central slice ...'."""
    width = max(len(str(n)) for n in numbers)
    return f"{kind} {str(number).rjust(width, _FIGURE_SPACE)}: {topic}"


def table_versions(number):
    """The (label, file suffix, key suffix) versions table ``number`` is written in."""
    if number in TABLES_WITHOUT_PAPER_VERSION:
        return (("tomobench beside the paper", "", ""),)
    return TABLE_VERSIONS


def paper_names():
    """Our method name -> the paper's (its paper_name key, else by kind; None if not in it)."""
    return {
        method: params.get("paper_name") or PAPER_NAME_BY_KIND.get(params["kind"])
        for method, params in METHODS.items()
    }


def paper_outputs(name):
    """Every paper table (its versions, four formats) and figure (PNG, PDF, HTML page with
    its caption) of run ``name``."""
    files = []
    for number, (stem, _) in TABLES.items():
        if f"table{number}" in SKIPPED_OUTPUTS:
            continue
        for _, suffix, _ in table_versions(number):
            files += [
                f"results/{name}/paper/{stem}{suffix}.{ext}" for ext in TABLE_FORMATS
            ]
    for number, (stem, _) in FIGURES.items():
        if f"figure{number}" in SKIPPED_OUTPUTS:
            continue
        files += [
            f"results/{name}/paper/{stem}.{ext}" for ext in ("png", "pdf", "html")
        ]
    if SKIPPED_OUTPUTS:
        files.append(f"results/{name}/paper/skipped_outputs.md")
    return files


def table_outputs(number):
    """Outputs of table ``number``: csv/md/tex/html per version; the HTML goes to the report."""
    stem, topic = TABLES[number]
    outputs = {}
    for version, suffix, key in table_versions(number):
        for ext in TABLE_FORMATS:
            path = f"{PAPER}/{stem}{suffix}.{ext}"
            if ext == "html":
                path = report(
                    path,
                    caption=f"../report/table{number}.rst",
                    category=TABLES_CATEGORY,
                    subcategory="Tables 1-7 of the paper",
                    labels={
                        "table": report_section("Table", number, "", TABLES)[:-2],
                        "topic": topic,
                        "numbers": version,
                    },
                )
            outputs[f"{ext}{key}"] = path
    return outputs


def figure_outputs(number):
    """Outputs of figure ``number``: png, pdf and an HTML page with the figure and its
    caption (in the report)."""
    stem, topic = FIGURES[number]
    return {
        "png": f"{PAPER}/{stem}.png",
        "pdf": f"{PAPER}/{stem}.pdf",
        "html": report(
            f"{PAPER}/{stem}.html",
            caption=f"../report/figure{number}.rst",
            category=FIGURES_CATEGORY,
            subcategory="Figures 4, 9-11 of the paper",
            labels={
                "figure": report_section("Figure", number, "", FIGURES)[:-2],
                "topic": topic,
            },
        ),
    }


def method_evaluations(wildcards):
    """{method or control label: [evaluation JSON of each test tomogram]} for the run."""
    files = lambda method: [
        f"results/{wildcards.name}/evaluation/{method}/model_{i}.json" for i in TEST_IDS
    ]
    return {
        **{method: files(method) for method in METHODS},
        **{control_label(control): files(control) for control in CONTROLS},
    }


def bootstrap_params():
    """Resamples and seed of the tables' bootstrap intervals."""
    return {
        "resamples": config["evaluation"]["bootstrap_resamples"],
        "seed": SEED,
    }


def test_particle_locations(wildcards):
    """{model_<i>: particle_locations.txt} of the test tomograms (Table 2)."""
    return {
        f"model_{i}": model_file("particle_locations", i, wildcards.name)
        for i in TEST_IDS
    }


def snr_files(wildcards):
    """snr.json of every tomogram (Table 2's SNR rows); none for tomograms the workflow did
    not simulate (the SNR needs the noise-free tilt series)."""
    if DATASET_SOURCE != "simulate":
        return []
    return [model_file("snr", i, wildcards.name) for i in TOMOGRAM_IDS]


def evaluation_files(wildcards):
    return [path for paths in method_evaluations(wildcards).values() for path in paths]


def potential_metadata(wildcards):
    """The potentials' JSON metadata (molecular_weight_kda) of the run's proteins."""
    return [
        f"results/{wildcards.name}/potentials/{pdb}.json" for pdb in PROTEIN_CLASSES
    ]


def _benchmark_files(rule_name, name, method):
    """The benchmark TSVs of rule ``rule_name`` for one method on the test tomograms."""
    pattern = str(getattr(rules, rule_name).benchmark)
    values = {
        "name": [name],
        "method": [method],
        "i": TEST_IDS,
        "pdb_id": PROTEIN_CLASSES,
        "chunk": list(range(config["template_matching"]["rotation_chunks"])),
    }
    wildcards = set(re.findall(r"{(\w+)}", pattern))
    unknown = wildcards - set(values)
    if unknown:
        raise ValueError(
            f"paper.smk (Table 7): benchmark of rule {rule_name} has wildcards {sorted(unknown)} "
            "it cannot fill; add them to _benchmark_files"
        )
    return sorted(set(expand(pattern, **{w: values[w] for w in wildcards})))


def _runs(rule_name, params):
    """Whether a method's configuration runs rule ``rule_name`` (DoG calibrates optionally,
    a command method trains when it has a train command)."""
    if rule_name == "train_command":
        return bool(params.get("train"))
    return (
        rule_name != "calibrate_dog"
        or params.get("calibration", "training") == "training"
    )


def _stage_benchmarks(name, rules_by_family):
    files = {}
    for method, params in METHODS.items():
        family = METHOD_KINDS[params["kind"]].family
        files[method] = [
            path
            for rule_name in rules_by_family.get(family, ())
            if _runs(rule_name, params)
            for path in _benchmark_files(rule_name, name, method)
        ]
    return files


def timing_benchmarks(wildcards):
    """Table 7 inputs: {"training": {method: [TSV]}, "inference": {method: [TSV]}}."""
    return {
        "training": _stage_benchmarks(wildcards.name, TRAINING_RULES),
        "inference": _stage_benchmarks(wildcards.name, INFERENCE_RULES),
    }


def timing_files(wildcards):
    """Exactly the benchmark TSVs Table 7 reads (training and inference of every method)."""
    stages = timing_benchmarks(wildcards)
    return sorted(
        {p for stage in stages.values() for paths in stage.values() for p in paths}
    )


def central_slice_radii_nm():
    """Outline radii (nm) of the run's vesicles and gold beads (middle of the size ranges),
    and of a copick project's own objects (their radii)."""
    potential = config["potential"]
    return {
        "vesicle": sum(potential["vesicle_diameter_nm"]) / 4.0,
        "fiducial": sum(potential["gold_diameter_nm"]) / 4.0,
        **project_radii_nm(PROJECT_OBJECTS),
    }


def central_slice_picks(wildcards):
    """Picks of every method on the first test tomogram (Figure 4)."""
    return {
        method: f"results/{wildcards.name}/picks/{method}/model_{TEST_IDS[0]}.txt"
        for method in METHODS
    }
