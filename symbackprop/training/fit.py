"""fit(model, params, X, Y): minibatch training of a compiled network with the generated backward
pass; predict, evaluate, and saving/loading trained parameters as .npz.

The caller's params dict is updated in place and always holds finite values: a non-finite loss
or update stops training with NonFiniteError and leaves the last good parameters there.
"""

from __future__ import annotations

import math
import sys
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import SymbackpropError
from ..loader import files
from .minimize import NonFiniteError
from .optimizers import FlatParams, make_optimizer

TASKS = ("classes", "binary", "raw")
MONITORS = {"val_loss": "min", "val_accuracy": "max", "loss": "min", "accuracy": "max"}


@dataclass(repr=False)
class History:
    """Per-epoch training record from :func:`fit`.

    ``loss``: the mean minibatch loss over each epoch (weighted by batch size, Keras's
    convention: each minibatch's loss is taken before its update). ``accuracy``: on the whole
    training set with the parameters at the end of the epoch (None for a network without
    classes, see :func:`predict`). ``val_loss`` and ``val_accuracy``: the same on the
    validation set (empty without one). ``best_epoch`` (1-based) and ``best`` are the best
    value of ``monitor`` (None when it is not measured); ``stop_reason`` is "epochs done" or
    "early stopping"; ``seconds`` is the training time and ``samples`` the samples seen.
    """

    loss: list = field(default_factory=list)
    accuracy: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_accuracy: list = field(default_factory=list)
    monitor: str | None = None
    best_epoch: int | None = None
    best: float | None = None
    stop_reason: str = "epochs done"
    seconds: float = 0.0
    samples: int = 0
    steps: int = 0

    @property
    def epochs(self) -> int:
        """Epochs run."""
        return len(self.loss)

    @property
    def samples_per_second(self) -> float:
        return self.samples / self.seconds if self.seconds > 0 else math.inf

    def __len__(self) -> int:
        return self.epochs

    def __repr__(self) -> str:
        last = f", loss={self.loss[-1]:.4g}" if self.loss else ""
        if self.val_loss:
            last += f", val_loss={self.val_loss[-1]:.4g}"
        best = f", best_epoch={self.best_epoch}" if self.best_epoch is not None else ""
        return f"History(epochs={self.epochs}{last}{best}, stop_reason={self.stop_reason!r})"


