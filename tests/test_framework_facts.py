"""Every framework fact in content/_facts, read from the real library (`make facts` installs them).

The fact tables were written from documentation; comparing them with a table the same authors wrote
proves nothing. Here each framework key is observed in the pinned release: a parameter's default
through `inspect.signature`, a behaviour by running the library.
"""

from __future__ import annotations

import importlib
import inspect
import math
import os
import re
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")  # Keras 3 needs a backend; torch is installed anyway
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

WHY = "framework facts need torch, keras and tensorflow: run `make facts`"
torch = pytest.importorskip("torch", reason=WHY)
keras = pytest.importorskip("keras", reason=WHY)
tf = pytest.importorskip("tensorflow", reason=WHY)

FACTS = Path(__file__).resolve().parent.parent / "content" / "_facts"
KEY = re.compile(r"^(?P<framework>pytorch|keras|tensorflow)-(?P<major>\d+):(?P<api>[\w.]+):(?P<what>[\w-]+)$")
MENTIONS_FRAMEWORK = re.compile(r"^(pytorch|torch|keras|tensorflow|tf)\d*[.:-]", re.IGNORECASE)
VERSIONS = {"pytorch": torch.__version__, "keras": keras.__version__, "tensorflow": tf.__version__}
ROOTS = {"torch": torch, "keras": keras, "tf": tf}


def all_facts() -> dict[str, Any]:
    facts: dict[str, Any] = {}
    for path in sorted(FACTS.glob("*.toml")):
        for key, entry in tomllib.loads(path.read_text(encoding="utf-8")).items():
            facts[key] = entry["value"]
    return facts


FRAMEWORK_FACTS = {key: value for key, value in all_facts().items() if MENTIONS_FRAMEWORK.match(key)}


def resolve(api: str) -> Any:
    """`torch.nn.LeakyReLU` → the object; submodules are imported on the way (keras.activations)."""
    root, *parts = api.split(".")
    target = ROOTS[root]
    for index, part in enumerate(parts):
        if not hasattr(target, part):
            importlib.import_module(".".join([target.__name__, *parts[: index + 1]]))
        target = getattr(target, part)
    return target


# --------------------------------------------------------------------------- behaviour readers


def torch_relu_grad_at_zero() -> float:
    x = torch.zeros((), requires_grad=True)
    torch.nn.functional.relu(x).backward()
    return x.grad.item()


def tf_relu_grad_at_zero() -> float:
    x = tf.Variable(0.0)
    with tf.GradientTape() as tape:
        y = tf.nn.relu(x)
    return float(tape.gradient(y, x).numpy())


def selu_scale() -> float:
    return torch.nn.SELU()(torch.tensor(1.0, dtype=torch.float64)).item()


def selu_alpha() -> float:
    return -torch.nn.SELU()(torch.tensor(-1000.0, dtype=torch.float64)).item() / selu_scale()


def relu6_formula(function: Callable[[float], float]) -> str:
    """The formula the fact states, when the library's function agrees with it everywhere we look."""
    for step in range(-80, 81):
        x = step / 10
        assert math.isclose(function(x), min(max(x + 3, 0), 6) / 6, abs_tol=1e-6), (x, function(x))
    return "relu6(x + 3) / 6"


def torch_hardsigmoid() -> str:
    return relu6_formula(lambda x: torch.nn.Hardsigmoid()(torch.tensor(x, dtype=torch.float64)).item())


def keras_hard_sigmoid() -> str:
    return relu6_formula(lambda x: float(keras.activations.hard_sigmoid(keras.ops.convert_to_tensor(x))))


def batchnorm_buffers() -> str:
    return ", ".join(name for name, _ in torch.nn.BatchNorm2d(3).named_buffers())


def batchnorm_running_stats_trainable() -> bool:
    return any(name.startswith("running") for name, _ in torch.nn.BatchNorm2d(3).named_parameters())


def batchnorm_eval_uses_running_stats() -> bool:
    layer = torch.nn.BatchNorm2d(1)
    layer.running_mean.fill_(5.0)
    layer.running_var.fill_(4.0)
    layer.eval()
    out = layer(torch.zeros(2, 1, 2, 2))  # batch statistics would give 0; running ones give -5/2
    return bool(torch.allclose(out, torch.full_like(out, -5.0 / math.sqrt(4.0 + layer.eps))))


def keras_batchnorm_weights(kind: str) -> Callable[[], int]:
    def read() -> int:
        features = 3
        layer = keras.layers.BatchNormalization()
        layer.build((None, features))
        weights = layer.weights if kind == "all" else layer.non_trainable_weights
        assert sum(math.prod(w.shape) for w in weights) % features == 0
        return sum(math.prod(w.shape) for w in weights) // features
    return read


def dropout_p_meaning() -> str:
    layer = torch.nn.Dropout(p=1.0)
    layer.train()
    out = layer(torch.ones(100))
    return "drop" if bool((out == 0).all()) else "keep"


def tf_graph_parts() -> tuple[str, str]:
    graph = tf.function(lambda x: x * 2.0 + 1.0).get_concrete_function(tf.TensorSpec([], tf.float32)).graph
    operations = graph.get_operations()
    assert operations and all(isinstance(op, tf.Operation) for op in operations)
    edges = [tensor for op in operations for tensor in op.inputs]
    assert edges and all(isinstance(tensor, tf.Tensor) for tensor in edges)
    return "operation", "tensor"


