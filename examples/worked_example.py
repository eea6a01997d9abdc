"""The lecture's 2-2-2 sigmoid network, step by step, with symbackprop checking each number.

Run: python examples/worked_example.py
"""

import numpy as np

import symbackprop as sb

net = sb.Sequential(
    inputs=2, layers=[sb.Dense(2, "sigmoid"), sb.Dense(2, "sigmoid")], loss="half_sse"
)
model = net.compile()
params = {
    "W1": np.array([[0.15, 0.20], [0.25, 0.30]]),  # w1 w2 / w3 w4
    "b1": np.array([0.35, 0.35]),
    "W2": np.array([[0.40, 0.45], [0.50, 0.55]]),  # w5 w6 / w7 w8
    "b2": np.array([0.60, 0.60]),
}
X = np.array([[0.05, 0.10]])
Y = np.array([[0.01, 0.99]])

sigmoid = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
h = sigmoid(X @ params["W1"].T + params["b1"])
o = model.forward(params, X)
print(f"h1 = {h[0, 0]:.9f}, h2 = {h[0, 1]:.9f}   (notes: 0.593, 0.597)")
print(f"o1 = {o[0, 0]:.9f}, o2 = {o[0, 1]:.9f}   (notes: 0.751, 0.773)")

loss, grads = model.loss_and_grad(params, X, Y)
first, second = 0.5 * (Y[0] - o[0]) ** 2
print(f"E = 1/2 sum (t - o)^2 = {first:.9f} + {second:.9f} = {loss:.9f}")
print(
    f"  (the notes print 0.275: that is the first output's term {first:.4f} alone; the second "
    f"output's {second:.4f} is missing)"
)

# dE/dw5 by the chain rule, as on the slides, next to the generated backward pass.
dE_do1 = -(Y[0, 0] - o[0, 0])
do1_dnet = o[0, 0] * (1 - o[0, 0])
dnet_dw5 = h[0, 0]
print(
    f"dE/dw5 = {dE_do1:.9f} * {do1_dnet:.9f} * {dnet_dw5:.9f} = {dE_do1 * do1_dnet * dnet_dw5:.9f}"
)
print(f"         generated backward pass: {grads['W2'][0, 0]:.9f}")
print(f"dE/dw1 = {grads['W1'][0, 0]:.9f}   (the slides' boxed delta_h1 times i1)")

print("\nBackward pass as the generated code computes it:")
print(net.derivation())
