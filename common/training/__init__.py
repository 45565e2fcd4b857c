"""What the example models' training scripts share: a learning-rate schedule that
keeps a time budget, the training loop under it, and the command line built from a
training config.

Services never import each other's code, so the parts two trainers need live here.
Nothing here imports TensorFlow or Keras until a schedule is built."""
from .cli import config_main, parse_config
from .fit import empty_dir, fit_within, uint8_batches
from .schedule import TimeBudget, cosine_rate

__all__ = ["TimeBudget", "config_main", "cosine_rate", "empty_dir", "fit_within",
           "parse_config", "uint8_batches"]
