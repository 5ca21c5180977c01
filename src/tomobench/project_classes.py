"""The class table of a copick project whose pickable objects are not SHREC 2021 classes
(``dataset.source: copick``; e.g. the CZII challenge data: apo-ferritin, beta-amylase, ...).

A SHREC run's classes are :mod:`tomobench.classes` (fixed ids 1–15, the paper's Table 1). A
copick project's are its pickable objects: class id = the object's copick ``label``, radius =
its ``radius`` (Å in copick, nm here), and what the project may or may not know: a PDB id or a
density map (template matching's templates), a molecular weight (the paper's size groups) and a
CZII score weight. Those come from the config (``dataset.copick.objects.<name>``) when given,
else from the object itself (``pdb_id``; ``metadata.score_weight`` as TopCUP writes it,
``metadata.molecular_weight_kda``), else they are unknown — never guessed.

Projects whose particle objects are all SHREC class names (tomobench's own exports) keep the
SHREC table: :func:`uses_project_classes` decides.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from tomobench.errors import InputError


@dataclass(frozen=True)
class ProjectObject:
    """One pickable object of a copick project, as a class of the benchmark.

    Attributes
    ----------
    id : class id (the copick ``label``; ids in ``class_mask.mrc``).
    name : the object's name (class name in picks and particle lists).
    radius_nm : the object's radius (the label balls, the CZII hit distance; None: the
        project gives none, which only a project of SHREC classes may do).
    pdb_id, map_path : a template source for template matching (None: unknown).
    molecular_weight_kda : for the paper's size groups (None: unknown).
    czii_weight : weight of the class in the CZII weighted F-beta (None: not given).
    """

    id: int
    name: str
    radius_nm: float | None
    pdb_id: str | None = None
    map_path: str | None = None
    molecular_weight_kda: float | None = None
    czii_weight: float | None = None

    @property
    def has_template(self) -> bool:
        """Whether template matching has something to build this object's template from."""
        return bool(self.pdb_id or self.map_path)


def _number(value, what: str) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{what}: {value!r} is not a number") from None
    if not math.isfinite(number) or number < 0:
        raise InputError(f"{what}: {value!r} must be a finite number >= 0")
    return number


def objects_of_project(root, overrides: dict | None = None,
                       config_path: str = "") -> tuple[ProjectObject, ...]:
    """The particle objects of an open copick project as :class:`ProjectObject`, by label.

    ``overrides``: ``{name: {pdb_id, map_path, molecular_weight_kda, czii_weight}}`` (config key
    ``dataset.copick.objects``), which win over the object's own fields and metadata.
    """
    overrides = dict(overrides or {})
    particles = sorted((o for o in root.pickable_objects if o.is_particle), key=lambda o: o.label)
    names = {o.name for o in particles}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise InputError(f"config key dataset.copick.objects: {unknown} are not particle objects "
                         f"of {config_path} ({', '.join(sorted(names)) or 'none'})")
    labels = [int(o.label) for o in particles]
    if len(set(labels)) != len(labels) or min(labels, default=1) < 1:
        raise InputError(f"{config_path}: the particle objects' labels {labels} must be distinct "
                         "and >= 1 (they are the class ids)")
    objects = []
    for obj in particles:
        given = overrides.get(obj.name, {})
        metadata = dict(obj.metadata or {})
        key = f"dataset.copick.objects.{obj.name}"
        weight = given.get("czii_weight", metadata.get("score_weight"))
        mass = given.get("molecular_weight_kda", metadata.get("molecular_weight_kda"))
        objects.append(ProjectObject(
            id=int(obj.label), name=obj.name,
            radius_nm=float(obj.radius) / 10.0 if obj.radius else None,
            pdb_id=given.get("pdb_id", obj.pdb_id) or None,
            map_path=given.get("map_path") or None,
            molecular_weight_kda=_number(mass, f"{key}.molecular_weight_kda"),
            czii_weight=_number(weight, f"{key}.czii_weight")))
    return tuple(objects)


def uses_project_classes(objects) -> bool:
    """Whether a project's objects are its own classes (some name is not a SHREC class)."""
    from tomobench.classes import SHREC_CLASS_NAMES

    return any(o.name not in SHREC_CLASS_NAMES[1:] for o in objects)


def own_classes(objects, config_path: str = "") -> tuple[ProjectObject, ...]:
    """``objects`` when they are the project's own classes (each then needs a radius: the label
    balls and the CZII hit distance), ``()`` when they are SHREC classes."""
    if not uses_project_classes(objects):
        return ()
    missing = [o.name for o in objects if not o.radius_nm]
    if missing:
        raise InputError(f"{config_path}: pickable objects {missing} have no radius (the label "
                         "balls and the CZII hit distance of a project's own classes need one)")
    return tuple(objects)


