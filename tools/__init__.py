"""Repository tooling, not shipped in a service image: the local launcher (``make run``),
the service scaffold (``make service``) and its templates, and the batch benchmark."""
