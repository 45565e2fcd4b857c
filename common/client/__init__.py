"""The pipe client: call any registered service by name, one input or many.

``Client`` (``client.py``) holds the pooled session, retries and deadlines; ``stages.py``
names next stages (``X-Pipe-Next``); ``bulk.py`` is ``Algo.pipe_many``. This room knows
only ``common.core``.
"""
from .bulk import ItemResult, PartialAnswer, pipe_partial
from .client import (Algo, Client, PipeResponse, default_client, downstream_budget,
                     reset_default_client, unreached)
from .stages import (PIPE_NEXT_HEADER, Stage, format_stages, parse_stages, select_fields,
                     version_matches)

__all__ = ["Algo", "Client", "ItemResult", "PIPE_NEXT_HEADER", "PartialAnswer", "PipeResponse",
           "Stage", "default_client", "downstream_budget", "format_stages", "parse_stages",
           "pipe_partial", "reset_default_client", "select_fields", "unreached",
           "version_matches"]