def project_objects(config: dict) -> tuple[ProjectObject, ...]:
    """The run's project classes: the copick project's objects when it has its own classes,
    ``()`` for a simulated or SHREC source and for a copick project of SHREC classes."""
    dataset = config.get("dataset", {})
    if dataset.get("source") != "copick" or not dataset.get("path"):
        return ()
    from tomobench.formats import copick_project

    path = Path(dataset["path"])
    root = copick_project.open_project(path)
    objects = objects_of_project(root, dataset.get("copick", {}).get("objects"), str(path))
    return own_classes(objects, str(path))


def class_table(objects) -> tuple[str, ...]:
    """Class name of each class id (index = copick label; 0 = background; "" = unused id)."""
    table = [""] * (max((o.id for o in objects), default=0) + 1)
    table[0] = "background"
    for obj in objects:
        table[obj.id] = obj.name
    return tuple(table)


def radii_nm(objects) -> dict[str, float]:
    """``{name: radius_nm}`` (the CZII hit distance is a fraction of it)."""
    return {o.name: o.radius_nm for o in objects}


def czii_weights(objects) -> dict[str, float] | None:
    """``{name: weight}`` when every object has a CZII weight, else None (no weighted score:
    a partial set of weights is not filled in)."""
    if objects and all(o.czii_weight is not None for o in objects):
        return {o.name: o.czii_weight for o in objects}
    return None


def check_methods(config: dict, objects) -> None:
    """``InputError`` (one line, before any job) for a method that cannot run on a project's
    own objects (nothing for ``objects == ()``).

    Template matching (TM, TM-F) needs a template of every object (a PDB id or map); objects
    without one are named. Even with one for each, the template pipeline builds templates of
    ``structures.classes`` (SHREC PDB ids) only, so TM on project objects is refused too. The
    learned pickers' class ids and output channels are the SHREC table's, so they are refused
    as well (their labels, balls of each object's radius with the object's label, are made by
    the import), and so are ``command`` methods (their manifest's class table is the SHREC
    one). DoG and ``submission`` methods and the controls run.
    """
    from tomobench.methods.kinds import LEARNING_KINDS, TEMPLATE_MATCHING_KINDS

    if not objects:
        return
    names = [o.name for o in objects]
    for method, params in config.get("methods", {}).items():
        kind, where = params.get("kind"), f"config key methods.{method}"
        if kind in TEMPLATE_MATCHING_KINDS:
            missing = [o.name for o in objects if not o.has_template]
            if missing:
                raise InputError(f"{where}: {kind} needs a template of every class, but the "
                                 f"copick objects {missing} have no PDB id or map (set "
                                 "dataset.copick.objects.<name>.pdb_id or remove the method)")
            raise InputError(f"{where}: {kind} on a copick project's own objects {names} is "
                             "not supported (templates are built for structures.classes, SHREC "
                             "classes only); remove the method")
        if kind == "command":
            raise InputError(f"{where}: a command method's manifest describes SHREC classes "
                             "(PDB ids, potentials); it is not carried to a copick project's "
                             f"own objects {names}: use kind: submission for its picks")
        if kind in LEARNING_KINDS:
            raise InputError(f"{where}: the learned picker {kind} is not carried to a copick "
                             f"project's own objects {names} (its classes are the SHREC "
                             "table's); remove the method")


#: Paper outputs laid out on the SHREC 2021 classes (their columns, the published numbers beside
#: them), not carried to a project's own classes yet: skipped, the report says why.
SHREC_LAYOUT_OUTPUTS = {
    "table2": "Table 2 (particles per class) is laid out on the SHREC 2021 classes and counts",
    "table4": "Table 4 (per-class F1) is laid out on the SHREC 2021 classes; each evaluation "
              "JSON holds the project's per-class scores (classification, czii)",
    "figure9": "Figure 9 (cumulative F1) is drawn from Table 4",
    "figure11": "Figure 11 (confusion matrices) orders the SHREC 2021 classes by weight",
}


def skipped_outputs(objects) -> dict[str, str]:
    """``{"table1" | ... | "figure11": reason}``: the paper outputs a project of its own classes
    skips (``{}`` for SHREC classes). Tables 3 and 7 and Figure 4 are made for every source."""
    if not objects:
        return {}
    skipped = {"table1": "Table 1 lists the simulated potentials of the SHREC 2021 classes; "
                         "a copick project's objects have no potentials here"}
    weightless = [o.name for o in objects if o.molecular_weight_kda is None]
    if weightless:
        why = (f"needs each class's molecular weight, which objects {weightless} lack "
               "(dataset.copick.objects.<name>.molecular_weight_kda)")
    else:
        why = "groups the SHREC 2021 classes; grouping a project's objects is not carried yet"
    skipped["table5"] = f"Table 5 (size groups by molecular weight) {why}"
    skipped["table6"] = f"Table 6 (size-group F1) {why}"
    skipped["figure10"] = f"Figure 10 (F1 against molecular weight) {why}"
    skipped.update(SHREC_LAYOUT_OUTPUTS)
    return skipped
