"""The fast style-transfer network (Johnson et al.'s feed-forward kind, made small) and
the fixed random-weight feature extractors whose statistics carry the style.

TensorFlow is imported inside functions only: the service imports this module before
the fork.
"""
from __future__ import annotations

from pathlib import Path

#: The transform downsamples twice by 2; inputs are padded to a multiple of this.
MULTIPLE = 4

#: The random feature nets' layers: (channels, kernel) per layer, average pooling
#: between layers. Different kernels give the nets different receptive fields.
FEATURE_NETS = ([(32, 3), (48, 3), (64, 3), (64, 3)],
                [(32, 5), (48, 5), (64, 5), (64, 5)],
                [(32, 7), (48, 3), (64, 7), (64, 3)])


def build_transform(width: int = 24, seed: int = 7):
    """A small image-transformation net: uint8-range floats [N, H, W, 3] -> same.

    Reflect padding everywhere (no dark or bright frame at the borders), instance
    normalisation, nearest upsampling followed by a conv (no checkerboard). A noise
    channel beside the pixels lets it paint strokes on flat regions: fresh noise at
    every training step (so no pattern tied to a place can be learned), one fixed-seed
    noise when serving (so a frame always gives one output, a still scene stays still)."""
    import tensorflow as tf
    layers = tf.keras.layers
    init = tf.keras.initializers.HeNormal(seed=seed)

    def conv(x, channels, kernel, strides=1, **kwargs):
        x = ReflectPad(kernel // 2)(x)
        return layers.Conv2D(channels, kernel, strides=strides, padding="valid",
                             kernel_initializer=kwargs.pop("kernel_initializer", init),
                             **kwargs)(x)

    def norm_relu(x, relu=True):
        x = InstanceNorm()(x)
        return layers.ReLU()(x) if relu else x

    def residual(x, channels):
        y = norm_relu(conv(x, channels, 3))
        y = norm_relu(conv(y, channels, 3), relu=False)
        return layers.Add()([x, y])

    inputs = tf.keras.Input([None, None, 3])
    x = layers.Rescaling(1 / 127.5, offset=-1.0)(inputs)
    x = layers.Concatenate()([x, Noise(seed)(x)])
    x = norm_relu(conv(x, width, 7))
    x = norm_relu(conv(x, width * 2, 3, strides=2))
    x = norm_relu(conv(x, width * 4, 3, strides=2))
    for _ in range(3):
        x = residual(x, width * 4)
    for channels in (width * 2, width):
        x = layers.UpSampling2D(2, interpolation="nearest")(x)
        x = norm_relu(conv(x, channels, 3))
    logits = conv(x, 3, 7, kernel_initializer="glorot_uniform")
    outputs = layers.Lambda(lambda t: 255.0 * tf.sigmoid(t), name="paint")(logits)
    return tf.keras.Model(inputs, outputs, name="style_transform")


def _instance_norm_class():
    import tensorflow as tf

    class InstanceNormalization(tf.keras.layers.Layer):
        """Per image and channel normalisation with a learned scale and shift."""

        def build(self, shape):
            self.scale = self.add_weight(name="scale", shape=[shape[-1]], initializer="ones")
            self.shift = self.add_weight(name="shift", shape=[shape[-1]], initializer="zeros")

        def call(self, x):
            mean, variance = tf.nn.moments(x, axes=[1, 2], keepdims=True)
            return (x - mean) * tf.math.rsqrt(variance + 1e-5) * self.scale + self.shift

    return InstanceNormalization


def _reflect_pad_class():
    import tensorflow as tf

    class ReflectPad(tf.keras.layers.Layer):
        """Reflect-pads height and width by ``pad`` on each side."""

        def __init__(self, pad: int = 1, **kwargs):
            super().__init__(**kwargs)
            self.pad = pad

        def call(self, x):
            p = self.pad
            return tf.pad(x, [[0, 0], [p, p], [p, p], [0, 0]], mode="REFLECT")

        def get_config(self):
            return {**super().get_config(), "pad": self.pad}

    return ReflectPad


def _noise_class():
    import tensorflow as tf

    class Noise(tf.keras.layers.Layer):
        """Uniform noise [N, H, W, 1] in -1..1: fresh while training, fixed otherwise."""

        def __init__(self, seed: int = 7, **kwargs):
            super().__init__(**kwargs)
            self.seed = seed

        def call(self, x, training=False):
            shape = tf.shape(x)
            if training:
                return tf.random.uniform([shape[0], shape[1], shape[2], 1], -1.0, 1.0)
            noise = tf.random.stateless_uniform([shape[1], shape[2], 1], [self.seed, 0],
                                                -1.0, 1.0)
            return tf.broadcast_to(noise[None], [shape[0], shape[1], shape[2], 1])

        def get_config(self):
            return {**super().get_config(), "seed": self.seed}

    return Noise


_LAYERS: dict = {}


def Noise(seed: int):  # noqa: N802  a layer factory, named like the layer
    """The noise-channel layer (built lazily: TensorFlow loads on first use)."""
    if "noise" not in _LAYERS:
        _LAYERS["noise"] = _noise_class()
    return _LAYERS["noise"](seed)


def InstanceNorm():  # noqa: N802  a layer factory, named like the layer
    """An instance-normalisation layer (built lazily: TensorFlow loads on first use)."""
    if "norm" not in _LAYERS:
        _LAYERS["norm"] = _instance_norm_class()
    return _LAYERS["norm"]()


def ReflectPad(pad: int):  # noqa: N802  a layer factory, named like the layer
    """A reflect-padding layer (built lazily: TensorFlow loads on first use)."""
    if "pad" not in _LAYERS:
        _LAYERS["pad"] = _reflect_pad_class()
    return _LAYERS["pad"](pad)


def build_features(seed: int, spec=FEATURE_NETS[0]):
    """A fixed, random-weight multi-scale conv net (never trained): its activations'
    Gram matrices describe texture and colour (Ulyanov et al.; He et al. 2016), its
    shallow activations the layout, so no pretrained weights are needed."""
    import tensorflow as tf
    layers = tf.keras.layers
    init = tf.keras.initializers.HeNormal(seed=seed)
    inputs = tf.keras.Input([None, None, 3])
    x = layers.Rescaling(1 / 127.5, offset=-1.0)(inputs)
    taps = []
    for index, (channels, kernel) in enumerate(spec):
        x = layers.Conv2D(channels, kernel, padding="same", activation="relu",
                          kernel_initializer=init, name=f"random_{index}")(x)
        taps.append(x)
        if index < len(spec) - 1:
            x = layers.AveragePooling2D(2)(x)
    model = tf.keras.Model(inputs, taps, name=f"random_features_{seed}")
    model.trainable = False
    return model


def export(transform, folder: str | Path) -> None:
    """Save the transform as a SavedModel whose ``serving_default`` takes uint8
    [N, H, W, 3] of any size and answers uint8 of the same shape."""
    import tensorflow as tf

    @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.uint8)])
    def serve(images):
        height, width = tf.shape(images)[1], tf.shape(images)[2]
        pad_h = (-height) % MULTIPLE
        pad_w = (-width) % MULTIPLE
        padded = tf.pad(tf.cast(images, tf.float32), [[0, 0], [0, pad_h], [0, pad_w], [0, 0]],
                        mode="REFLECT")
        styled = transform(padded, training=False)[:, :height, :width, :]
        return {"images": tf.cast(tf.clip_by_value(tf.round(styled), 0, 255), tf.uint8)}

    module = tf.Module()
    module.transform = transform
    module.serve = serve
    tf.saved_model.save(module, str(folder), signatures={"serving_default": serve})