def tf_eager_by_default() -> bool:
    return bool(tf.executing_eagerly())


def tf_ema_decay() -> str:
    """Apply the average twice (value 1, then 0): the shadow value left is the decay actually used."""
    for decay in (0.9, 0.999):
        for updates in (0, 5, 1000):
            variable = tf.Variable(1.0)
            ema = tf.train.ExponentialMovingAverage(decay, num_updates=tf.constant(updates))
            ema.apply([variable])
            variable.assign(0.0)
            ema.apply([variable])
            used = float(ema.average(variable).numpy())
            assert math.isclose(used, min(decay, (1 + updates) / (10 + updates)), rel_tol=1e-6), used
    return "min(decay, (1 + num_updates) / (10 + num_updates))"


BEHAVIOURS: dict[str, Callable[[], Any]] = {
    "pytorch-2:torch.nn.functional.relu:grad-at-zero": torch_relu_grad_at_zero,
    "tensorflow-2:tf.nn.relu:grad-at-zero": tf_relu_grad_at_zero,
    "pytorch-2:torch.nn.SELU:scale": selu_scale,
    "pytorch-2:torch.nn.SELU:alpha": selu_alpha,
    "pytorch-2:torch.nn.Hardsigmoid:formula": torch_hardsigmoid,
    "keras-3:keras.activations.hard_sigmoid:formula": keras_hard_sigmoid,
    "pytorch-2:torch.nn.BatchNorm2d:buffers": batchnorm_buffers,
    "pytorch-2:torch.nn.BatchNorm2d:running-stats-trainable": batchnorm_running_stats_trainable,
    "pytorch-2:torch.nn.BatchNorm2d:eval-uses-running-stats": batchnorm_eval_uses_running_stats,
    "keras-3:keras.layers.BatchNormalization:weights-per-feature": keras_batchnorm_weights("all"),
    "keras-3:keras.layers.BatchNormalization:non-trainable-weights-per-feature":
        keras_batchnorm_weights("non-trainable"),
    "pytorch-2:torch.nn.Dropout:p-meaning": dropout_p_meaning,
    "tensorflow-2:tf.Graph:node": lambda: tf_graph_parts()[0],
    "tensorflow-2:tf.Graph:edge": lambda: tf_graph_parts()[1],
    "tensorflow-2:tf.executing_eagerly:default": tf_eager_by_default,
    "tensorflow-2:tf.train.ExponentialMovingAverage:num_updates-decay": tf_ema_decay,
    "tensorflow-2:tf.train.ExponentialMovingAverage:decay-required": lambda: tf_parameter_required(
        "train.ExponentialMovingAverage", "decay"),
}


def tf_parameter_required(api: str, parameter: str) -> bool:
    """True when the parameter has no default: the caller must choose a value."""
    target = resolve(f"tf.{api}")
    signature = inspect.signature(target.__init__ if inspect.isclass(target) else target)
    return signature.parameters[parameter].default is inspect.Parameter.empty


def read(key: str) -> Any:
    """A behaviour reader when there is one, else the documented default of the named parameter."""
    if key in BEHAVIOURS:
        return BEHAVIOURS[key]()
    match = KEY.match(key)
    assert match, key
    target = resolve(match["api"])
    # a class's own __init__: some (keras.optimizers.Optimizer) hide it behind a generic __new__
    parameters = inspect.signature(target.__init__ if inspect.isclass(target) else target).parameters
    assert match["what"] in parameters, f"{key}: no reader, and {match['api']} has no parameter " \
                                        f"{match['what']!r}"
    default = parameters[match["what"]].default
    assert default is not inspect.Parameter.empty, f"{key}: {match['what']} has no default"
    return default


def same(stated: Any, actual: Any) -> bool:
    if isinstance(stated, bool) or isinstance(actual, bool):
        return stated is actual
    if isinstance(stated, str):
        return stated == str(actual)
    return isinstance(actual, int | float) and math.isclose(stated, actual, rel_tol=1e-12, abs_tol=0.0)


def test_there_are_framework_facts() -> None:
    assert len(FRAMEWORK_FACTS) >= 40, sorted(FRAMEWORK_FACTS)


@pytest.mark.parametrize("key", sorted(FRAMEWORK_FACTS))
def test_fact_key_names_framework_release_and_function(key: str) -> None:
    match = KEY.match(key)
    assert match, f"{key}: a framework fact key is <framework>-<major>:<function or class>:<what>"
    assert VERSIONS[match["framework"]].split(".")[0] == match["major"], (key, VERSIONS)


@pytest.mark.parametrize("key", sorted(FRAMEWORK_FACTS))
def test_fact_matches_the_real_library(key: str) -> None:
    actual = read(key)
    assert same(FRAMEWORK_FACTS[key], actual), f"{key}: the table says {FRAMEWORK_FACTS[key]!r}, " \
                                               f"{VERSIONS} says {actual!r}"


def test_every_behaviour_reader_has_its_fact() -> None:
    """A reader whose key was renamed away would silently check nothing."""
    assert set(BEHAVIOURS) <= set(FRAMEWORK_FACTS), sorted(set(BEHAVIOURS) - set(FRAMEWORK_FACTS))


def test_a_wrong_default_is_caught() -> None:
    key = "pytorch-2:torch.nn.LeakyReLU:negative_slope"
    assert same(0.01, read(key)) and not same(0.3, read(key))
    assert not same("keep", read("pytorch-2:torch.nn.Dropout:p-meaning"))
