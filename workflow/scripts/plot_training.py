"""Training curves of one learned method (rule plot_training): training.png."""

import json
from pathlib import Path

from tomobench.paper.figures import save_figure, training_curves_figure
from tomobench.workflow_support import script_logger

log = script_logger(snakemake)  # noqa: F821 - injected by Snakemake
report = json.loads(Path(snakemake.input[0]).read_text())  # noqa: F821
log.info("%s: %d validation intervals, best step %d", snakemake.wildcards.method,  # noqa: F821
         len(report["history"]), report["best_step"])
save_figure(training_curves_figure(report, snakemake.wildcards.method),  # noqa: F821
            snakemake.output[0], pdf=False)  # noqa: F821