def fit(
    model,
    params,
    X,
    Y,
    optimizer="adam",
    epochs=10,
    batch_size=32,
    shuffle=True,
    seed=0,
    validation=None,
    early_stopping=None,
    monitor="val_loss",
    progress=None,
    task=None,
    train_accuracy=True,
) -> History:
    """Train ``model`` (from ``Sequential.compile()``) on rows of X, Y by minibatches.

    Each epoch visits the samples once in minibatches of ``batch_size`` drawn without
    replacement (a fresh permutation per epoch from ``seed`` when ``shuffle``; the last batch
    may be smaller), and takes one ``optimizer`` step per minibatch (a name from
    ``OPTIMIZERS`` with its defaults, or an optimizer object, whose state carries over between
    calls). The parameters live in one flat vector during training (one fused update per
    step) and are written back into ``params`` **in place**: each float64 array of the dict
    is overwritten with the trained values (other entries are replaced); nothing is returned
    but the :class:`History`.

    ``validation=(Xv, Yv)`` adds ``val_loss`` and ``val_accuracy`` per epoch. The best epoch
    by ``monitor`` ("val_loss", "val_accuracy", "loss" or "accuracy") is recorded; with
    ``early_stopping=patience`` training stops after ``patience`` epochs without improvement
    and ``params`` end at the best epoch's values (also when all epochs ran).

    ``progress``: a tqdm bar with the loss and samples/s; None (default) shows it only when
    stderr is a terminal, True always, False never. ``task`` says what accuracy means (see
    :func:`predict`); by default it is read from the network. ``train_accuracy=False`` skips
    the forward pass over the whole training set after each epoch (``accuracy`` then holds
    None), e.g. to time the training steps alone.

    A non-finite loss, or an update that makes a parameter non-finite, raises
    :class:`~symbackprop.training.minimize.NonFiniteError` naming the epoch and step;
    ``params`` then hold the last good parameters (those at which the last finite loss was
    computed), also in the error's ``.params``; its ``.history`` holds the epochs completed.
    The optimizer's state is not rolled back. An interrupt (Ctrl-C) also leaves the parameters
    trained so far in ``params``.

    >>> import numpy as np, symbackprop as sb
    >>> net = sb.Sequential(
    ...     inputs=2, layers=[sb.Dense(1, "sigmoid")], loss="binary_cross_entropy"
    ... )
    >>> model, params = net.compile(), net.init_params(seed=0)
    >>> X = np.random.default_rng(0).normal(size=(64, 2))
    >>> Y = (X[:, :1] + X[:, 1:] > 0).astype(float)
    >>> h = fit(model, params, X, Y, optimizer=sb.training.Adam(lr=0.1), epochs=20, batch_size=16)
    >>> len(h.loss), h.loss[-1] < h.loss[0], h.accuracy[-1] >= 0.95
    (20, True, True)
    """
    names = tuple(getattr(model, "param_names", None) or params)
    flat = FlatParams(params, names, getattr(model, "param_shapes", None))
    X, Y = _data("X", X), _data("Y", Y)
    if X.shape[0] != Y.shape[0]:
        raise SymbackpropError(f"X has {X.shape[0]} rows but Y has {Y.shape[0]}")
    if X.shape[0] == 0:
        raise SymbackpropError("X has no rows: nothing to train on")
    epochs = _count("epochs", epochs, low=0)
    batch_size = _count("batch_size", batch_size, low=1)
    opt = make_optimizer(optimizer)
    task = _task(model, task)
    if validation is not None:
        try:
            Xv, Yv = validation
        except (TypeError, ValueError):
            raise SymbackpropError("validation must be a pair (Xv, Yv) or None") from None
        Xv, Yv = _data("validation X", Xv), _data("validation Y", Yv)
    if monitor not in MONITORS:
        raise SymbackpropError(f"monitor must be one of {', '.join(MONITORS)}; got {monitor!r}")
    unmeasured = _unmeasured(monitor, validation, task, train_accuracy)
    measured = unmeasured is None
    if early_stopping is not None:
        early_stopping = _count("early_stopping", early_stopping, low=1)
        if not measured:
            raise SymbackpropError(
                f"early_stopping monitors {monitor!r}, which is not measured here ({unmeasured})"
            )

    history = History(monitor=monitor if measured else None)
    m = X.shape[0]
    steps = -(-m // batch_size)
    rng = np.random.default_rng(seed)
    Xe, Ye = (np.empty_like(X), np.empty_like(Y)) if shuffle else (X, Y)
    vec, views = flat.vector, flat.views
    grad = np.empty_like(vec)
    backup = vec.copy()  # the parameters before the last update (their loss was finite)
    best_vec, wait = None, 0
    loss_and_grad, step = model.loss_and_grad, opt.step
    bar = _bar(progress, epochs * m)
    started = time.perf_counter()
    try:
        for epoch in range(1, epochs + 1):
            if shuffle:
                order = rng.permutation(m)
                np.take(X, order, axis=0, out=Xe)
                np.take(Y, order, axis=0, out=Ye)
            total = 0.0
            for s in range(steps):
                a = s * batch_size
                Xb, Yb = Xe[a : a + batch_size], Ye[a : a + batch_size]
                loss, grads = loss_and_grad(views, Xb, Yb)
                if not math.isfinite(loss):
                    vec[:] = backup
                    _fail(flat, epoch, s + 1, steps, f"the training loss is {loss}")
                flat.flatten_grads(grads, grad)
                backup[:] = vec
                if not step(vec, grad):
                    vec[:] = backup
                    _fail(flat, epoch, s + 1, steps, "the update made a parameter "
                          "non-finite (the gradient was not finite or too large)")  # fmt: skip
                total += loss * Xb.shape[0]
                if bar is not None:
                    bar.update(Xb.shape[0])
            history.steps += steps
            history.samples += m
            history.loss.append(total / m)
            history.accuracy.append(_accuracy(model, views, X, Y, task) if train_accuracy else None)
            if validation is not None:
                history.val_loss.append(float(model.loss(views, Xv, Yv)))
                history.val_accuracy.append(_accuracy(model, views, Xv, Yv, task))
            if bar is not None:
                bar.set_postfix_str(_postfix(history), refresh=False)
            if measured:
                value = getattr(history, monitor)[-1]
                if _improves(value, history.best, MONITORS[monitor]):
                    history.best, history.best_epoch, wait = value, epoch, 0
                    if early_stopping is not None:
                        best_vec = vec.copy()
                else:
                    wait += 1
                    if early_stopping is not None and wait >= early_stopping:
                        history.stop_reason = "early stopping"
                        break
        if best_vec is not None:
            vec[:] = best_vec
    except NonFiniteError as exc:
        exc.history = history  # the epochs completed before it
        raise
    finally:
        # Also on an interrupt: params get the parameters trained so far (all finite).
        history.seconds = time.perf_counter() - started
        if bar is not None:
            bar.close()
        flat.write(params)
    return history


def predict(model, params, X, *, task=None) -> np.ndarray:
    """Predictions for the rows of X, by ``task`` (read from the network when None):

    * "classes" (a softmax output, or a cross-entropy / hinge / multi-output sigmoid network):
      class indices, argmax of each row of Y_hat, shape (m,);
    * "binary" (a single sigmoid output or binary cross-entropy with one output): 1 where
      Y_hat > 0.5 else 0, shape (m,);
    * "raw" (anything else, e.g. regression): Y_hat itself, shape (m, outputs).

    >>> import numpy as np, symbackprop as sb
    >>> net = sb.Sequential(inputs=2, layers=[sb.Dense(3, "softmax")], loss="cross_entropy")
    >>> model = net.compile()
    >>> params = {"W1": np.eye(3, 2), "b1": np.zeros(3)}
    >>> predict(model, params, np.array([[2.0, 0.0], [0.0, 2.0]]))
    array([0, 1])
    >>> predict(model, params, np.array([[2.0, 0.0]]), task="raw").shape
    (1, 3)
    """
    task = _task(model, task)
    Y_hat = model.forward(params, _data("X", X))
    return _decide(Y_hat, task)


def evaluate(model, params, X, Y, *, task=None) -> dict:
    """{"loss": the model's loss on all of X, Y, "accuracy": fraction of rows predicted
    right (None for task "raw")}; see :func:`predict` for the tasks.

    >>> import numpy as np, symbackprop as sb
    >>> net = sb.Sequential(inputs=2, layers=[sb.Dense(3, "softmax")], loss="cross_entropy")
    >>> params = {"W1": np.eye(3, 2), "b1": np.zeros(3)}
    >>> X, Y = np.array([[2.0, 0.0], [0.0, 2.0]]), np.eye(3)[[0, 2]]
    >>> evaluate(net.compile(), params, X, Y)["accuracy"]
    0.5
    """
    task = _task(model, task)
    X, Y = _data("X", X), _data("Y", Y)
    return {
        "loss": float(model.loss(params, X, Y)),
        "accuracy": _accuracy(model, params, X, Y, task),
    }


def save_params(path, params) -> Path:
    """Write a parameter dict to ``path`` (.npz, NumPy only: a saved standalone module plus
    this file run a trained network without symbackprop); returns the path written.

    Every key is kept, whatever its name (``allow_pickle`` too). The file is replaced in one
    rename: a write that fails or is killed leaves the old file, and a new file gets the
    permissions the umask gives.

    >>> import numpy as np, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "params.npz"
    >>> _ = save_params(path, {"W1": np.ones((2, 3)), "b1": np.zeros(2)})
    >>> {k: v.shape for k, v in load_params(path).items()}
    {'W1': (2, 3), 'b1': (2,)}
    """
    target = files.target(path, ".npz")
    if not isinstance(params, dict) or not params:
        raise SymbackpropError("params must be a non-empty dict of arrays")
    arrays = {}
    for k, v in params.items():
        _check_name(k)
        try:
            arrays[k] = np.asarray(v, dtype=np.float64)
        except (TypeError, ValueError):
            raise SymbackpropError(f"parameter {k} is not a float array") from None
    # What np.savez writes (one .npy entry per array in an uncompressed zip), but with every
    # name ours: np.savez's own keyword arguments (allow_pickle, file) would swallow a key.
    with files.replacing(target) as fh, zipfile.ZipFile(fh, "w") as archive:
        for name, array in arrays.items():
            with archive.open(name + ".npy", "w", force_zip64=True) as entry:
                np.lib.format.write_array(entry, array, allow_pickle=False)
    return target


def load_params(path) -> dict[str, np.ndarray]:
    """The parameter dict saved by :func:`save_params` (float64 arrays, in saved order).

    Any .npz of numeric arrays loads (``np.savez(path, W1=..., b1=...)`` too); pickled object
    arrays are never read.

    >>> import numpy as np, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "params.npz"
    >>> np.savez(path, W1=np.eye(2, dtype=np.int64))
    >>> load_params(path)["W1"].dtype
    dtype('float64')
    """
    target = files.as_path(path, "parameter file")
    if target.is_dir():
        raise SymbackpropError(f"parameter file {target} is a folder")
    if not target.is_file():
        raise SymbackpropError(f"no parameter file {target}")
    try:
        archive = zipfile.ZipFile(target)
    except _UNREADABLE as exc:
        raise SymbackpropError(f"{target} is not a readable .npz parameter file ({exc})") from None
    with archive:
        return _read_params(target, archive)


# ---- pieces --------------------------------------------------------------------------------------


def _check_name(name) -> None:
    """A parameter name is a non-empty str that a zip entry stores exactly."""
    if not isinstance(name, str) or not name:
        raise SymbackpropError(f"parameter names must be non-empty strings; got {name!r}")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise SymbackpropError(f"parameter name {name!r} is not valid text") from None
    if zipfile.ZipInfo(name + ".npy").filename != name + ".npy":  # zip cuts at NUL, maps os.sep
        raise SymbackpropError(f"parameter name {name!r} cannot be stored in a .npz file")


# Anything a damaged entry can raise while it is read: a bad CRC or header, short data,
# encryption or a compressor module Python lacks, a declared shape too large to allocate.
# (Compression methods zipfile does not know are refused before reading.)
_UNREADABLE = (ValueError, EOFError, OSError, zipfile.BadZipFile, RuntimeError, MemoryError)
_COMPRESSIONS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)


