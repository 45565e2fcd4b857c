"""The fast style-transfer network (Johnson et al.'s feed-forward kind, made small) and
the fixed random-weight feature extractor whose Gram matrices carry the style.

TensorFlow is imported inside functions only: the service imports this module before
the fork.
"""
from __future__ import annotations

from pathlib import Path

#: The transform downsamples twice by 2; inputs are padded to a multiple of this.
MULTIPLE = 4


def build_transform(width: int = 24, seed: int = 7):
    """A small image-transformation net: uint8-range floats [N, H, W, 3] -> same."""
    import tensorflow as tf
    layers = tf.keras.layers

    def norm_relu(x, relu=True):
        x = InstanceNorm()(x)
        return layers.ReLU()(x) if relu else x

    def residual(x, channels):
        y = norm_relu(layers.Conv2D(channels, 3, padding="same")(x))
        y = norm_relu(layers.Conv2D(channels, 3, padding="same")(y), relu=False)
        return layers.Add()([x, y])

    inputs = tf.keras.Input([None, None, 3])
    x = layers.Rescaling(1 / 127.5, offset=-1.0)(inputs)
    # A fixed noise texture beside the pixels (Ulyanov et al.'s texture networks): it
    # lets the net paint strokes on flat regions too. It is fixed, tied to the pixel
    # position, so one image always gives one output and a still scene stays still.
    x = layers.Concatenate()([x, NoiseTile(seed)(x)])
    x = norm_relu(layers.Conv2D(width, 7, padding="same")(x))
    x = norm_relu(layers.Conv2D(width * 2, 3, strides=2, padding="same")(x))
    x = norm_relu(layers.Conv2D(width * 4, 3, strides=2, padding="same")(x))
    for _ in range(3):
        x = residual(x, width * 4)
    for channels in (width * 2, width):
        x = layers.UpSampling2D(2, interpolation="nearest")(x)
        x = norm_relu(layers.Conv2D(channels, 3, padding="same")(x))
    # A residual in logit space: the net starts as the identity (zero last layer) and
    # learns what to change, so the layout is kept from the first step; the sigmoid
    # keeps every pixel in range without clipping away the gradients.
    residual_logits = layers.Conv2D(3, 7, padding="same", kernel_initializer="zeros")(x)
    outputs = layers.Lambda(_paint, name="paint")([inputs, residual_logits])
    return tf.keras.Model(inputs, outputs, name="style_transform")


def _paint(tensors):
    import tensorflow as tf
    pixels, residual = tensors
    share = tf.clip_by_value(pixels / 255.0, 0.01, 0.99)
    return 255.0 * tf.sigmoid(tf.math.log(share / (1.0 - share)) + residual)


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


def _noise_tile_class():
    import tensorflow as tf

    class NoiseTile(tf.keras.layers.Layer):
        """A fixed (non-trainable) uniform noise tile, repeated over the image."""

        def __init__(self, seed: int = 7, size: int = 128, channels: int = 3, **kwargs):
            super().__init__(**kwargs)
            self.seed, self.size, self.channels = seed, size, channels

        def build(self, shape):
            self.tile = self.add_weight(
                name="tile", shape=[self.size, self.size, self.channels], trainable=False,
                initializer=tf.keras.initializers.RandomUniform(-1.0, 1.0, seed=self.seed))

        def call(self, x):
            shape = tf.shape(x)
            reps = [shape[1] // self.size + 1, shape[2] // self.size + 1, 1]
            noise = tf.tile(self.tile, reps)[:shape[1], :shape[2], :]
            return tf.broadcast_to(noise[None], [shape[0], shape[1], shape[2], self.channels])

        def get_config(self):
            return {**super().get_config(), "seed": self.seed, "size": self.size,
                    "channels": self.channels}

    return NoiseTile


def NoiseTile(seed: int):  # noqa: N802  a layer factory, named like the layer
    """The fixed noise-tile layer (built lazily: TensorFlow loads on first use)."""
    global _NOISE_TILE
    if _NOISE_TILE is None:
        _NOISE_TILE = _noise_tile_class()
    return _NOISE_TILE(seed)


_NOISE_TILE = None


def InstanceNorm():  # noqa: N802  a layer factory, named like the layer
    """An instance-normalisation layer (built lazily: TensorFlow loads on first use)."""
    global _INSTANCE_NORM
    if _INSTANCE_NORM is None:
        _INSTANCE_NORM = _instance_norm_class()
    return _INSTANCE_NORM()


_INSTANCE_NORM = None


def build_features(seed: int):
    """A fixed, random-weight multi-scale conv net (never trained): its activations'
    Gram matrices describe texture and colour (Ulyanov et al.; He et al. 2016), its
    deeper activations the layout, so no pretrained weights are needed."""
    import tensorflow as tf
    layers = tf.keras.layers
    init = tf.keras.initializers.HeNormal(seed=seed)
    inputs = tf.keras.Input([None, None, 3])
    x = layers.Rescaling(1 / 127.5, offset=-1.0)(inputs)
    taps = []
    for index, (channels, kernel) in enumerate([(32, 3), (48, 5), (64, 5), (64, 3)]):
        x = layers.Conv2D(channels, kernel, padding="same", activation="relu",
                          kernel_initializer=init, name=f"random_{index}")(x)
        taps.append(x)
        x = layers.AveragePooling2D(2)(x)
    model = tf.keras.Model(inputs, taps, name="random_features")
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
