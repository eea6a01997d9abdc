"""Train a 64-32-10 network on scikit-learn's bundled digits (8x8 images, no download) with the
generated backward pass, minibatch Adam and early stopping; print the test accuracy last.

Run: python examples/train_digits.py        (writes digits_learning_curve.png with matplotlib)
"""

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

import symbackprop as sb
from symbackprop.training import Adam, evaluate, fit

BATCH = 32
started = time.perf_counter()
digits = load_digits()
X = digits.data / 16.0  # pixel intensities 0..16 scaled to [0, 1]
Y = np.eye(10)[digits.target]  # one-hot targets for softmax + cross-entropy
X_train, X_test, Y_train, Y_test = train_test_split(
    X, Y, test_size=0.2, random_state=0, stratify=digits.target
)
X_train, X_val, Y_train, Y_val = train_test_split(X_train, Y_train, test_size=0.15, random_state=0)

net = sb.Sequential(
    inputs=64,
    layers=[sb.Dense(32, "sigmoid"), sb.Dense(10, "softmax")],
    loss="cross_entropy",
)
model = net.compile()
params = net.init_params(seed=0)
# Numba compiles each kernel on its first call: make those calls here, so that fit's timing
# below is of training alone.
model.loss_and_grad(params, X_train[:BATCH], Y_train[:BATCH])
evaluate(model, params, X_val[:BATCH], Y_val[:BATCH])  # the loss and forward kernels
compiled = time.perf_counter() - started

history = fit(
    model, params, X_train, Y_train,
    optimizer=Adam(lr=0.01),
    epochs=60,
    batch_size=BATCH,
    seed=0,
    validation=(X_val, Y_val),
    early_stopping=10,
)  # fmt: skip
print(
    f"{history.epochs} epochs ({history.stop_reason}), best epoch {history.best_epoch} "
    f"(val_loss {history.best:.4f}, its parameters kept); training {history.seconds:.2f} s, "
    f"{history.samples_per_second:,.0f} samples/s; data + compilation {compiled:.1f} s; "
    f"{time.perf_counter() - started:.1f} s in all"
)

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:  # no matplotlib: no plot
    plt = None
if plt is not None:
    epochs = np.arange(1, history.epochs + 1)
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(epochs, history.loss, label="training loss")
    ax.plot(epochs, history.val_loss, label="validation loss")
    ax.axvline(history.best_epoch, color="grey", linestyle=":", label="best epoch")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy")
    ax.set_title("64-32-10 on digits")
    ax.legend()
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.gettempdir())
    png = out / "digits_learning_curve.png"
    fig.savefig(png, dpi=100, bbox_inches="tight")
    print(f"learning curve written to {png}")

test = evaluate(model, params, X_test, Y_test)
print(f"test accuracy: {test['accuracy']:.4f}")