def _read_params(target: Path, archive: zipfile.ZipFile) -> dict[str, np.ndarray]:
    params = {}
    for info in archive.infolist():
        if not info.filename.endswith(".npy"):
            raise SymbackpropError(f"{target} holds {info.filename!r}, which is not a .npy array")
        name = info.filename[: -len(".npy")]
        if name in params:
            raise SymbackpropError(f"{target} holds parameter {name} twice")
        if info.compress_type not in _COMPRESSIONS:
            raise SymbackpropError(
                f"parameter {name} in {target} is unreadable (compression method "
                f"{info.compress_type}, which zipfile does not know)"
            )
        try:
            with archive.open(info) as entry:
                array = np.lib.format.read_array(entry, allow_pickle=False)
        except _UNREADABLE as exc:
            raise SymbackpropError(f"parameter {name} in {target} is unreadable ({exc})") from None
        if array.dtype.kind not in "biuf":
            raise SymbackpropError(
                f"parameter {name} in {target} holds {array.dtype} values, not numbers"
            )
        params[name] = array.astype(np.float64)
    if not params:
        raise SymbackpropError(f"{target} holds no parameters")
    return params


def _data(name: str, A) -> np.ndarray:
    try:
        A = np.ascontiguousarray(A, dtype=np.float64)
    except (TypeError, ValueError):
        raise SymbackpropError(f"{name} must be a 2-D float array") from None
    if A.ndim != 2:
        raise SymbackpropError(f"{name} must be 2-D (rows are samples); got shape {A.shape}")
    return A


