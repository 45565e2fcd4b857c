"""The shipped classifier: a small CNN and its serving function.

The serving function takes the native tensor (VGG recipe: float32 [N, 224, 224, 3],
BGR, ImageNet mean subtracted), adds the mean back, turns it to RGB in 0..1, averages
4x4 blocks down to 56x56 (shapes, not fine texture, decide the label) and runs the CNN.
Training feeds the CNN the same 56x56 block averages, made in NumPy from the same
224x224 stretch, so training and serving see identical inputs.

TensorFlow is imported inside functions: the service imports this package before the fork.
"""
from __future__ import annotations

import numpy as np

from common.media.scenes import LABELS

from .recipe import SIZE, VGG_MEAN_RGB

POOL = 4
INPUT = SIZE // POOL  # 56


def block_average(pixels: np.ndarray) -> np.ndarray:
    """uint8 [224, 224, 3] -> float32 [56, 56, 3]: the mean of each 4x4 block (what the
    serving function's average pooling computes)."""
    blocks = pixels.astype(np.float32).reshape(INPUT, POOL, INPUT, POOL, 3)
    return blocks.mean(axis=(1, 3))


def build_network():
    """The Keras CNN: [56, 56, 3] RGB in 0..1 -> class probabilities."""
    import keras
    from keras import layers

    def conv(x, filters):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        return layers.ReLU()(x)

    image = keras.Input((INPUT, INPUT, 3), name="image")
    x = Standardise()(image)
    x = layers.MaxPool2D()(conv(x, 24))        # 28
    x = layers.MaxPool2D()(conv(x, 48))        # 14
    x = layers.MaxPool2D()(conv(conv(x, 64), 64))  # 7
    x = conv(x, 128)
    # the average says what the image is mostly about, the maximum where a corner is
    x = layers.Concatenate()([layers.GlobalAveragePooling2D()(x),
                              layers.GlobalMaxPooling2D()(x)])
    x = layers.Dropout(0.2)(x)
    out = layers.Dense(len(LABELS), activation="softmax", name="scores")(x)
    return keras.Model(image, out, name="shape_classifier")


def Standardise():
    """A layer: each image minus its mean, over its standard deviation. Without it the
    network did not learn at all in 300 steps (its loss stayed at chance), since the
    backgrounds' brightness and contrast vary far more than the shapes do."""
    import keras
    import tensorflow as tf

    class _Standardise(keras.layers.Layer):
        def call(self, x):
            mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
            std = tf.math.reduce_std(x, axis=[1, 2, 3], keepdims=True)
            return (x - mean) / tf.maximum(std, 0.02)

    return _Standardise(name="standardise")


def export(network, directory: str) -> None:
    """Save ``network`` as a SavedModel whose ``serving_default`` takes ``tensor``
    (float32 [N, 224, 224, 3], the VGG recipe) and answers ``scores`` [N, classes]."""
    import tensorflow as tf

    class Classifier(tf.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net

        @tf.function(input_signature=[tf.TensorSpec([None, SIZE, SIZE, 3], tf.float32,
                                                    name="tensor")])
        def serve(self, tensor):
            rgb = tensor[..., ::-1] + tf.constant(VGG_MEAN_RGB, tf.float32)
            small = tf.nn.avg_pool2d(rgb / 255.0, POOL, POOL, "VALID")
            return {"scores": self.net(small, training=False)}

    clean = build_network()  # the weights only, not the optimizer's slots
    clean.set_weights(network.get_weights())
    module = Classifier(clean)
    tf.saved_model.save(module, directory, signatures={"serving_default": module.serve})
