"""Shared training recipe of the torch probes (MLP, attentive): AdamW, cosine schedule, one inner
validation split (20% of the training families when ``groups`` are given), and the epoch whose
weights score best on it by the primary metric (balanced accuracy for classes, R² for values).

``inner_score_`` is that best validation score, so layers, readouts and hyper-parameters can be
chosen by it on the same metric as the linear readouts' inner cross-validation.

Fitted weights are kept as numpy arrays (``state_``), so probes are saved without pickles.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.model_selection import GroupShuffleSplit, ShuffleSplit
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data


class TorchProbeMixin:
    """Training loop shared by the torch probes; subclasses define :meth:`_build_module`."""

    _task = "regression"

    # parameters every torch probe has (set by subclasses' __init__)
    lr: float
    weight_decay: float
    max_epochs: int
    batch_size: int
    val_fraction: float
    device: str
    random_state: int | None

    def _build_module(self, n_in: int, n_out: int, input_shape: tuple[int, ...]) -> Any:  # pragma: no cover
        raise NotImplementedError

    # -- data ---------------------------------------------------------------------------------
    def _validate_X(self, X, reset: bool, y="no_validation"):
        kwargs = {"dtype": np.float32, "allow_nd": True}
        if isinstance(y, str) and y == "no_validation":
            return validate_data(self, X, reset=reset, **kwargs)
        return validate_data(self, X, y, reset=reset, multi_output=self._task == "regression", y_numeric=self._task == "regression", **kwargs)

    def _prepare_X(self, X: np.ndarray) -> np.ndarray:
        return ((X - self.x_mean_) / self.x_scale_).astype(np.float32)

    # -- fit / predict --------------------------------------------------------------------------
    def _fit(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray | None, offset: np.ndarray | None = None):
        self.__dict__.update(self._train(X, y, groups, [(self.lr, self.weight_decay)], offset)[0])
        return self

    def fit_grid(self, X, y, settings: list[dict[str, float]], groups=None, offset=None) -> list:
        """Fit one probe per setting of ``lr`` / ``weight_decay``, all in one pass over the data.

        Every probe starts from the same initial weights and sees the same batches as a probe of
        that setting fitted alone (:meth:`fit`), and each has its own optimizer and schedule, so
        each returned probe equals that fit (same ``state_`` and ``inner_score_``); the batches
        are drawn, moved and iterated once for the whole grid.

        Parameters
        ----------
        X, y, groups, offset
            As for :meth:`fit`.
        settings
            One dict per probe with ``lr`` and/or ``weight_decay`` (others as this probe's).

        Returns
        -------
        list
            Fitted probes (clones of this one with each setting), in the order of ``settings``.
        """
        from sklearn.base import clone

        for setting in settings:
            unknown = set(setting) - {"lr", "weight_decay"}
            if unknown:
                raise ValueError(f"fit_grid: only lr and weight_decay vary in one pass, not {sorted(unknown)}")
        if getattr(self, "dropout", 0.0):
            raise ValueError("fit_grid: dropout draws random numbers per probe; fit each setting alone")
        probes = [clone(self).set_params(**setting) for setting in settings]
        for probe in probes:
            Xv, yv = probe._validate_X(X, reset=True, y=y)
            if probe._task == "regression":
                probe._y_ndim = np.ndim(yv)
                yv = np.asarray(yv, dtype=np.float64)
        results = probes[0]._train(Xv, yv, groups, [(p.lr, p.weight_decay) for p in probes], offset)
        for probe, fitted in zip(probes, results):
            probe.__dict__.update(fitted)
        return probes

    def _train(self, X: np.ndarray, y: np.ndarray, groups: np.ndarray | None, settings: list[tuple[float, float]],
               offset: np.ndarray | None = None) -> list[dict[str, Any]]:
        """Train one module per ``(lr, weight_decay)`` over the same batches; the fitted attributes of each.

        ``offset`` (classification, two classes): a fixed logit added to class 1's output for each
        sample (a baseline's prediction, unpenalised); the loss is then unweighted, so that the
        probabilities stay calibrated for cross-entropy gains.
        """
        import torch

        if len(X) < 2:
            raise ValueError(f"{type(self).__name__} needs at least 2 samples, got n_samples = {len(X)}")
        axes = tuple(range(X.ndim - 1))
        shared: dict[str, Any] = {"x_mean_": X.mean(axis=axes).astype(np.float32)}
        scale = X.std(axis=axes)
        shared["x_scale_"] = np.where(scale > 0, scale, 1.0).astype(np.float32)
        Xs = ((X - shared["x_mean_"]) / shared["x_scale_"]).astype(np.float32)
        if self._task == "regression":
            Y = y.reshape(len(y), -1).astype(np.float32)
            shared["y_mean_"] = Y.mean(axis=0)
            ys = Y.std(axis=0)
            shared["y_scale_"] = np.where(ys > 0, ys, 1.0).astype(np.float32)
            T = (Y - shared["y_mean_"]) / shared["y_scale_"]
            n_out = T.shape[1]
        else:
            check_classification_targets(y)
            shared["classes_"], T = np.unique(y, return_inverse=True)
            if len(shared["classes_"]) < 2:
                raise ValueError(f"{type(self).__name__} needs at least 2 classes, got one class")
            n_out = len(shared["classes_"])
        if offset is not None and (self._task == "regression" or n_out != 2):
            raise ValueError(f"{type(self).__name__}: an offset needs a binary target")
        shift = np.zeros((len(X), n_out), np.float32)
        if offset is not None:
            shift[:, 1] = np.asarray(offset, dtype=np.float32).ravel()
        splitter = (GroupShuffleSplit if groups is not None else ShuffleSplit)(
            n_splits=1, test_size=self.val_fraction, random_state=self.random_state
        )
        if groups is not None and len(np.unique(groups)) < 2:
            train, val = np.arange(len(X)), np.arange(len(X))
        else:
            train, val = next(splitter.split(Xs, groups=groups))
        seed = 0 if self.random_state is None else int(self.random_state)
        gen = torch.Generator().manual_seed(seed)
        steps_per_epoch = int(np.ceil(len(train) / self.batch_size))
        modules, optimizers, schedules = [], [], []
        for lr, weight_decay in settings:
            torch.manual_seed(seed)  # every setting starts from the weights it gets when fitted alone
            module = self._build_module(Xs.shape[-1], n_out, Xs.shape[1:]).to(self.device)
            opt = torch.optim.AdamW(module.parameters(), lr=lr, weight_decay=weight_decay)
            modules.append(module)
            optimizers.append(opt)
            schedules.append(torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=max(1, self.max_epochs * steps_per_epoch)))
        xt = torch.as_tensor(Xs[train], device=self.device)
        xv = torch.as_tensor(Xs[val], device=self.device)
        st = torch.as_tensor(shift[train], device=self.device)
        sv = torch.as_tensor(shift[val], device=self.device)
        if self._task == "regression":
            tt = torch.as_tensor(T[train], device=self.device)
            tv = torch.as_tensor(T[val], device=self.device)
            loss_fn = torch.nn.MSELoss()
        else:
            counts = np.bincount(T[train], minlength=n_out).astype(np.float32)
            weight = torch.as_tensor(len(train) / (n_out * np.maximum(counts, 1)), device=self.device)
            tt = torch.as_tensor(T[train], device=self.device)
            tv = torch.as_tensor(T[val], device=self.device)
            loss_fn = torch.nn.CrossEntropyLoss(weight=None if offset is not None else weight)
        best: list[dict[str, Any]] = [{"score": -np.inf, "loss": np.inf, "state": None} for _ in settings]
        for _ in range(self.max_epochs):
            for module in modules:
                module.train()
            order = torch.randperm(len(train), generator=gen).to(self.device)
            for start in range(0, len(train), self.batch_size):
                idx = order[start : start + self.batch_size]
                xb, tb, sb = xt[idx], tt[idx], st[idx]
                for opt in optimizers:
                    opt.zero_grad()
                # one backward for the grid: each module's gradient is that of its own loss
                torch.stack([loss_fn(module(xb) + sb, tb) for module in modules]).sum().backward()
                for opt, sched in zip(optimizers, schedules):
                    opt.step()
                    sched.step()
            for module, kept in zip(modules, best):
                module.eval()
                with torch.no_grad():
                    out = module(xv) + sv
                    val_loss = float(loss_fn(out, tv))
                score = self._primary_score(out.cpu().numpy(), T[val])
                if kept["state"] is None or score > kept["score"] or (score == kept["score"] and val_loss < kept["loss"]):
                    kept.update(score=score, loss=val_loss, state={k: v.detach().cpu().numpy().copy() for k, v in module.state_dict().items()})
        return [
            {**shared, "state_": kept["state"], "n_outputs_": n_out, "input_shape_": tuple(Xs.shape[1:]), "val_loss_": kept["loss"],
             "inner_score_": float(kept["score"])}
            for kept in best
        ]

    def _primary_score(self, out: np.ndarray, truth: np.ndarray) -> float:
        """Primary metric on the validation split: mean R² over outputs, or balanced accuracy."""
        if self._task == "regression":
            resid = ((out - truth) ** 2).sum(axis=0)
            total = ((truth - truth.mean(axis=0)) ** 2).sum(axis=0)
            with np.errstate(divide="ignore", invalid="ignore"):
                r2 = np.where(total > 0, 1.0 - resid / total, 0.0)
            return float(r2.mean())
        from sklearn.metrics import balanced_accuracy_score

        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return float(balanced_accuracy_score(truth, out.argmax(axis=1)))

    def _forward(self, X: np.ndarray) -> np.ndarray:
        import torch

        check_is_fitted(self, "state_")
        X = self._validate_X(X, reset=False)
        module = self._build_module(X.shape[-1], self.n_outputs_, self.input_shape_)
        module.load_state_dict({k: torch.as_tensor(v) for k, v in self.state_.items()})
        module.eval()
        outs = []
        with torch.no_grad():
            Xs = self._prepare_X(X)
            for start in range(0, len(Xs), 4096):
                outs.append(module(torch.as_tensor(Xs[start : start + 4096])).numpy())
        return np.concatenate(outs) if outs else np.zeros((0, self.n_outputs_), np.float32)


class TorchRegressorBase(TorchProbeMixin, RegressorMixin, BaseEstimator):
    """Regressor front end of a torch probe (targets standardised during training)."""

    _task = "regression"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        tags.input_tags.three_d_array = True
        return tags

    def fit(self, X, y, groups=None):
        """Fit on X (n, D) or (n, tokens, D); ``groups`` makes the validation split grouped."""
        X, y = self._validate_X(X, reset=True, y=y)
        self._y_ndim = np.ndim(y)
        return self._fit(X, np.asarray(y, dtype=np.float64), groups)

    def predict(self, X):
        """Predictions in target units."""
        out = self._forward(X).astype(np.float64) * self.y_scale_ + self.y_mean_
        return out[:, 0] if self._y_ndim == 1 else out


class TorchClassifierBase(TorchProbeMixin, ClassifierMixin, BaseEstimator):
    """Classifier front end of a torch probe (class-balanced cross-entropy)."""

    _task = "classification"

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True
        return tags

    def fit(self, X, y, groups=None, offset=None):
        """Fit on X (n, D) or (n, tokens, D); ``groups`` makes the validation split grouped;
        ``offset`` (n,), binary targets only: a fixed logit added to class 1 (a baseline's
        prediction that the probe is fitted beyond, unpenalised)."""
        X, y = self._validate_X(X, reset=True, y=y)
        return self._fit(X, y, groups, offset)

    def _logits(self, X, offset=None) -> np.ndarray:
        logits = self._forward(X).astype(np.float64)
        if offset is not None:
            logits[:, 1] += np.asarray(offset, dtype=np.float64).ravel()
        return logits

    def predict_proba(self, X, offset=None):
        """Class probabilities (n, n_classes) (with the samples' ``offset`` where fitted with one)."""
        logits = self._logits(X, offset)
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)

    def decision_function(self, X, offset=None):
        """Logit difference (n,) for two classes, logits (n, n_classes) otherwise."""
        logits = self._logits(X, offset)
        return logits[:, 1] - logits[:, 0] if logits.shape[1] == 2 else logits

    def predict(self, X, offset=None):
        """Predicted class labels."""
        logits = self._logits(X, offset)  # raises NotFittedError before classes_ is read
        return self.classes_[logits.argmax(axis=1)]
