"""TM or TM-F picks of one tomogram from the searches of all classes (pick_template_matching)."""

from tomobench.methods.template_matching import extract_picks, load_class_search
from tomobench.mrc import read_mrc
from tomobench.particles import write_picks
from tomobench.workflow_support import script_logger

log = script_logger(snakemake)
inputs, params = snakemake.input, snakemake.params
chunks = int(params.rotation_chunks)
searches = []
for k, class_name in enumerate(params.classes):
    part = slice(k * chunks, (k + 1) * chunks)
    searches.append(
        load_class_search(inputs.searches[part], inputs.scores[part], inputs.angles[part]))
    log.info("%s: %d chunk(s), score mean %.4f std %.4f", class_name, chunks,
             searches[-1].score_mean, searches[-1].score_std)
method = dict(params.method)
kind = method.pop("kind")
tomogram, _ = read_mrc(inputs.tomogram)
picks, report = extract_picks(searches, tomogram, kind, method)
for class_name, info in report.items():
    log.info("%s: %s", class_name, info)
write_picks(snakemake.output[0], picks)
log.info("%d picks written to %s", len(picks), snakemake.output[0])
