"""Which device TensorFlow trains on: GPU name and memory, or a plain statement that it is the CPU."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeviceInfo:
    """What TensorFlow can train on.

    Attributes:
        gpu: Whether at least one GPU is visible to TensorFlow.
        devices: One dict per device: ``name``, ``type`` (``GPU``/``CPU``), ``description``.
        label: One line for the UI, e.g. ``"GPU: NVIDIA H200 (1 device)"`` or
            ``"CPU (no GPU found)"``.
        tensorflow: TensorFlow version.
    """

    gpu: bool
    devices: list[dict] = field(default_factory=list)
    label: str = "CPU (no GPU found)"
    tensorflow: str = ""


def detect_devices() -> DeviceInfo:
    """Ask TensorFlow for its devices and enable GPU memory growth.

    Memory growth keeps TensorFlow from taking all GPU memory at start, so the app and a
    second process can share a GPU. This imports TensorFlow (a few seconds, once per process).

    Returns:
        The :class:`DeviceInfo`.
    """
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    devices = []
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:  # already initialised: growth can no longer change
            pass
        details = tf.config.experimental.get_device_details(gpu)
        devices.append({"name": gpu.name, "type": "GPU",
                        "description": details.get("device_name", gpu.name)})
    for cpu in tf.config.list_physical_devices("CPU"):
        devices.append({"name": cpu.name, "type": "CPU", "description": "CPU"})
    if gpus:
        names = sorted({d["description"] for d in devices if d["type"] == "GPU"})
        label = f"GPU: {', '.join(names)} ({len(gpus)} device{'s' if len(gpus) > 1 else ''})"
    else:
        label = "CPU (no GPU found)"
    return DeviceInfo(bool(gpus), devices, label, tf.__version__)


MIXED = "mixed_float16"


def precision_policy(gpu: bool) -> str:
    """The Keras dtype policy a network trains under: ``mixed_float16`` on a GPU (float16
    compute, float32 weights; the networks' output layers stay float32), ``float32`` on the CPU
    (where float16 is slower, not faster). Both the single-worker path
    (:func:`training_strategy`) and every Ray Train worker choose here.

    Args:
        gpu: Whether the process trains on a GPU.

    Returns:
        ``"mixed_float16"`` or ``"float32"``.
    """
    return MIXED if gpu else "float32"


def training_strategy(devices: list[str] | None = None):
    """The ``tf.distribute`` strategy to build and fit models under.

    More than one GPU → ``MirroredStrategy`` over all of them (synchronous data parallelism);
    one GPU → the default strategy with mixed precision (``mixed_float16``; outputs stay
    float32); no GPU → the default strategy on the CPU.

    Args:
        devices: Explicit device names for a ``MirroredStrategy`` (e.g. two logical CPUs in
            tests); None chooses from the GPUs present.

    Returns:
        A ``tf.distribute.Strategy``.
    """
    import keras
    import tensorflow as tf

    if devices:
        return tf.distribute.MirroredStrategy(devices)
    gpus = tf.config.list_logical_devices("GPU")
    if gpus:
        keras.mixed_precision.set_global_policy(precision_policy(True))
    if len(gpus) > 1:
        return tf.distribute.MirroredStrategy([g.name for g in gpus])
    return tf.distribute.get_strategy()
