"""Find, validate and load implant catalogs: bundled, from folders, from installed packages.

A catalog is data: one folder per vendor, one JSON file per implant family (see
``docs/catalog.md``). :func:`load_catalog` reads, in this order (the first family of a
given vendor and name wins; a later duplicate is reported as a warning and ignored):

1. the folders or files passed as ``paths``;
2. the folders listed in ``ORTHOPLAN_CATALOG_PATH`` (``os.pathsep``-separated);
3. the folders named by installed packages through the ``orthoplan.implant_catalogs``
   entry-point group (an entry point resolves to a folder path, a module or package
   (its folder), or a callable returning a folder path or a list of them);
4. the catalogs bundled with orthoplan (:func:`bundled_catalog_dirs`).

A malformed file never hides the good ones: it is skipped and reported in
:attr:`Catalog.problems` with the file, the field (a JSON pointer) and the reason, and
logged as a warning; ``strict=True`` raises :class:`~orthoplan.errors.CatalogError` instead.

Examples
--------
>>> cat = load_catalog(include_env=False, include_entry_points=False)
>>> cat.find("Trident II Clusterhole HA").kind
'cup'
>>> sorted({f.kind for f in cat.families})
['cup', 'femoral_component', 'head', 'stem', 'tibial_insert', 'tibial_tray']
"""

from __future__ import annotations

import json
import logging
import os
import sys
import sysconfig
import types
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CatalogError
from .schema import (
    KINDS,
    CatalogProblem,
    ImplantSize,
    Source,
    parse_sizes,
    slug,
    validate_family_document,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "ENV_VAR",
    "ImplantFamily",
    "Catalog",
    "load_catalog",
    "load_family_file",
    "validate_catalog_folder",
    "catalog_listing",
    "bundled_catalog_dirs",
]

logger = logging.getLogger(__name__)

#: Entry-point group through which installed packages add catalog folders.
ENTRY_POINT_GROUP = "orthoplan.implant_catalogs"
#: Environment variable listing extra catalog folders (``os.pathsep``-separated).
ENV_VAR = "ORTHOPLAN_CATALOG_PATH"

_QUALITY_ORDER = ("vendor-document", "literature", "approximate", "generic")


# --------------------------------------------------------------------------- values


@dataclass(frozen=True)
class ImplantFamily:
    """One implant family: its identity, provenance and sizes (immutable).

    ``sizes`` are :class:`~orthoplan.catalog.CupSize`, :class:`~orthoplan.catalog.StemSize`
    or :class:`~orthoplan.catalog.HeadSize` by ``kind``, in the file's (increasing) order.
    ``field_sources`` maps each size field to the id of one of ``sources``.
    """

    vendor: str
    family: str
    kind: str
    fixation: str
    sizes: tuple[ImplantSize, ...]
    sources: tuple[Source, ...]
    path: Path | None = None
    field_sources: tuple[tuple[str, str], ...] = ()
    schema_version: str = "1.0"
    product_line: str | None = None
    variant: str | None = None
    description: str | None = None
    notes: tuple[str, ...] = ()
    origin: str = ""  #: "bundled", "paths", "env", "entry point <name>"

    @property
    def key(self) -> str:
        """``"<vendor slug>/<family slug>"``, unique within a catalog."""
        return f"{slug(self.vendor)}/{slug(self.family)}"

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(s.label for s in self.sizes)

    def size(self, label: str | int | float) -> ImplantSize:
        """The size with this label (``52`` and ``"52"`` are the same label).

        Raises :class:`~orthoplan.errors.CatalogError` naming the family's sizes otherwise.
        """
        want = _label_text(label)
        for s in self.sizes:
            if s.label == want or s.label.casefold() == want.casefold():
                return s
        raise CatalogError(
            f"unknown size {want!r} of {self.vendor} {self.family}; sizes: {', '.join(self.labels)}"
        )

    def source_for(self, field_name: str) -> Source | None:
        """The source a size field's numbers come from (``None`` if the field has none)."""
        sid = dict(self.field_sources).get(field_name)
        return next((s for s in self.sources if s.id == sid), None)

    @property
    def data_quality(self) -> str:
        """The weakest kind of source behind any size field.

        ``"vendor-document"`` when every number comes from the vendor's published tables,
        else ``"literature"``, ``"approximate"`` or ``"generic"``.
        """
        kinds = {s.kind for s in (self.source_for(f) for f, _ in self.field_sources) if s is not None}
        worst = max((_QUALITY_ORDER.index(k) for k in kinds if k in _QUALITY_ORDER), default=len(_QUALITY_ORDER) - 1)
        return _QUALITY_ORDER[worst]


