"""Save a small trained network as a standalone module and run it without symbackprop.

Run: python examples/standalone_network.py
"""

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

import symbackprop as sb

rng = np.random.default_rng(0)
X = rng.normal(size=(200, 2))
Y = (X[:, :1] * X[:, 1:] > 0).astype(float)  # XOR of the signs

net = sb.Sequential(
    inputs=2, layers=[sb.Dense(8, "tanh"), sb.Dense(1, "sigmoid")], loss="binary_cross_entropy"
)
model = net.compile()
params = net.init_params(seed=0)
for step in range(500):  # plain gradient descent with the generated backward pass
    loss, grads = model.loss_and_grad(params, X, Y)
    params = {k: params[k] - 0.5 * grads[k] for k in params}
print(f"training loss after 500 steps: {loss:.4f}")

folder = Path(tempfile.mkdtemp(prefix="symbackprop-example-"))
model.save(folder / "xor_net.py")
np.savez(folder / "xor_params.npz", **params)

# A fresh interpreter where symbackprop and sympy cannot be imported at all.
script = """
import sys
sys.modules["symbackprop"] = None
sys.modules["sympy"] = None
import numpy as np
import xor_net
p = np.load("xor_params.npz")
X = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, -1.0], [-1.0, 1.0]])
print("predictions:", np.round(xor_net.forward(*[p[n] for n in xor_net.PARAM_NAMES], X).ravel(), 3))
"""
out = subprocess.run(
    [sys.executable, "-c", script], cwd=folder, capture_output=True, text=True, check=True
)
print(out.stdout.strip())
print(f"module and parameters in {folder}")
