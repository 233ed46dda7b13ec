"""Representative figure specs per kind: the gallery draws them and the tests render them."""

from __future__ import annotations

SIGMOID_CHECKS = "sigma(x) := 1/(1 + exp(-x))\n"

# kind → list of (title, figure block source, check block source of the card)
EXAMPLES: dict[str, list[tuple[str, str, str]]] = {
    "function": [
        (
            "sigmoid and its derivative",
            "plot: [sigma(x), diff(sigma(x), x)]\n"
            "labels: ['$\\sigma(x)$', \"$\\sigma'(x)$\"]\n"
            "x: [-6, 6]\n"
            "mark: [[0, subs(diff(sigma(x), x), x, 0), 'max $1/4$']]\n"
            "caption: σ 与它的导数\n",
            SIGMOID_CHECKS,
        ),
        (
            "activations",
            "plot: [Max(0, x), tanh(x), x*sigma(x)]\n"
            "labels: [ReLU, tanh, 'SiLU $x\\sigma(x)$']\n"
            "x: [-4, 4]\n"
            "y: [-1.5, 4]\n",
            SIGMOID_CHECKS,
        ),
    ],
    "conv": [
        ("stride 2, padding 1", "kind: conv\ninput: 5\nkernel: 3\nstride: 2\npadding: 1\n", ""),
        ("dilation 2", "kind: conv\ninput: 7\nkernel: 3\ndilation: 2\n", ""),
    ],
    "transposed-conv": [
        ("k=3, s=2", "kind: transposed-conv\ninput: 3\nkernel: 3\nstride: 2\n", ""),
        (
            "k=3, s=2, p=1, output_padding=1",
            "kind: transposed-conv\ninput: 3\nkernel: 3\nstride: 2\npadding: 1\noutput_padding: 1\n",
            "",
        ),
    ],
    "overlap": [("k=3 vs k=4 at s=2", "kind: overlap\nkernel: [3, 4]\nstride: 2\ninput: 6\n", "")],
    "receptive-field": [
        ("three 3×3 vs one 7×7", "kind: receptive-field\nstacks: [[3, 3, 3], [7]]\n", ""),
        (
            "dilated stacks",
            "kind: receptive-field\nstacks: [[3, 3, 3], [3, 3, 3]]\ndilations: [[1, 2, 4], [2, 2, 2]]\n",
            "",
        ),
    ],
    "norm-axes": [
        ("all four", "kind: norm-axes\nnorms: [batch, layer, instance, group]\ngroups: 2\n", ""),
    ],
    "optimizers": [
        ("ellipse", "kind: optimizers\noptimizers: [sgd, momentum, nesterov, adagrad, rmsprop, adam]\n", ""),
        (
            "rosenbrock",
            "kind: optimizers\noptimizers: [sgd, momentum, rmsprop, adam]\nsteps: 300\nsurface: rosenbrock\n",
            "",
        ),
    ],
    "ema": [("β = 0.9", "kind: ema\nbeta: 0.9\nn: 50\nseed: 0\n", "")],
    "lr-schedule": [
        (
            "three schedules",
            "kind: lr-schedule\nschedules: [step, cosine, warmup-cosine]\nepochs: 100\nwarmup: 5\n",
            "",
        )
    ],
    "bars": [
        (
            "mixed-precision Adam bytes per parameter",
            "kind: bars\nlabels: [weights, grads, master, m, v]\n"
            "values: [bytes_per('fp16'), bytes_per('fp16'), bytes_per('fp32'), bytes_per('fp32'), 4]\n"
            "ylabel: bytes\ntotal: true\n",
            "",
        )
    ],
    "group-conv": [
        ("G = 1, 2, 8", "kind: group-conv\nin_channels: 8\nout_channels: 8\ngroups: [1, 2, 8]\n", "")
    ],
    "heatmap": [
        (
            "causal attention weights",
            "kind: heatmap\nvalue: -abs(i - j)/2\nrows: 6\nmask: j > i\nsoftmax: true\n",
            "",
        )
    ],
}
