"""`FeatureLayer`: a feature module as a Keras 3 layer (`hub.KerasLayer` is Keras 2 only).

Kept apart from `features.load`, which does not import Keras: commands that
only run exported SavedModels start TensorFlow without it (`cli.common`).
"""

from __future__ import annotations

from tfxfer.features.load import FeatureModule, load_features
from tfxfer.features.pixels import AUTO
from tfxfer.keras_backend import keras


@keras.saving.register_keras_serializable(package="tfxfer")
class FeatureLayer(keras.layers.Layer):
    """A Keras 3 layer that applies a `FeatureModule`.

    The module's variables are the layer's weights (shared, not copied), so a
    Keras model built on it fine-tunes the module when `trainable=True`, and
    `model.save()` stores their values. The layer's config holds the module's
    spec (a path or handle): `keras.models.load_model` loads the module from
    there again, then the saved values, so the spec must still resolve.

    Args:
        module: The `FeatureModule`, or a spec for `load_features`.
        trainable: Whether to fine-tune the module's variables. Defaults to `False`.
        image_size, input_range, preprocessor: Passed to `load_features` when `module` is a spec.

    Call:
        Strings `[batch]` (text) or float32 images `[batch, H, W, 3]` in [0, 1];
        returns float32 `[batch, module.output_dim]`.
    """

    def __init__(self, module: FeatureModule | str, trainable: bool = False, image_size=None, input_range=AUTO,
                 preprocessor=None, **kwargs):
        # float32 whatever the global policy: the module's functions take float32 images, and under
        # mixed_float16 Keras cast them to float16 first, which the SavedModel refused.
        super().__init__(trainable=trainable, **{"dtype": "float32", **kwargs})
        self.module = (module if isinstance(module, FeatureModule)
                       else load_features(module, image_size, input_range=input_range, preprocessor=preprocessor))
        trainable_ids = {id(v) for v in self.module.trainable_variables}
        for variable in self.module.variables:
            # A Keras variable built on a tf.Variable wraps it: the module reads what Keras trains.
            self._track_variable(keras.Variable(
                initializer=variable, trainable=id(variable) in trainable_ids, dtype=variable.dtype,
                shape=variable.shape, name=variable.name.split(":")[0].replace("/", "_"),
            ))
        # The loaded SavedModel as the layer's child: what its graph reads besides variables (a text module's
        # vocabulary table and file) is then saved with a Keras model (`model.export()` found it untracked).
        self.saved_module = self.module.obj
        self._build_at_init()

    def call(self, inputs):
        return self.module(inputs)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.module.output_dim)

    def get_config(self):
        return {**super().get_config(), "module": self.module.spec, "image_size": self.module.image_size,
                "input_range": self.module.input_range, "preprocessor": self.module.preprocessor}
