"""The tiny words model (tests/helpers/words.py) as the ``app`` and ``client`` fixtures."""
from tests.helpers.words import app, client  # noqa: F401  fixtures re-exported by name
