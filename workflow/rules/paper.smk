# ---------------------------------------------------------------------------------------------
# The SHREC 2021 paper's tables and figures (tomobench.paper) from the evaluation JSONs of the
# test tomograms (counts summed when there are several), the potentials' molecular weights and
# the rules' benchmark TSVs. Every table comes as CSV/Markdown/LaTeX, once with our numbers and
# once beside the paper's (methods both have); every figure as PNG and PDF. All go into the
# HTML report (snakemake --report report.html).
# ---------------------------------------------------------------------------------------------
import re

from tomobench.paper.published import PAPER_NAME_BY_KIND

PAPER = "results/{name}/paper"
#: Benchmark TSVs that make up a method's inference stage, by kind (Table 7). Template matching
#: is shared by TM and TM-F, so both count it (the paper's "TM-F/TM" row).
INFERENCE_RULES = {
    "dog": ("pick_dog",),
    "tm": ("match_templates", "pick_template_matching"),
    "tm_f": ("match_templates", "pick_template_matching"),
    **{kind: ("pick_learning",) for kind in LEARNING_KINDS},
}
TRAINING_RULES = {kind: ("train_learning",) for kind in LEARNING_KINDS}
TABLES = {
    3: ("table3_localization", "localization"),
    4: ("table4_class_f1", "per-class F1"),
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


def paper_names():
    """Our method name -> the paper's (its paper_name key, else by kind; None if not in it)."""
    return {
        method: params.get("paper_name") or PAPER_NAME_BY_KIND.get(params["kind"])
        for method, params in METHODS.items()
    }


def paper_outputs(name):
    """Every paper table (both versions, three formats) and figure (PNG, PDF) of run ``name``."""
    files = [f"results/{name}/paper/table1_structures.{ext}" for ext in ("csv", "md", "tex")]
    for stem, _ in TABLES.values():
        for version in ("", "_vs_paper"):
            files += [f"results/{name}/paper/{stem}{version}.{ext}" for ext in ("csv", "md", "tex")]
    for stem, _ in FIGURES.values():
        files += [f"results/{name}/paper/{stem}.{ext}" for ext in ("png", "pdf")]
    return files


def table_outputs(number):
    """Named, report-flagged outputs of table ``number``: csv/md/tex and *_paper versions."""
    stem, topic = TABLES[number]
    outputs = {}
    for version, suffix, key in (("tomobench", "", ""), ("beside the paper", "_vs_paper", "_paper")):
        for ext in ("csv", "md", "tex"):
            outputs[f"{ext}{key}"] = report(
                f"{PAPER}/{stem}{suffix}.{ext}",
                caption=f"../report/table{number}.rst",
                category="Tables",
                subcategory=f"Table {number}: {topic}",
                labels={"table": str(number), "numbers": version, "format": ext},
            )
    return outputs


def figure_outputs(number):
    """Named, report-flagged outputs of figure ``number``: png and pdf."""
    stem, topic = FIGURES[number]
    return {
        ext: report(
            f"{PAPER}/{stem}.{ext}",
            caption=f"../report/figure{number}.rst",
            category="Figures",
            subcategory=f"Figure {number}: {topic}",
            labels={"figure": str(number), "format": ext},
        )
        for ext in ("png", "pdf")
    }


def method_evaluations(wildcards):
    """{method: [evaluation JSON of each test tomogram]} for the run."""
    return {
        method: [f"results/{wildcards.name}/evaluation/{method}/model_{i}.json" for i in TEST_IDS]
        for method in METHODS
    }


def evaluation_files(wildcards):
    return [path for paths in method_evaluations(wildcards).values() for path in paths]


def potential_metadata(wildcards):
    """The potentials' JSON metadata (molecular_weight_kda) of the run's proteins."""
    return [f"results/{wildcards.name}/potentials/{pdb}.json" for pdb in PROTEIN_CLASSES]


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


def _stage_benchmarks(name, rules_by_kind, stage):
    files = {}
    for method, params in METHODS.items():
        if params["kind"] not in INFERENCE_RULES:
            raise ValueError(f"config key methods.{method}.kind: no {stage} timing rule known")
        files[method] = [
            path
            for rule_name in rules_by_kind.get(params["kind"], ())
            for path in _benchmark_files(rule_name, name, method)
        ]
    return files


def timing_benchmarks(wildcards):
    """Table 7 inputs: {"training": {method: [TSV]}, "inference": {method: [TSV]}}."""
    return {
        "training": _stage_benchmarks(wildcards.name, TRAINING_RULES, "training"),
        "inference": _stage_benchmarks(wildcards.name, INFERENCE_RULES, "inference"),
    }


def timing_files(wildcards):
    """Exactly the benchmark TSVs Table 7 reads (training and inference of every method)."""
    stages = timing_benchmarks(wildcards)
    return sorted({p for stage in stages.values() for paths in stage.values() for p in paths})


def central_slice_picks(wildcards):
    """Picks of every method on the first test tomogram (Figure 4)."""
    return {
        method: f"results/{wildcards.name}/picks/{method}/model_{TEST_IDS[0]}.txt"
        for method in METHODS
    }


rule table_localization:
    input:
        evaluations=evaluation_files,
        code=code("table_localization.py"),
    output:
        **table_outputs(3),
    log:
        "results/{name}/logs/table_localization/table_localization.log",
    benchmark:
        "results/{name}/benchmarks/table_localization/table_localization.tsv"
    params:
        evaluations=method_evaluations,
        paper_names=paper_names(),
    threads: 1
    resources:
        mem_mb=1000,
    conda:
        "../../envs/tomobench.yaml"
    script:
        "../scripts/table_localization.py"


rule table_class_f1:
    input:
        evaluations=evaluation_files,
        code=code("table_class_f1.py"),
    output:
        **table_outputs(4),
    log:
        "results/{name}/logs/table_class_f1/table_class_f1.log",
    benchmark:
        "results/{name}/benchmarks/table_class_f1/table_class_f1.tsv"
    params:
        evaluations=method_evaluations,
        paper_names=paper_names(),
    threads: 1
    resources:
        mem_mb=1000,
    conda:
        "../../envs/tomobench.yaml"
    script:
        "../scripts/table_class_f1.py"


rule table_size_groups:
    input:
        potentials=potential_metadata,
        code=code("table_size_groups.py"),
    output:
        **table_outputs(5),
    log:
        "results/{name}/logs/table_size_groups/table_size_groups.log",
    benchmark:
        "results/{name}/benchmarks/table_size_groups/table_size_groups.tsv"
    threads: 1
    resources:
        mem_mb=1000,
    conda:
        "../../envs/tomobench.yaml"
    script:
        "../scripts/table_size_groups.py"


rule table_size_group_f1:
    input:
        evaluations=evaluation_files,
        code=code("table_size_group_f1.py"),
    output:
        **table_outputs(6),
    log:
        "results/{name}/logs/table_size_group_f1/table_size_group_f1.log",
    benchmark:
        "results/{name}/benchmarks/table_size_group_f1/table_size_group_f1.tsv"
    params:
        evaluations=method_evaluations,
        paper_names=paper_names(),
    threads: 1
    resources:
        mem_mb=1000,
    conda:
        "../../envs/tomobench.yaml"
    script:
        "../scripts/table_size_group_f1.py"


rule table_timings:
    input:
        benchmarks=timing_files,
        code=code("table_timings.py"),
    output:
        **table_outputs(7),
    log:
        "results/{name}/logs/table_timings/table_timings.log",
    benchmark:
        "results/{name}/benchmarks/table_timings/table_timings.tsv"
    params:
        benchmarks=timing_benchmarks,
        paper_names=paper_names(),
    threads: 1
    resources:
        mem_mb=1000,
    conda:
        "../../envs/tomobench.yaml"
    script:
        "../scripts/table_timings.py"


rule figure_central_slice:
    input:
        unpack(central_slice_picks),
        reconstruction=f"results/{{name}}/data/model_{TEST_IDS[0]}/reconstruction.mrc",
        locations=f"results/{{name}}/data/model_{TEST_IDS[0]}/particle_locations.txt",
        code=code("figure_central_slice.py"),
    output:
        **figure_outputs(4),
    log:
        "results/{name}/logs/figure_central_slice/figure_central_slice.log",
    benchmark:
        "results/{name}/benchmarks/figure_central_slice/figure_central_slice.tsv"
    params:
        methods=list(METHODS),
        tomogram=f"model_{TEST_IDS[0]}",
    threads: 1
    resources:
        mem_mb=2000,
    conda:
        "../../envs/tomobench.yaml"
    script:
        "../scripts/figure_central_slice.py"


rule figure_cumulative_f1:
    input:
        evaluations=evaluation_files,
        code=code("figure_cumulative_f1.py"),
    output:
        **figure_outputs(9),
    log:
        "results/{name}/logs/figure_cumulative_f1/figure_cumulative_f1.log",
    benchmark:
        "results/{name}/benchmarks/figure_cumulative_f1/figure_cumulative_f1.tsv"
    params:
        evaluations=method_evaluations,
    threads: 1
    resources:
        mem_mb=1000,
    conda:
        "../../envs/tomobench.yaml"
    script:
        "../scripts/figure_cumulative_f1.py"


rule figure_f1_vs_weight:
    input:
        evaluations=evaluation_files,
        potentials=potential_metadata,
        code=code("figure_f1_vs_weight.py"),
    output:
        **figure_outputs(10),
    log:
        "results/{name}/logs/figure_f1_vs_weight/figure_f1_vs_weight.log",
    benchmark:
        "results/{name}/benchmarks/figure_f1_vs_weight/figure_f1_vs_weight.tsv"
    params:
        evaluations=method_evaluations,
    threads: 1
    resources:
        mem_mb=1000,
    conda:
        "../../envs/tomobench.yaml"
    script:
        "../scripts/figure_f1_vs_weight.py"


rule figure_confusion_matrices:
    input:
        evaluations=evaluation_files,
        potentials=potential_metadata,
        code=code("figure_confusion_matrices.py"),
    output:
        **figure_outputs(11),
    log:
        "results/{name}/logs/figure_confusion_matrices/figure_confusion_matrices.log",
    benchmark:
        "results/{name}/benchmarks/figure_confusion_matrices/figure_confusion_matrices.tsv"
    params:
        evaluations=method_evaluations,
    threads: 1
    resources:
        mem_mb=1000,
    conda:
        "../../envs/tomobench.yaml"
    script:
        "../scripts/figure_confusion_matrices.py"


rule paper:
    input:
        paper_outputs(RUN_NAME),
    localrule: True