def _count(name: str, value, *, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise SymbackpropError(f"{name} must be an integer >= {low}; got {value!r}")
    return int(value)


def _task(model, task) -> str:
    """The task given, else the network's (``model.task``: classes for softmax outputs and
    classification losses, binary for one such output, raw otherwise)."""
    if task is None:
        task = getattr(model, "task", "raw")
    if task not in TASKS:
        raise SymbackpropError(f"task must be one of {', '.join(TASKS)}; got {task!r}")
    return task


def _decide(Y_hat: np.ndarray, task: str) -> np.ndarray:
    if task == "classes":
        return np.argmax(Y_hat, axis=1)
    if task == "binary":
        return (Y_hat[:, 0] > 0.5).astype(np.int64)
    return Y_hat


def _accuracy(model, params, X, Y, task) -> float | None:
    if task == "raw":
        return None
    predicted = _decide(model.forward(params, X), task)
    truth = np.argmax(Y, axis=1) if task == "classes" else (Y[:, 0] > 0.5)
    return float(np.mean(predicted == truth))


def _improves(value, best, mode) -> bool:
    if value is None or not math.isfinite(value):
        return False
    return best is None or (value < best if mode == "min" else value > best)


def _fail(flat, epoch, step, steps, what):
    raise NonFiniteError(
        f"training stopped at epoch {epoch}, step {step} of {steps}: {what}; params hold the "
        "last good parameters (before the update that led here)",
        epoch=epoch,
        step=step,
        params=flat.as_dict(),
    )


def _unmeasured(monitor, validation, task, train_accuracy) -> str | None:
    """Why ``monitor`` is not measured by this fit, or None when it is."""
    if monitor.startswith("val_") and validation is None:
        return "give validation=(Xv, Yv)"
    if monitor.endswith("accuracy") and task == "raw":
        return "the network's outputs are not classes"
    if monitor == "accuracy" and not train_accuracy:
        return "train_accuracy=False"
    return None


def _bar(progress, total):
    if progress is False:
        return None
    from tqdm import tqdm  # a dependency, imported only when a bar may be shown

    # disable=None: tqdm switches itself off when its stream (stderr) is not a terminal.
    bar = tqdm(total=total, unit="sample", unit_scale=True, disable=None if progress is None
               else False, file=sys.stderr, leave=True, dynamic_ncols=True)  # fmt: skip
    return None if bar.disable else bar


def _postfix(history: History) -> str:
    parts = [f"loss={history.loss[-1]:.4g}"]
    if history.val_loss:
        parts.append(f"val_loss={history.val_loss[-1]:.4g}")
    if history.val_accuracy and history.val_accuracy[-1] is not None:
        parts.append(f"val_acc={history.val_accuracy[-1]:.4f}")
    return ", ".join(parts)