@dataclass(frozen=True)
class Catalog:
    """The implant families that loaded, and the problems of those that did not."""

    families: tuple[ImplantFamily, ...]
    problems: tuple[CatalogProblem, ...] = field(default=())

    def find(self, family: str, vendor: str | None = None, *, kind: str | None = None,
             prefix: bool = False) -> ImplantFamily:
        """The family named ``family`` (its name, slug or file stem; case-insensitive).

        ``kind`` (``"cup"``, ``"stem"`` …) prefers a family of that kind where a name is made in
        several kinds, and narrows the prefixes and suggestions to it. ``prefix=True`` (for
        names a person types, e.g. ``--cup Pinnacle``) accepts a unique case-insensitive prefix
        of the name; a prefix of several families lists them.

        Raises :class:`~orthoplan.errors.CatalogError` when nothing matches
        (``"unknown implant family 'Pinacle'; did you mean 'Pinnacle Sector II'? …"``, or the
        known families when nothing is close), when a prefix is ambiguous, or when the name is
        made by several vendors and ``vendor`` is not given.

        Examples
        --------
        >>> cat = load_catalog(include_env=False, include_entry_points=False)
        >>> cat.find("Pinnacle", kind="cup", prefix=True).family
        'Pinnacle Sector II'
        """
        from ..names import NameLookupError, resolve_name

        def keys(f: ImplantFamily) -> set[str]:
            return {slug(f.family), slug(f.path.stem) if f.path else ""} - {""}

        want = slug(family)
        pool = [f for f in self.families
                if vendor is None or slug(vendor) in {slug(f.vendor), slug(f.path.parent.name) if f.path else ""}]
        cands = [f for f in pool if want in keys(f)]
        if kind is not None and any(f.kind == kind for f in cands):
            cands = [f for f in cands if f.kind == kind]
        if not cands:
            scope = [f for f in pool if kind is None or f.kind == kind]
            spell = {f.family: set() for f in scope}
            for f in scope:
                spell[f.family] |= keys(f)
            who = f" by vendor {vendor!r}" if vendor is not None else ""
            what = f"{kind.replace('_', ' ')} family" if kind else "implant family"
            try:
                name = resolve_name(family, list(spell), what="implant family", prefix=prefix,
                                    keys=lambda n: spell[n])
            except NameLookupError as exc:
                if exc.ambiguous:
                    raise CatalogError(f"{what} {family!r}{who} is ambiguous: it starts "
                                       + ", ".join(repr(c) for c in exc.candidates)
                                       + "; give more of the name") from None
                listing = f"orthoplan catalog list{' --kind ' + kind if kind else ''}"
                if exc.candidates:
                    raise CatalogError(
                        f"unknown implant family {family!r}{who}; did you mean "
                        + " or ".join(repr(c) for c in exc.candidates) + f"? (`{listing}` lists them)"
                    ) from None
                known = ", ".join(sorted(f"{f.vendor} / {f.family}" for f in scope)) or "(none)"
                raise CatalogError(f"unknown implant family {family!r}{who}; known: {known}") from None
            cands = [f for f in scope if f.family == name]
            logger.info("implant family %r read as %r", family, name)
        if len(cands) == 1:
            return cands[0]
        raise CatalogError(
            f"implant family {family!r} is made by several vendors ({', '.join(sorted(f.vendor for f in cands))}); "
            "pass vendor= to choose"
        )

    def of_kind(self, kind: str) -> tuple[ImplantFamily, ...]:
        """Every family of one kind (``"cup"``, ``"stem"``, ``"head"``, ``"femoral_component"``,
        ``"tibial_tray"``, ``"tibial_insert"``), in load order."""
        if kind not in KINDS:
            raise CatalogError(f"unknown implant kind {kind!r}; kinds: {', '.join(KINDS)}")
        return tuple(f for f in self.families if f.kind == kind)

    @property
    def errors(self) -> tuple[CatalogProblem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")


def _label_text(label: str | int | float) -> str:
    if isinstance(label, float) and label.is_integer():
        label = int(label)
    return str(label)


# --------------------------------------------------------------------------- one file


def _read_document(path: Path, display: str) -> tuple[Any, list[CatalogProblem]]:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return None, [CatalogProblem(display, "", f"cannot read the file: {exc.strerror or exc}")]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return None, [CatalogProblem(display, "", f"not UTF-8 text (byte {exc.start})")]
    try:
        return json.loads(text), []
    except json.JSONDecodeError as exc:
        return None, [CatalogProblem(display, "", f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}")]


def load_family_file(path: str | os.PathLike, *, origin: str = "paths") -> tuple[ImplantFamily | None, list[CatalogProblem]]:
    """Read and validate one family file: ``(family or None, problems)``.

    The family is ``None`` when any problem is an error; warnings come with a family.
    """
    p = Path(path)
    display = str(p)
    doc, problems = _read_document(p, display)
    if problems:
        return None, problems
    problems = validate_family_document(doc, display)
    if any(pr.severity == "error" for pr in problems):
        return None, problems
    fam = ImplantFamily(
        vendor=doc["vendor"],
        family=doc["family"],
        kind=doc["kind"],
        fixation=doc["fixation"],
        sizes=parse_sizes(doc),
        sources=tuple(Source.from_dict(s) for s in doc["sources"]),
        path=p,
        field_sources=tuple(sorted(doc["field_sources"].items())),
        schema_version=doc["schema_version"],
        product_line=doc.get("product_line"),
        variant=doc.get("variant"),
        description=doc.get("description"),
        notes=tuple(doc.get("notes", ())),
        origin=origin,
    )
    return fam, problems


def _json_files(root: Path) -> list[Path]:
    return sorted(
        p for p in root.rglob("*.json") if p.is_file() and not any(part.startswith((".", "_")) for part in p.relative_to(root).parts)
    )


def _vendor_folder_problem(root: Path, path: Path, fam: ImplantFamily) -> CatalogProblem | None:
    rel = path.relative_to(root)
    if len(rel.parts) < 2:
        return None
    folder = rel.parts[-2]
    if slug(folder) != slug(fam.vendor):
        return CatalogProblem(
            str(path), "/vendor", f"vendor {fam.vendor!r} is filed under folder {folder!r} (expected {slug(fam.vendor)!r})", "warning"
        )
    return None


def _load_root(root: Path, origin: str) -> tuple[list[ImplantFamily], list[CatalogProblem]]:
    fams: list[ImplantFamily] = []
    problems: list[CatalogProblem] = []
    if root.is_file():
        files, base = [root], root.parent
    elif root.is_dir():
        files, base = _json_files(root), root
    else:
        return [], [CatalogProblem(str(root), "", f"catalog folder does not exist ({origin})")]
    for path in files:
        fam, probs = load_family_file(path, origin=origin)
        problems.extend(probs)
        if fam is not None:
            vp = _vendor_folder_problem(base, path, fam) if root.is_dir() else None
            if vp is not None:
                problems.append(vp)
            fams.append(fam)
    return fams, problems


# --------------------------------------------------------------------------- where catalogs are


def bundled_catalog_dirs() -> list[Path]:
    """The folder of the catalogs shipped with orthoplan (empty list if none is found).

    Looked for, first found wins: ``orthoplan/catalog/bundled`` (package data), the
    ``implant_catalogs/`` folder of a source checkout, and ``<prefix>/share/orthoplan/
    implant_catalogs`` where a wheel installs it as data files (``sys.prefix``, the user
    base, and the data path of the install scheme).
    """
    here = Path(__file__).resolve().parent
    candidates = [here / "bundled", here.parents[1] / "implant_catalogs"]
    prefixes = [Path(sys.prefix)]
    try:
        import site

        prefixes.append(Path(site.getuserbase()))
    except Exception:  # pragma: no cover - site may be limited in embedded interpreters
        pass
    try:
        prefixes.append(Path(sysconfig.get_path("data")))
    except Exception:  # pragma: no cover
        pass
    candidates += [p / "share" / "orthoplan" / "implant_catalogs" for p in prefixes]
    for c in candidates:
        if c.is_dir() and any(c.rglob("*.json")):
            return [c]
    return []


def _env_dirs() -> list[Path]:
    value = os.environ.get(ENV_VAR, "")
    return [Path(v).expanduser() for v in value.split(os.pathsep) if v.strip()]


def _as_paths(obj: Any) -> list[Path]:
    if isinstance(obj, types.ModuleType):
        if getattr(obj, "__file__", None):
            return [Path(obj.__file__).resolve().parent]
        return [Path(p) for p in getattr(obj, "__path__", [])]
    if isinstance(obj, (str, os.PathLike)):
        return [Path(obj)]
    if callable(obj):
        return _as_paths(obj())
    if isinstance(obj, Iterable):
        out: list[Path] = []
        for item in obj:
            out.extend(_as_paths(item))
        return out
    raise TypeError(f"expected a folder path, a module, a callable or a list of paths, got {type(obj).__name__}")


def _entry_point_dirs() -> tuple[list[tuple[Path, str]], list[CatalogProblem]]:
    from importlib.metadata import entry_points

    dirs: list[tuple[Path, str]] = []
    problems: list[CatalogProblem] = []
    for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        where = f"entry point {ep.name} = {ep.value}"
        try:
            paths = _as_paths(ep.load())
        except Exception as exc:  # a broken plug-in must not break orthoplan
            problems.append(CatalogProblem(where, "", f"cannot load the entry point: {type(exc).__name__}: {exc}"))
            continue
        dirs.extend((p, f"entry point {ep.name}") for p in paths)
    return dirs, problems


# --------------------------------------------------------------------------- the catalog


def load_catalog(
    paths: str | os.PathLike | Sequence[str | os.PathLike] | None = None,
    *,
    include_bundled: bool = True,
    include_entry_points: bool = True,
    include_env: bool = True,
    strict: bool = False,
) -> Catalog:
    """Load every implant family from the given folders/files and the standard places.

    Parameters
    ----------
    paths
        Extra catalog folders (or single family files), read first.
    include_bundled, include_entry_points, include_env
        Also read the bundled catalogs, the ``orthoplan.implant_catalogs`` entry points,
        and the folders of ``ORTHOPLAN_CATALOG_PATH``.
    strict
        Raise :class:`~orthoplan.errors.CatalogError` listing the problems when any file
        has an error, instead of skipping it.

    Examples
    --------
    >>> cat = load_catalog(include_env=False, include_entry_points=False)
    >>> cat.find("generic uncemented straight stem").size(5).neck_shaft_angle_deg
    135.0
    """
    if paths is None:
        roots: list[tuple[Path, str]] = []
    elif isinstance(paths, (str, os.PathLike)):
        roots = [(Path(paths), "paths")]
    else:
        roots = [(Path(p), "paths") for p in paths]
    problems: list[CatalogProblem] = []
    if include_env:
        roots += [(p, f"{ENV_VAR}") for p in _env_dirs()]
    if include_entry_points:
        ep_dirs, ep_problems = _entry_point_dirs()
        roots += ep_dirs
        problems += ep_problems
    if include_bundled:
        roots += [(p, "bundled") for p in bundled_catalog_dirs()]

    families: list[ImplantFamily] = []
    seen: dict[str, ImplantFamily] = {}
    for root, origin in roots:
        fams, probs = _load_root(root, origin)
        problems += probs
        for fam in fams:
            if fam.key in seen:
                first = seen[fam.key]
                problems.append(CatalogProblem(
                    str(fam.path), "/family",
                    f"{fam.vendor} / {fam.family} is already loaded from {first.path} ({first.origin}); this copy is ignored",
                    "warning",
                ))
                continue
            seen[fam.key] = fam
            families.append(fam)
    for p in problems:
        logger.warning("implant catalog %s: %s", p.severity, p)
    errors = [p for p in problems if p.severity == "error"]
    if strict and errors:
        shown = "; ".join(str(p) for p in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        raise CatalogError(f"{len(errors)} problem(s) in the implant catalogs: {shown}{more}")
    return Catalog(tuple(families), tuple(problems))


def validate_catalog_folder(path: str | os.PathLike) -> list[CatalogProblem]:
    """Every problem (errors and warnings) of the family files in a folder (or one file).

    For ``orthoplan catalog check PATH``: an empty list means the folder is clean. Besides
    each file's own problems, it reports a vendor filed under another vendor's folder and
    two files describing the same family.

    Examples
    --------
    >>> [str(p) for p in validate_catalog_folder(bundled_catalog_dirs()[0])]
    []
    """
    root = Path(path)
    fams, problems = _load_root(root, "check")
    seen: dict[str, ImplantFamily] = {}
    for fam in fams:
        if fam.key in seen:
            problems.append(CatalogProblem(str(fam.path), "/family", f"same vendor and family as {seen[fam.key].path}"))
        seen.setdefault(fam.key, fam)
    return problems


def catalog_listing(catalog: Catalog) -> list[dict[str, Any]]:
    """One JSON-ready row per family, for ``orthoplan catalog list --json``.

    Keys: ``vendor``, ``family``, ``kind``, ``fixation``, ``variant``, ``sizes`` (labels),
    ``data_quality``, ``sources`` (``"kind: title"`` strings), ``path``, ``origin``.
    """
    rows = []
    for f in catalog.families:
        rows.append({
            "vendor": f.vendor,
            "family": f.family,
            "kind": f.kind,
            "fixation": f.fixation,
            "variant": f.variant,
            "sizes": list(f.labels),
            "data_quality": f.data_quality,
            "sources": [f"{s.kind}: {s.title}" for s in f.sources],
            "path": str(f.path) if f.path else None,
            "origin": f.origin,
        })
    return rows
