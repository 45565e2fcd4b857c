"""The bottom room: errors, the request context, configuration and the registry.
It imports no other part of ``common``."""
