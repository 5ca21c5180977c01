"""``tomobench`` command line: score picks as SHREC 2021 did; exchange formats.

    tomobench evaluate --truth model_9/ --picks picks.txt --out results/
    tomobench export-star --picks picks.txt --data model_9/ --out picks.star

Bad input prints one error line and exits with status 2.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from tomobench import __version__
from tomobench.errors import InputError
from tomobench.io import GROUND_TRUTH_FILES, MODEL_FILES, model_files

_EVALUATE_HELP = """\
Score one submission file, or every *.txt below a folder, against a SHREC ground-truth folder
(particle_locations.txt + occupancy_mask.mrc; the 512-cube release, the 180-slab release and
tomobench's own data/model_<i> folders all work).

Submissions, coordinates in voxels of the reconstruction (0-based, x fastest), kind by
extension (another extension: by content):
  .txt   SHREC text: '<class> <x> <y> <z> [anything]' per line, whitespace separated; lines
         starting with '#' are skipped
  .star  RELION 5 (rlnCenteredCoordinate{X,Y,Z}Angst: Å from the centre of the evaluation
         volume) or RELION 4 (rlnCoordinate{X,Y,Z}: unbinned tilt-series pixels, binning from
         the optics block's rlnTomoTiltSeriesPixelSize) particle STAR file of one tomogram, as
         export-star writes it; class = rlnClassNumber (the SHREC class id)
  .csv   a header naming class (or class_name), x, y, z and optionally score, any order;
         other columns are ignored
An empty submission, or class names outside the SHREC class table, are scored with a warning
on stderr.

Writes, per submission <name> (the file stem, or its path below the folder without .txt, so
a/b.txt and a_b.txt stay apart: <out>/a/b.json and <out>/a_b.json):
  <name>.json            every number (localization, confusion matrix, per-class, CZII)
  <name>.txt             the text report (the organisers' localization block and more)
  <name>_confusion.csv   confusion matrix, rows actual, columns predicted (+ background)
  <name>_confusion.png   the same, classes ordered by molecular weight
and summary.csv with one row of localization numbers per submission. Files named
particle_locations.txt below a picks folder are ground truth, not submissions: they are listed
as skipped. --out must lie outside a picks folder (its reports would be read as submissions by
the next run) and may never replace an input file.

Modes: 'published' reproduces the organisers' eval.py (recall over all particle lines except
4V94, vesicles included; predictions on 4V94/vesicles kept in RR); 'corrected' excludes vesicles
from the recall denominator and ignores predictions on excluded particles. Where the original
script would crash (unknown first-hit label, nothing missed) the numbers are computed anyway
and a warning is added to the report.
"""


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error message (exit status 2)."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _slab_offset(text: str):
    if text == "auto":
        return "auto"
    if text == "none":
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected auto, none or an integer, got {text!r}"
        ) from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def _fraction(text: str) -> float:
    """A number in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def _integer(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
    return value


def _non_negative_int(text: str) -> int:
    return _integer(text, 0)


def _positive_int(text: str) -> int:
    return _integer(text, 1)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="tomobench", description="Score particle picks as SHREC 2021 did "
                     "(plus the CZII metric) and exchange them with RELION, copick and the "
                     "CryoET Data Portal.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND",
                                     parser_class=_Parser)
    evaluate = commands.add_parser(
        "evaluate", help="score picks as the SHREC 2021 organisers did (+ CZII metric)",
        description=_EVALUATE_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    evaluate.add_argument("--truth", required=True, type=Path, metavar="DIR",
                          help="ground-truth folder with particle_locations.txt and "
                               "occupancy_mask.mrc, or a copick configuration (.json)")
    evaluate.add_argument("--picks", required=True, type=Path, metavar="FILE|DIR",
                          help="a submission (SHREC .txt, RELION 4/5 .star or .csv), or a "
                               "folder searched recursively for *.txt, *.star and *.csv")
    evaluate.add_argument("--out", required=True, type=Path, metavar="DIR",
                          help="output folder (created; files of the same name are replaced)")
    evaluate.add_argument("--mode", choices=("published", "corrected"), default="corrected",
                          help="corrected (default, as the workflow): recall denominator and "
                               "exclusion quirks fixed, the ground truth scores 1; published: "
                               "the organisers' numbers, quirks included")
    evaluate.add_argument("--slab-offset", type=_slab_offset, default="auto", metavar="auto|none|N",
                          help="z offset of a slab-shaped occupancy mask in the cube: auto "
                               "(default; detected from the particle centres, only when particle "
                               "z lies beyond the slab), none (never pad) or an integer "
                               "(SHREC 2021: 166)")
    evaluate.add_argument("--volume-shape", type=_positive_int, nargs=3, metavar=("Z", "Y", "X"),
                          help="evaluation volume in voxels (clipping bounds); default: the "
                               "mask's shape, or a cube when a slab is padded")
    evaluate.add_argument("--voxel-size-nm", type=_positive, metavar="NM",
                          help="voxel size for the CZII radii (default: the mask header; "
                               "1 nm when the header has none)")
    evaluate.add_argument("--czii-radius-fraction", type=_positive, default=0.5, metavar="F",
                          help="CZII match radius as a fraction of the particle radius "
                               "(default 0.5)")
    evaluate.add_argument("--czii-beta", type=_positive, default=4.0, metavar="B",
                          help="beta of the CZII F-beta score (default 4)")
    evaluate.add_argument("--fiducial-radius-nm", type=_positive, default=None, metavar="NM",
                          help="gold fiducial radius for the CZII metric (default 3.5)")
    evaluate.add_argument("--bootstrap-resamples", type=_non_negative_int, default=1000,
                          metavar="N",
                          help="resamples of the 95 %% bootstrap confidence intervals "
                               "(default 1000; 0 = none)")
    evaluate.add_argument("--seed", type=_non_negative_int, default=0, metavar="S",
                          help="seed of the bootstrap resampling, >= 0 (default 0)")
    evaluate.add_argument("--no-plots", action="store_true",
                          help="skip the confusion-matrix PNGs")
    _add_copick_evaluate_options(evaluate)
    evaluate.set_defaults(run=run_evaluate)

    _add_export_commands(commands)
    _add_pick_command(commands)
    from tomobench.view import add_view_parser  # napari itself is imported only by `view`

    add_view_parser(commands)
    return parser


#: Ground-truth lists found in a picks folder are not submissions.
TRUTH_LIST_NAME = MODEL_FILES["particle_locations"]


def _submissions(picks: Path) -> tuple[list[tuple[str, Path]], list[Path]]:
    """``([(name, file)], skipped files)``: a name is the file's path below the picks folder
    without its extension (``a/b``), or the stem of a single file; skipped: ground-truth lists.
    Submissions in a folder are ``*.txt``, ``*.star`` and ``*.csv`` files."""
    from tomobench.formats.submissions import SUBMISSION_SUFFIXES

    if picks.is_dir():
        found = sorted(p for p in picks.rglob("*") if p.is_file()
                       and p.suffix.lower() in SUBMISSION_SUFFIXES)
        files = [p for p in found if p.name != TRUTH_LIST_NAME]
        if not files:
            raise InputError(f"--picks {picks}: no submission files (*.txt, *.star, *.csv) in "
                             "this folder")
        named = [(p.relative_to(picks).with_suffix("").as_posix(), p) for p in files]
        seen: dict[str, Path] = {}
        for name, path in named:
            if name in seen:
                raise InputError(f"--picks {picks}: {seen[name].name} and {path.name} would both "
                                 f"be reported as {name!r}; rename one")
            seen[name] = path
        return named, [p for p in found if p.name == TRUTH_LIST_NAME]
    if not picks.exists():
        raise InputError(f"--picks {picks}: picks file or folder not found")
    if not picks.is_file():
        raise InputError(f"--picks {picks}: not a file or folder")
    return [(picks.stem, picks)], []


def _truth_folder(truth: Path) -> Path:
    """The ground-truth folder of ``--truth``: the folder itself, or the folder of one of its
    files (particle_locations.txt, occupancy_mask.mrc), said on stderr."""
    names = {MODEL_FILES[key] for key in GROUND_TRUTH_FILES}
    if truth.is_dir():
        return truth
    if truth.is_file() and truth.name in names:
        print(f"tomobench evaluate: note: --truth {truth} is a file; using its folder "
              f"{truth.parent}", file=sys.stderr)
        return truth.parent
    if truth.is_file():
        raise InputError(f"--truth {truth}: a file, but a folder is expected (with "
                         f"{' and '.join(sorted(names))}) or a copick configuration (.json)")
    raise InputError(f"--truth {truth}: not found (expected a ground-truth folder or a copick "
                     "configuration .json)")


def _check_out_folder(out: Path, option: str = "--out") -> None:
    """``InputError`` unless ``out`` is a folder or can be created as one."""
    if out.exists() and not out.is_dir():
        raise InputError(f"{option} {out}: an existing file, but a folder is expected "
                         "(created if missing)")
    _check_parents(out, option)


def _check_parents(path: Path, option: str) -> None:
    for parent in path.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise InputError(f"{option} {path}: {parent} is a file, not a folder")
            return


def _check_out_file(out: Path, option: str = "--out") -> None:
    """``InputError`` unless ``out`` can be written as a file."""
    if out.is_dir():
        raise InputError(f"{option} {out}: a folder, but a file name is expected")
    _check_parents(out, option)


def _check_in_file(path: Path, option: str) -> None:
    if not path.exists():
        raise InputError(f"{option} {path}: file not found")
    if not path.is_file():
        raise InputError(f"{option} {path}: a folder, but a file is expected")


def _submission_warnings(path: Path, picks, mode: str) -> list[str]:
    """One line each: an empty submission, class names outside the class table."""
    import numpy as np

    from tomobench.evaluation.shrec import _label_ids

    if picks.empty:
        return [f"{path}: empty submission (no picks): it scores recall 0"]
    ids, _ = _label_ids(picks["class_name"], mode)
    unknown = sorted({str(name) for name, i in zip(picks["class_name"], ids, strict=True)
                      if i < 0})
    if not unknown:
        return []
    shown = ", ".join(map(repr, unknown[:5])) + (", ..." if len(unknown) > 5 else "")
    return [f"{path}: {int(np.sum(ids < 0))} picks with class names not in the SHREC class "
            f"table ({shown}): scored for localization, never as the right class"]


def _report_paths(out: Path, name: str, plots: bool) -> list[Path]:
    suffixes = [".json", ".txt", "_confusion.csv"] + (["_confusion.png"] if plots else [])
    return [out / f"{name}{suffix}" for suffix in suffixes]


def _check_out(args, submissions: list[tuple[str, Path]]) -> None:
    """``--out`` outside a picks folder, and no report path equal to an input file."""
    out = args.out.resolve()
    picks = args.picks.resolve()
    if args.picks.is_dir() and (out == picks or picks in out.parents):
        raise InputError(f"--out {args.out} lies in the picks folder {args.picks}: the next run "
                         "would read its reports (*.txt) as submissions; choose a folder outside")
    inputs = {p.resolve(): p for _, p in submissions}
    inputs.update({path.resolve(): path
                   for path in model_files(args.truth, GROUND_TRUTH_FILES).values()})
    for name, _ in submissions:
        for path in _report_paths(args.out, name, not args.no_plots):
            if path.resolve() in inputs:
                raise InputError(f"--out {args.out}: the report {path} would replace the input "
                                 f"{inputs[path.resolve()]}; choose another output folder")


def _write_evaluation(args, name: str, result: dict, *, title: str) -> dict:
    """Write one submission's JSON, text report, confusion CSV (and PNG); return its summary row."""
    from tomobench.evaluation.report import write_evaluation

    json_path, text_path, csv_path, *png_path = _report_paths(args.out, name,
                                                              not args.no_plots)
    write_evaluation(result, json_path, text_path, csv_path, title=title,
                     figure_path=png_path[0] if png_path else None, figure_title=name)
    loc = result["localization"]
    print(f"{name}: TP {loc['TP']} FP {loc['FP']} FN {loc['FN']} recall {loc['recall']:.5f} "
          f"precision {loc['precision']:.5f} F1 {loc['F1']:.5f}{_class_f1_text(result)}")
    for warning in result["warnings"]:
        print(f"  warning: {warning}")
    intervals = result["confidence_intervals"]["localization"]
    return {"submission": name, **{k: loc[k] for k in (
        "RR", "N", "TP", "FP", "FN", "MH", "RO", "AD", "recall", "precision", "miss_rate",
        "F1")}, **{f"{metric}_{end}": value for metric, bounds in intervals.items()
                   for end, value in zip(("lo", "hi"), bounds, strict=True)},
        "czii_fbeta_micro": result["czii"]["fbeta_micro"]}


def _class_f1_text(result: dict) -> str:
    """``" | class F1 1BXN 0.667 3H84 0.000"``: the scored classes of the confusion matrix."""
    per_class = result["classification"]["per_class"]
    values = [f"{name} {stats['F1']:.3f}" for name, stats in per_class.items()
              if name != "background"]
    return f" | class F1 {' '.join(values)}" if values else ""


def run_evaluate(args) -> None:
    from tomobench.evaluation.shrec import evaluate_picks
    from tomobench.evaluation.truth import load_ground_truth_folder
    from tomobench.formats.copick_project import is_copick_config
    from tomobench.formats.submissions import read_submission

    _check_out_folder(args.out)
    if is_copick_config(args.truth):
        run_evaluate_copick(args)
        return
    args.truth = _truth_folder(args.truth)
    submissions, skipped = _submissions(args.picks)
    _check_out(args, submissions)
    truth = load_ground_truth_folder(
        args.truth, slab_offset=args.slab_offset,
        volume_shape=tuple(args.volume_shape) if args.volume_shape else None,
        voxel_size_nm=args.voxel_size_nm)
    # every submission is read (and refused) before any report is written
    picks = [(name, path, read_submission(path, truth.volume_shape, truth.voxel_size_nm))
             for name, path in submissions]
    for path in skipped:
        print(f"skipped {path}: a ground-truth list, not a submission")
    rows = []
    for name, path, frame in picks:
        for warning in _submission_warnings(path, frame, args.mode):
            print(f"tomobench evaluate: warning: {warning}", file=sys.stderr)
        result = evaluate_picks(
            truth, frame, source=str(path), mode=args.mode,
            czii_radius_fraction=args.czii_radius_fraction, czii_beta=args.czii_beta,
            fiducial_radius_nm=args.fiducial_radius_nm,
            bootstrap_resamples=args.bootstrap_resamples, seed=args.seed)
        rows.append(_write_evaluation(args, name, result, title=str(path)))
    _write_summary(args.out, rows)


def _write_summary(out: Path, rows: list[dict]) -> None:
    import pandas as pd

    from tomobench.atomic import write_text_atomic

    summary = pd.DataFrame(rows).to_csv(index=False, float_format="%.6g", lineterminator="\n")
    write_text_atomic(out / "summary.csv", summary)


def _add_copick_evaluate_options(evaluate) -> None:
    """Options of ``evaluate`` on a copick project (--truth/--picks given as its JSON config)."""
    group = evaluate.add_argument_group(
        "copick projects", "--truth and --picks may be copick configuration files (.json, the "
        "same or two projects): each run is scored and named after itself, coordinates in "
        "voxels of --voxel-size-nm (default: the run's only voxel spacing). Needs the copick "
        "library (pip install 'tomobench[formats]').")
    group.add_argument("--truth-user", default="ground-truth", metavar="USER",
                       help="copick user id of the ground truth (default ground-truth, as "
                            "export-copick writes; the CZII challenge data use curation)")
    group.add_argument("--truth-session", metavar="SESSION",
                       help="copick session id of the ground truth (default: any)")
    group.add_argument("--picks-user", metavar="USER", help="copick user id of the picks")
    group.add_argument("--picks-session", metavar="SESSION",
                       help="copick session id of the picks (default: any)")
    group.add_argument("--runs", nargs="+", metavar="RUN",
                       help="copick runs to score (default: every run with points of the "
                            "picks user)")
    group.add_argument("--tomo-type", metavar="TYPE",
                       help="tomogram type whose shape bounds the picks (default: any)")


def run_evaluate_copick(args) -> None:
    """``evaluate`` on copick projects: one result per run, named after the run."""
    from tomobench.evaluation.shrec import evaluate_picks
    from tomobench.formats import copick_project

    if not args.picks_user:
        raise InputError("--picks-user: give the copick user id of the picks to score")
    truth_root = copick_project.open_project(args.truth)
    picks_root = (truth_root if args.picks.resolve() == args.truth.resolve()
                  else copick_project.open_project(args.picks))
    spacing_A = args.voxel_size_nm * 10.0 if args.voxel_size_nm else None
    rows = []
    runs = args.runs or copick_project.run_names(picks_root, args.picks_user,
                                                 args.picks_session)
    if not runs:
        raise InputError(f"{args.picks}: no copick run has points of user {args.picks_user!r}")
    for run in runs:
        truth = copick_project.load_ground_truth(
            truth_root, run, user_id=args.truth_user, session_id=args.truth_session,
            voxel_size_A=spacing_A, tomo_type=args.tomo_type, config_path=str(args.truth))
        picks = copick_project.load_picks(picks_root, run, args.picks_user, args.picks_session,
                                          truth.voxel_size_nm * 10.0)
        source = f"{args.picks} run {run} user {args.picks_user}"
        result = evaluate_picks(truth, picks, source=source, mode=args.mode,
                                czii_radius_fraction=args.czii_radius_fraction,
                                czii_beta=args.czii_beta,
                                fiducial_radius_nm=args.fiducial_radius_nm,
                                bootstrap_resamples=args.bootstrap_resamples, seed=args.seed)
        rows.append(_write_evaluation(args, run, result, title=source))
    _write_summary(args.out, rows)


def _add_export_commands(commands) -> None:
    """The exchange-format subcommands (export-star, export-copick, export-portal)."""
    export = commands.add_parser(
        "export-star", help="write picks or a ground truth as a RELION 5 (or 4) STAR file",
        description=_EXPORT_STAR_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    export.add_argument("--picks", required=True, type=Path, metavar="FILE",
                        help="submission text file, or a particle_locations.txt")
    export.add_argument("--out", required=True, type=Path, metavar="FILE",
                        help="STAR file to write")
    export.add_argument("--data", type=Path, metavar="DIR",
                        help="the tomogram's folder (reconstruction.mrc [+ "
                             "acquisition_parameters.json]): shape, voxel size, acquisition")
    export.add_argument("--relion", type=int, choices=(4, 5), default=5,
                        help="5 (default): centred coordinates in Å; 4: unbinned pixels")
    export.add_argument("--ground-truth", action="store_true",
                        help="the file is a particle_locations.txt (default: when so named)")
    export.add_argument("--tomogram-name", metavar="NAME",
                        help="rlnTomoName (default: the --data folder name, else the picks "
                             "file's folder for particle_locations.txt, else its stem)")
    export.add_argument("--voxel-size-nm", type=_positive, metavar="NM",
                        help="tomogram voxel size (default: the reconstruction header)")
    export.add_argument("--volume-shape", type=_positive_int, nargs=3, metavar=("Z", "Y", "X"),
                        help="tomogram shape in voxels (default: the reconstruction header)")
    export.add_argument("--binning", type=_positive, metavar="B",
                        help="tilt-series pixels per voxel (default: from "
                             "acquisition_parameters.json, else 1)")
    export.add_argument("--amplitude-contrast", type=_fraction, default=0.07, metavar="F",
                        help="rlnAmplitudeContrast of the optics group (default 0.07)")
    export.set_defaults(run=run_export_star)

    copick = commands.add_parser(
        "export-copick", help="write tomobench tomograms, ground truth and picks as a copick "
                              "project",
        description="Write the tomograms of a tomobench run (results/<name>) as a copick "
                    "project: pickable objects from the SHREC class table, reconstructions as "
                    "OME-Zarr multiscale tomograms, the ground truth (user ground-truth) and "
                    "every method's picks (user = method name) as copick points with "
                    "orientations where known, class and occupancy masks as segmentations. "
                    "Needs the copick library (pip install 'tomobench[formats]').")
    copick.add_argument("--results", required=True, type=Path, metavar="DIR",
                        help="a tomobench run folder (results/<name>, with data/ and picks/)")
    copick.add_argument("--out", required=True, type=Path, metavar="DIR",
                        help="project folder to write: copick_config.json and overlay/ "
                             "(replaced if it exists)")
    copick.add_argument("--tomograms", nargs="+", metavar="NAME",
                        help="tomogram folders to export (default: all of data/)")
    copick.set_defaults(run=run_export_copick)

    portal = commands.add_parser(
        "export-portal", help="write picks or a ground truth as CryoET Data Portal ndjson",
        description="One '<class>_point.ndjson' or '<class>_orientedpoint.ndjson' per class "
                    "(locations in voxels of the tomogram, x fastest; oriented points carry "
                    "xyz_rotation_matrix from the SHREC angles). Every line is schema-checked.")
    portal.add_argument("--picks", required=True, type=Path, metavar="FILE",
                        help="submission text file, or a particle_locations.txt")
    portal.add_argument("--out", required=True, type=Path, metavar="DIR",
                        help="output folder (created)")
    portal.add_argument("--ground-truth", action="store_true",
                        help="the file is a particle_locations.txt (default: when so named)")
    portal.set_defaults(run=run_export_portal)


_EXPORT_STAR_HELP = """\
Convert a submission ('<class> <x> <y> <z> [score]') or a ground truth (particle_locations.txt,
'<class> <x> <y> <z> <a1> <a2> <a3>') into a RELION particle STAR file:

  RELION 5  rlnCenteredCoordinate{X,Y,Z}Angst = (x - n/2) * voxel size (Å from the centre)
  RELION 4  rlnCoordinate{X,Y,Z} = x * binning (unbinned tilt-series pixels)

plus rlnTomoName, rlnClassNumber (SHREC class id), rlnTomoParticleName and rlnOpticsGroup; a
ground truth adds rlnAngleRot/Tilt/Psi (ZYZ, converted from the SHREC angles; nan for vesicles
and fiducials), picks with scores add rlnAutopickFigureOfMerit. The optics block carries
voltage, Cs, amplitude contrast and rlnTomoTiltSeriesPixelSize. Coordinates in the input are
0-based voxels of the reconstruction, x fastest.
"""


def run_export_star(args) -> None:
    from dataclasses import replace

    from tomobench.formats.relion import (
        TomogramGeometry,
        geometry_from_folder,
        write_particle_star,
    )
    from tomobench.particles import read_particle_locations, read_picks

    _check_in_file(args.picks, "--picks")
    _check_out_file(args.out)
    if args.data and not args.data.is_dir():
        raise InputError(f"--data {args.data}: "
                         f"{'a file' if args.data.exists() else 'not found'}, but the tomogram's "
                         "folder (with reconstruction.mrc) is expected")
    truth = args.ground_truth or args.picks.name == TRUTH_LIST_NAME
    particles = read_particle_locations(args.picks) if truth else read_picks(args.picks)
    name = args.tomogram_name or (args.data.name if args.data else
                                  args.picks.resolve().parent.name if truth else args.picks.stem)
    if args.data:
        geometry = geometry_from_folder(args.data, name=name,
                                        amplitude_contrast=args.amplitude_contrast)
    elif args.volume_shape and args.voxel_size_nm:
        geometry = TomogramGeometry(name=name, shape_zyx=tuple(args.volume_shape),
                                    voxel_size_nm=args.voxel_size_nm,
                                    amplitude_contrast=args.amplitude_contrast)
    else:
        raise InputError("give --data (the tomogram folder) or both --voxel-size-nm and "
                         "--volume-shape")
    overrides = {"voxel_size_nm": args.voxel_size_nm, "binning": args.binning,
                 "shape_zyx": tuple(args.volume_shape) if args.volume_shape else None}
    geometry = replace(geometry, **{k: v for k, v in overrides.items() if v is not None})
    _warn_if_empty("export-star", args.picks, particles)
    write_particle_star(args.out, particles, geometry, relion_version=args.relion)
    print(f"wrote {len(particles)} {'ground-truth particles' if truth else 'picks'} of "
          f"{name} to {args.out} (RELION {args.relion})")


def run_export_copick(args) -> None:
    from tomobench.formats.copick_project import export_run_folder

    _check_copick_out(args.results, args.out)
    config = export_run_folder(args.results, args.out, tomograms=args.tomograms)
    print(f"wrote copick project {config}")


def _check_copick_out(results: Path, out: Path) -> None:
    """``--results`` a folder; ``--out`` (replaced when complete) new, empty or an earlier
    copick project, and neither the run folder nor above it."""
    from tomobench.formats.copick_project import CONFIG_NAME

    if not results.is_dir():
        raise InputError(f"--results {results}: "
                         f"{'a file' if results.exists() else 'not found'}, but a tomobench run "
                         "folder (results/<name>, with data/ and picks/) is expected")
    _check_out_folder(out)
    resolved = out.resolve()
    if resolved == results.resolve() or resolved in results.resolve().parents:
        raise InputError(f"--out {out}: would replace the run folder {results}; choose a new "
                         "folder")
    if out.is_dir() and any(out.iterdir()) and not (out / CONFIG_NAME).is_file():
        raise InputError(f"--out {out}: a folder that is neither empty nor a copick project "
                         f"(no {CONFIG_NAME}); it would be replaced, choose a new folder")


def _warn_if_empty(command: str, path: Path, particles) -> None:
    if particles.empty:
        print(f"tomobench {command}: warning: {path}: no particles in this file", file=sys.stderr)


def run_export_portal(args) -> None:
    from tomobench.formats.portal import write_annotations
    from tomobench.particles import read_particle_locations, read_picks

    _check_in_file(args.picks, "--picks")
    _check_out_folder(args.out)
    truth = args.ground_truth or args.picks.name == TRUTH_LIST_NAME
    particles = read_particle_locations(args.picks) if truth else read_picks(args.picks)
    _warn_if_empty("export-portal", args.picks, particles)
    for path in write_annotations(args.out, particles):
        print(f"wrote {path}")


# --------------------------------------------------------------------------- tomobench pick

_PICK_HELP = """\
Apply a trained picker to any tomogram and write its picks.

The picker is a learning checkpoint (--checkpoint results/<name>/models/<method>/checkpoint.pt,
any of the six learned kinds) or a run's template-matching recipe (--run results/<name>
--method TM: the run's config.yaml entry, template_matching settings and potentials/). The
tomogram is an MRC file (--tomogram; voxel size from the header, or --voxel-size-nm when the
header has none) or a copick run (--copick CONFIG --copick-run RUN [--tomo-type TYPE]).

Inference parameters are the checkpoint's (tuned on the validation tomogram), overridden by the
run's configured inference keys when the checkpoint lies in its run folder (as the workflow
picks), overridden by --set KEY=VALUE (e.g. --set min_probability=0.5; for TM/TM-F the method
keys, e.g. --set top_n=500). A tomogram at another voxel size than the one the picker was
trained on (the run's tomograms) is Fourier-resampled to it for picking; the picks are mapped
back to voxels of the input tomogram. On a run's own tomogram the picks equal the workflow's
results/<name>/picks/<method>/model_<i>.txt byte for byte.

Output by the suffix of --out (or --format): .txt SHREC picks ('<class> <x> <y> <z> <score>',
voxels), .star RELION 5 particles, .json a copick configuration (points of --copick-user in run
--out-run, default the input's copick run or the tomogram name). Progress goes to stderr. A
corrupt checkpoint, an unknown kind, a tomogram smaller than the network's input, NaN voxels or a
class list that does not match is refused with one line (exit status 2) and nothing is written.

  tomobench pick --checkpoint results/default/models/DeepFinder/checkpoint.pt \\
      --tomogram my_tomogram.mrc --out picks.txt
  tomobench pick --run results/default --method TM --tomogram t.mrc --voxel-size-nm 1.5 \\
      --out picks.star
"""


def _add_pick_command(commands) -> None:
    """``tomobench pick``: a learning checkpoint or a run's TM recipe on any tomogram."""
    pick = commands.add_parser(
        "pick", help="apply a trained checkpoint or a run's template matching to a tomogram",
        description=_PICK_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    picker = pick.add_argument_group("picker (--checkpoint, or --run with --method)")
    picker.add_argument("--checkpoint", type=Path, metavar="FILE",
                        help="a learning checkpoint (results/<name>/models/<method>/"
                             "checkpoint.pt)")
    picker.add_argument("--run", type=Path, metavar="DIR", dest="run_folder",
                        help="a run folder (results/<name>): with --method, its TM/TM-F recipe "
                             "or its learned method's checkpoint")
    picker.add_argument("--method", metavar="NAME", help="method name in the run's config")
    picker.add_argument("--trained-voxel-size-nm", type=_positive, metavar="NM",
                        help="voxel size the checkpoint was trained at, when it records none "
                             "and lies outside its run folder")
    picker.add_argument("--no-run-config", action="store_true",
                        help="ignore the run's configured inference keys (checkpoint values "
                             "and --set only)")
    picker.add_argument("--set", action="append", dest="overrides", metavar="KEY=VALUE",
                        help="override an inference (or TM extraction) parameter; repeatable; "
                             "VALUE is YAML (0.5, [vesicle], null)")
    source = pick.add_argument_group("tomogram (--tomogram, or --copick with --copick-run)")
    source.add_argument("--tomogram", type=Path, metavar="MRC", help="tomogram to pick")
    source.add_argument("--copick", type=Path, metavar="CONFIG",
                        help="copick configuration (.json) holding the tomogram")
    source.add_argument("--copick-run", metavar="RUN", help="copick run of the tomogram")
    source.add_argument("--tomo-type", metavar="TYPE",
                        help="copick tomogram type (default: the run's only type)")
    source.add_argument("--voxel-size-nm", type=_positive, metavar="NM",
                        help="the tomogram's voxel size (default: the MRC header, which this "
                             "replaces; for copick the run's "
                             "only copick voxel spacing)")
    source.add_argument("--acquisition", type=Path, metavar="JSON",
                        help="TM only: acquisition_parameters.json for the template CTF and "
                             "wedge (default: the one beside the tomogram, else the run's "
                             "microscope)")
    out = pick.add_argument_group("output")
    out.add_argument("--out", required=True, type=Path, metavar="FILE",
                     help="picks file: .txt (SHREC), .star (RELION 5) or .json (copick config)")
    out.add_argument("--format", choices=("shrec", "star", "copick"),
                     help="output format (default: from the --out suffix)")
    out.add_argument("--classes", nargs="+", metavar="CLASS",
                     help="write only these classes (each one the picker reports)")
    out.add_argument("--copick-user", default="tomobench-pick", metavar="USER",
                     help="copick output: user id of the points (default tomobench-pick)")
    out.add_argument("--copick-session", default="0", metavar="SESSION",
                     help="copick output: session id (default 0)")
    out.add_argument("--out-run", metavar="RUN",
                     help="copick output: run name (default: --copick-run, else the tomogram "
                          "name)")
    compute = pick.add_argument_group("compute")
    compute.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                         help="auto (default: the GPU when torch/cupy see one), cpu or cuda")
    compute.add_argument("--threads", type=int, default=1, metavar="N",
                         help="CPU threads (default 1, as the workflow's pick jobs)")
    pick.set_defaults(run=run_pick)


def run_pick(args) -> None:
    import logging

    from tomobench.methods import apply

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("tomobench pick: %(message)s"))
    apply.logger.addHandler(handler)
    apply.logger.setLevel(logging.INFO)
    try:
        _pick(args, apply)
    finally:
        apply.logger.removeHandler(handler)


def _pick(args, apply) -> None:
    if args.threads < 1:
        raise InputError(f"--threads: must be >= 1, got {args.threads}")
    if (args.tomogram is None) == (args.copick is None):
        raise InputError("give the tomogram as --tomogram MRC or --copick CONFIG --copick-run")
    overrides = apply.parse_overrides(args.overrides)
    picker = apply.load_picker(checkpoint=args.checkpoint, run=args.run_folder,
                               method=args.method,
                               reference_nm=args.trained_voxel_size_nm,
                               use_run_config=not args.no_run_config)
    fmt = apply.output_format(args.out, args.format)
    classes = args.classes or apply.reported_classes(picker, overrides)
    apply.check_classes(picker, args.classes)
    target = None
    if fmt == "copick":
        out_run = args.out_run or args.copick_run or (
            args.tomogram.parent.name if args.tomogram.stem == "reconstruction"
            else args.tomogram.stem)
        target = apply.CopickTarget(args.out, out_run, args.copick_user, args.copick_session)
        apply.check_copick_target(target, classes)
    if args.tomogram is not None:
        tomogram = apply.read_tomogram_mrc(args.tomogram, args.voxel_size_nm)
    else:
        if not args.copick_run:
            raise InputError("--copick-run: give the copick run of the tomogram")
        tomogram = apply.read_tomogram_copick(args.copick, args.copick_run, args.tomo_type,
                                              args.voxel_size_nm)
    if picker.learned:
        picks = apply.pick_learned(picker, tomogram, overrides, args.device, args.threads)
    else:
        picks = apply.pick_template_matching(picker, tomogram, overrides, args.device,
                                             args.threads, args.acquisition)
    picks = apply.select_classes(picks, picker, args.classes)
    apply.write_output(picks, args.out, fmt, tomogram, classes, target)
    counts = picks["class_name"].value_counts().to_dict()
    print(f"wrote {len(picks)} picks of {tomogram.source} to {args.out} ({fmt}): {counts}")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``tomobench`` command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.run(args)
    except (InputError, OSError, KeyError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"tomobench {args.command}: error: {message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
