"""Generate a standalone gradient/Hessian module for a Gaussian negative log-likelihood.

Run: python examples/gradient_module.py
"""

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import sympy as sp

import symbackprop as sb

mu, log_sigma = sp.symbols("mu log_sigma")
data = [1.2, 0.7, 1.9, 1.4, 0.8]
nll = sum(log_sigma + (x - mu) ** 2 / (2 * sp.exp(2 * log_sigma)) for x in data)

fn = sb.compile(nll, [mu, log_sigma])
theta = np.array([1.0, 0.0])
print("value   ", fn(theta))
print("gradient", fn.grad(theta))
print("hessian \n", fn.hessian(theta))
print(fn.cost())

path = fn.save(Path(tempfile.mkdtemp(prefix="symbackprop-example-")) / "gaussian_nll.py")
check = subprocess.run([sys.executable, str(path)], capture_output=True, text=True)
print(check.stdout.strip())
print(f"saved {path} (self-check exit status {check.returncode})")
sys.exit(check.returncode)
