"""The HTTPS front: nginx (Debian's package) before the services.

It terminates TLS, buffers slow clients, enforces the services' own size limits,
answers its own errors in the JSON envelope and passes the request id and trace
context through. :mod:`deploy.front.config` renders its configuration from the
registry (``python -m deploy.generate`` writes the checked-in files beside this one),
:mod:`deploy.front.tls` makes a self-signed certificate for local runs, and
``tools/front.py`` runs it (``make run FRONT=1``).
"""
