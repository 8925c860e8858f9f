"""Scoring a probe sweep: scores of the out-of-fold predictions, the layer and readout chosen by inner
CV, selectivity against control tasks and paired comparisons between stores."""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any

import numpy as np

from probekit.evaluation.controls import control_labels
from probekit.evaluation.executors import Executor
from probekit.evaluation.scoring import HIGHER_IS_BETTER, METRICS, score_rows
from probekit.evaluation.targets import TargetData
from probekit.metrics import contrast_bootstrap, paired_bootstrap
from probekit.evaluation.oof import OOF


#: Score problems per worker handed to an executor at once.
SCORE_BATCH = 16


def score_task(problem: dict) -> list[dict]:
    """:func:`score_rows` of one problem (:meth:`SweepScoring._score_problem`; run by an executor)."""
    return score_rows(**problem)


class SweepScoring:
    """The scoring half of :class:`probekit.evaluation.sweep.Sweep` (state lives on the sweep)."""

    # -- scoring, selection, comparisons ---------------------------------------------------------
    def _store_labels(self) -> set[str]:
        return {item.label for item in self.inputs}

    def _store_meta(self, label: str) -> dict[str, Any]:
        for item in self.inputs:
            if item.label == label:
                return {"store_hash": item.hash, "encoder": str(item.attrs.get("encoder", "")), "weights": str(item.attrs.get("weights", "")), "store_control": item.control}
        return {"store_hash": "", "encoder": "", "weights": "", "store_control": "none"}

    def _task(self, store: str, name: str, slot: int) -> TargetData:
        """The target ``name`` at ``slot`` on the time grid of ``store`` (a store or label pseudo-store)."""
        for data in self.grid_of[store].tasks:
            if data.spec.name == name and data.slot == slot:
                return data
        raise KeyError((name, slot))

    def _score_problem(self, data: TargetData, oof: OOF, by_scenario: bool = True, y_all: np.ndarray | None = None) -> dict:
        """The arguments of :func:`score_rows` for one set of out-of-fold predictions."""
        y = (data.y if y_all is None else y_all)[oof.idx]
        sym = None if data.symmetry is None else data.symmetry[oof.idx]
        half = None if data.half_extents is None else data.half_extents[oof.idx]
        return dict(kind=data.spec.kind, y=y, pred=oof.pred, score=oof.score, fold=oof.fold, families=self.families[data.clip[oof.idx]],
                    scenarios=self.scenarios[data.clip[oof.idx]], n_boot=self.suite.n_boot, seed=self.seed, symmetry=sym, half=half,
                    by_scenario=by_scenario)

    def _score_oof(self, data: TargetData, oof: OOF, by_scenario: bool = True, y_all: np.ndarray | None = None) -> list[dict]:
        return score_task(self._score_problem(data, oof, by_scenario, y_all))

    def _score_all(self, executor: Executor) -> None:
        """Score rows of every (store, target, slot, readout, control, layer), the bootstraps run by ``executor``
        in batches (memory stays bounded), recorded in the serial order."""
        self.log("scoring")
        planned: list[tuple] = []
        for (store, target, slot, readout, control), by_layer in self.oof.items():
            data = self._task(store, target, slot)
            for layer, oof in sorted(by_layer.items()):
                if len(oof.idx):
                    planned.append((store, data, readout, control, layer, oof))
        size = SCORE_BATCH * executor.batch
        for start in range(0, len(planned), size):
            chunk = planned[start : start + size]
            problems = []
            for store, data, _, control, _, oof in chunk:
                y_all = control_labels(self.grid_of[store].labels, self.scenarios, data, seed=self.seed) if control == "control_task" else None
                problems.append(self._score_problem(data, oof, y_all=y_all))
            for (store, data, readout, control, layer, oof), rows in zip(chunk, executor.map(score_task, problems)):
                self._record_scores(store, data, readout, control, layer, oof, rows)
        for skip in self.result.skipped:
            self.result.rows.append(
                {
                    "store": skip.get("store", ""), "store_hash": "", "encoder": "", "weights": "", "layer": -1, "target": skip["target"],
                    "slot": int(skip["slot"]), "readout": skip.get("readout", ""), "control": "none", "scenario": "all", "metric": "",
                    "score": np.nan, "ci_low": np.nan, "ci_high": np.nan, "fold_scores": "[]", "n": 0, "n_families": 0, "unit": "", "note": skip["note"],
                }
            )

    def _record_scores(self, store: str, data: TargetData, readout: str, control: str, layer: int, oof: OOF,
                       rows: list[dict]) -> None:
        target, slot = data.spec.name, data.slot
        meta = self._store_meta(store)
        row_control = control if control != "none" else meta["store_control"]
        base = {
            "store": store, "store_hash": meta["store_hash"], "encoder": meta["encoder"], "weights": meta["weights"],
            "layer": int(layer), "target": target, "slot": int(slot), "readout": readout, "control": row_control,
            "unit": "deg" if data.spec.kind == "rotation" else ("1" if data.spec.kind == "binary" else data.spec.unit), "note": "",
        }
        for row in rows:
            unit = data.spec.unit if row["metric"] == "mae" else ("deg" if row["metric"] == "geodesic_deg" else "1")
            self.result.rows.append({**base, **row, "unit": unit})
        if control == "control_task":
            task = self.oof.get((store, target, slot, readout, "none"), {}).get(layer)
            if task is not None:
                self.result.rows.append({**base, **self._selectivity(store, data, task, oof), "unit": "1"})

    def _paired(self, data: TargetData, a: OOF, b: OOF) -> tuple[str, float, float, float, int]:
        """Paired bootstrap of the primary metric on the samples both predictions cover."""
        common, ia, ib = np.intersect1d(a.idx, b.idx, return_indices=True)
        metric = METRICS[data.spec.kind][0]
        y = data.y[common]
        sym = None if data.symmetry is None else data.symmetry[common]
        half = None if data.half_extents is None else data.half_extents[common]
        groups = self.families[data.clip[common]]
        if metric == "geodesic_deg":
            from probekit.metrics import geodesic_deg

            ea, eb = geodesic_deg(y, a.pred[ia], sym, half), geodesic_deg(y, b.pred[ib], sym, half)
            d, lo, hi = paired_bootstrap("mean", np.zeros_like(ea), ea, eb, groups, n_boot=self.suite.n_boot, seed=self.seed)
        else:
            d, lo, hi = paired_bootstrap(metric, y, a.pred[ia], b.pred[ib], groups, n_boot=self.suite.n_boot, seed=self.seed)
        return metric, d, lo, hi, len(common)

    def _paired_by_family(self, data_a: TargetData, a: OOF, data_b: TargetData, b: OOF) -> tuple[str, float, float, float, int]:
        """Stores on different time grids: each scored on its own samples, families resampled jointly.

        Clip-level targets hold the same samples on every grid and are paired sample by sample.
        """
        if (data_a.step < 0).all() and (data_b.step < 0).all() and np.array_equal(data_a.clip, data_b.clip):
            return self._paired(data_a, a, b)
        metric = METRICS[data_a.spec.kind][0]
        terms = []
        for sign, data, oof in ((1.0, data_a, a), (-1.0, data_b, b)):
            y = data.y[oof.idx]
            if metric == "geodesic_deg":
                from probekit.metrics import geodesic_deg

                sym = None if data.symmetry is None else data.symmetry[oof.idx]
                half = None if data.half_extents is None else data.half_extents[oof.idx]
                terms.append((sign, "mean", np.zeros(len(y)), geodesic_deg(y, oof.pred, sym, half), self.families[data.clip[oof.idx]]))
            else:
                terms.append((sign, metric, y, oof.pred, self.families[data.clip[oof.idx]]))
        d, lo, hi = contrast_bootstrap(terms, n_boot=self.suite.n_boot, seed=self.seed)
        return metric, d, lo, hi, int(min(len(a.idx), len(b.idx)))

    def _selectivity(self, store: str, data: TargetData, task: OOF, control: OOF) -> dict:
        """Selectivity = task score - control-task score (paired over families)."""
        common, it, ic = np.intersect1d(task.idx, control.idx, return_indices=True)
        metric = METRICS[data.spec.kind][0]
        yc = control_labels(self.grid_of[store].labels, self.scenarios, data, seed=self.seed)
        groups = self.families[data.clip[common]]
        value, lo, hi = paired_bootstrap(metric, data.y[common], task.pred[it], control.pred[ic], groups, n_boot=self.suite.n_boot, seed=self.seed, y_true_b=yc[common])
        n_fam = len(np.unique(groups))
        return {
            "scenario": "all", "metric": "selectivity", "score": value, "ci_low": float(lo), "ci_high": float(hi),
            "fold_scores": "[]", "n": int(len(common)), "n_families": int(n_fam), "note": f"{metric}: task - control task",
        }

    def _selected(self, by_layer: dict[int, OOF], higher: bool = True) -> tuple[OOF, list[int]]:
        """Combine, per outer fold, the layer with the best inner-CV score."""
        layers = sorted(by_layer)
        chosen: list[int] = []
        idx, pred, score, folds, inner = [], [], [], [], np.full(self.n_folds, np.nan)
        for f in range(self.n_folds):
            scores = np.array([by_layer[layer].inner[f] for layer in layers])
            if not np.isfinite(scores).any():
                continue
            best = layers[int(np.nanargmax(scores))]
            chosen.append(best)
            inner[f] = np.nanmax(scores)
            oof = by_layer[best]
            m = oof.fold == f
            idx.append(oof.idx[m])
            pred.append(oof.pred[m])
            folds.append(oof.fold[m])
            if oof.score is not None:
                score.append(oof.score[m])
        order = np.argsort(np.concatenate(idx), kind="stable")
        return (
            OOF(np.concatenate(idx)[order], np.concatenate(pred)[order], np.concatenate(score)[order] if score else None, np.concatenate(folds)[order], inner),
            chosen,
        )

    def _select(self) -> None:
        self.log("selecting layers and readouts by inner CV")
        self.selected: dict[tuple, tuple[OOF, list[int]]] = {}
        self.readout_choice: dict[tuple, tuple[OOF, list[str]]] = {}
        per_task: dict[tuple, dict[str, OOF]] = defaultdict(dict)
        for (store, target, slot, readout, control), by_layer in self.oof.items():
            if control != "none" or store not in self._store_labels():
                continue
            data = self._task(store, target, slot)
            oof, chosen = self._selected(by_layer)
            self.selected[(store, target, slot, readout)] = (oof, chosen)
            per_task[(store, target, slot)][readout] = oof
            self.result.selection.append(self._selection_row(store, data, "layer", readout, chosen, oof))
        for (store, target, slot), by_readout in per_task.items():
            data = self._task(store, target, slot)
            names = sorted(by_readout)
            picks = []
            for f in range(self.n_folds):
                scores = np.array([by_readout[n].inner[f] for n in names])
                picks.append(names[int(np.nanargmax(scores))] if np.isfinite(scores).any() else "")
            counts = {n: picks.count(n) for n in names}
            best = max(counts, key=counts.get)
            layer_choice = self.selected[(store, target, slot, best)][1]
            combined = self._combine_folds({f: by_readout[p] for f, p in enumerate(picks) if p})
            self.readout_choice[(store, target, slot)] = (combined, picks)
            row = self._selection_row(store, data, "readout", best, layer_choice, combined)
            row["per_fold"] = json.dumps(picks)
            self.result.selection.append(row)

    def _combine_folds(self, per_fold: dict[int, OOF]) -> OOF:
        """Held-out rows of fold ``f`` taken from ``per_fold[f]`` (a nested choice per outer fold)."""
        idx, pred, score, folds, inner = [], [], [], [], np.full(self.n_folds, np.nan)
        for f, oof in sorted(per_fold.items()):
            m = oof.fold == f
            idx.append(oof.idx[m])
            pred.append(oof.pred[m])
            folds.append(oof.fold[m])
            inner[f] = oof.inner[f]
            if oof.score is not None:
                score.append(oof.score[m])
        order = np.argsort(np.concatenate(idx), kind="stable")
        return OOF(np.concatenate(idx)[order], np.concatenate(pred)[order], np.concatenate(score)[order] if score else None,
                   np.concatenate(folds)[order], inner)

    def _selection_row(self, store: str, data: TargetData, choice: str, readout: str, chosen: list[int], oof: OOF) -> dict:
        metric = METRICS[data.spec.kind][0]
        rows = self._score_oof(data, oof, by_scenario=False)
        main = next(r for r in rows if r["metric"] == metric)
        modal = max(set(chosen), key=chosen.count) if chosen else -1
        return {
            "store": store, "store_hash": self._store_meta(store)["store_hash"], "target": data.spec.name, "slot": data.slot,
            "choice": choice, "readout": readout, "layer": int(modal), "per_fold": json.dumps([int(c) for c in chosen]),
            "inner_score": float(np.nanmean(oof.inner)), "metric": metric, "score": main["score"], "ci_low": main["ci_low"],
            "ci_high": main["ci_high"], "n": main["n"], "n_families": main["n_families"],
        }

    def _compare(self) -> None:
        """Paired bootstraps: stores against each other and against the label baselines."""
        self.log("paired comparisons")
        keys = sorted(self.selected)
        stores = [item.label for item in self.inputs]
        for (store, target, slot, readout) in keys:
            data = self._task(store, target, slot)
            oof_a, chosen = self.selected[(store, target, slot, readout)]
            name_a = f"{store}@L{max(set(chosen), key=chosen.count)}(selected)"
            others = [s for s in stores if stores.index(s) > stores.index(store) and (s, target, slot, readout) in self.selected]
            for other in others:
                oof_b, chosen_b = self.selected[(other, target, slot, readout)]
                data_b = self._task(other, target, slot)
                self._comparison(data, readout, name_a, f"{other}@L{max(set(chosen_b), key=chosen_b.count)}(selected)", oof_a, oof_b, data_b)
            for control in ("nuisance", "geometry", "ceiling"):
                for base_readout in ({"nuisance": ["linear"], "geometry": ["object"], "ceiling": self.suite.ceiling_readouts}[control]):
                    if control == "geometry" and readout != "object":
                        continue
                    if control == "ceiling" and base_readout != readout:
                        continue
                    label_store = self.grid_of[store].name
                    base = self.oof.get((label_store, target, slot, base_readout, control), {}).get(-1)
                    if base is not None:
                        self._comparison(data, readout, name_a, f"{label_store}:{control}({base_readout})", oof_a, base)

    def _comparison(self, data: TargetData, readout: str, a: str, b: str, oof_a: OOF, oof_b: OOF, data_b: TargetData | None = None) -> None:
        if data_b is None or data_b is data:
            metric, d, lo, hi, n = self._paired(data, oof_a, oof_b)
        else:
            metric, d, lo, hi, n = self._paired_by_family(data, oof_a, data_b, oof_b)
        self.result.comparisons.append(
            {"target": data.spec.name, "slot": data.slot, "readout": readout, "metric": metric, "a": a, "b": b, "delta": d, "ci_low": lo, "ci_high": hi, "n": n,
             "higher_is_better": HIGHER_IS_BETTER[metric]}
        )
