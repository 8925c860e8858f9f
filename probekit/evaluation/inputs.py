"""Opening the stores of a run: hashes, controls they stand for, alignment checks."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from probekit.errors import BadOptionError, FileFormatError
from probekit.evaluation.targets import LabelSource
from probekit.formats.store import Store


@dataclass
class StoreInput:
    """One input store of a run."""

    path: Path
    label: str
    hash: str
    store: Store
    labels: LabelSource
    control: str
    attrs: dict
    order: np.ndarray | None  # row of each reference clip in this store (None: same order)

    def features(self, layer: int, kind: str) -> np.ndarray:
        """One layer's features in the reference clip order."""
        data = self.store.features(layer, kind)
        return data if self.order is None else data[self.order]


def file_hash(path: Path, chunk: int = 1 << 22) -> str:
    """sha256 of the file's bytes (hex)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def control_of(attrs: dict) -> str:
    """The control a store stands for, from its provenance attributes."""
    seed = attrs.get("shuffle_frames_seed", -1)
    if seed not in (None, -1, "-1") and int(seed) >= 0:
        return "shuffled"
    if str(attrs.get("encoder", "")).startswith("pixel"):
        return "pixels"
    if str(attrs.get("weights", "")) == "random" or str(attrs.get("init", "")) == "random":
        return "random_init"
    return "none"


def store_label(attrs: dict, path: Path) -> str:
    """A readable label: the store's own ``label`` (``extract --label``), else encoder plus weights
    (and the control), else the file stem."""
    if attrs.get("label"):
        return str(attrs["label"])
    encoder = str(attrs.get("encoder", "") or path.stem)
    weights = str(attrs.get("weights", "") or "")
    label = f"{encoder}:{weights}" if weights else encoder
    control = control_of(attrs)
    return f"{label}:shuffled" if control == "shuffled" else label


class _ReorderedLabels(LabelSource):
    def __init__(self, store: Store, order: np.ndarray | None) -> None:
        super().__init__(store)
        self.order = order

    def get(self, name: str) -> np.ndarray:
        if name not in self._cache:
            data = self.store.labels(name)
            if self.order is not None and name not in ("frame_mid",) and data.ndim >= 1 and len(data) == len(self.order):
                data = data[self.order]
            self._cache[name] = data
        return self._cache[name]


def open_inputs(paths: list[Path]) -> list[StoreInput]:
    """Open, hash and align the stores of a run.

    Raises
    ------
    BadOptionError
        A store repeated, duplicate clips inside a store, or stores over different clips.
    """
    if not paths:
        raise BadOptionError("probe: give at least one latent store")
    seen: dict[str, Path] = {}
    inputs: list[StoreInput] = []
    reference: list[str] | None = None
    for path in paths:
        path = Path(path)
        if not path.exists():
            raise FileFormatError(f"{path}: no such file; check the path")
        store = Store(path)
        digest = file_hash(path)
        if digest in seen:
            raise BadOptionError(f"{path}: the same store as {seen[digest]} (equal content hash); give each store once")
        seen[digest] = path
        clips = store.clips()
        ids = list(clips["clip_id"])
        if len(set(ids)) != len(ids):
            dup = clips["clip_id"][clips["clip_id"].duplicated()].iloc[0]
            raise BadOptionError(f"{path}: clip {dup!r} occurs twice (duplicate clip content across merged inputs); drop the duplicates and re-extract")
        if "content_hash" in store.dataset("clips"):
            hashes = [h.decode() if isinstance(h, bytes) else str(h) for h in store.dataset("clips/content_hash")[()]]
            if len(set(hashes)) != len(hashes):
                raise BadOptionError(f"{path}: two clips have equal content hashes (duplicate clip content); drop the duplicates")
        order = None
        if reference is None:
            reference = ids
        elif ids != reference:
            if sorted(ids) != sorted(reference):
                missing = len(set(reference) - set(ids))
                extra = len(set(ids) - set(reference))
                raise BadOptionError(
                    f"{path}: holds different clips than {paths[0]} ({missing} missing, {extra} extra); stores compared in one run must cover the same clips, extract them from the same world files"
                )
            position = {cid: i for i, cid in enumerate(ids)}
            order = np.array([position[cid] for cid in reference])
        attrs = store.attrs
        inputs.append(StoreInput(path, store_label(attrs, path), digest, store, _ReorderedLabels(store, order), control_of(attrs), attrs, order))
    labels = [s.label for s in inputs]
    stems = [s.path.stem for s in inputs]
    for i, item in enumerate(inputs):  # equal labels (two checkpoints of one encoder): add the file name
        if labels.count(item.label) > 1:
            item.label = f"{item.label} [{item.path.stem}]" if stems.count(item.path.stem) == 1 else f"{item.label}#{i}"
    return inputs
