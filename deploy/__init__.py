"""Deployment: the registry, gunicorn settings, the container entry points
(:mod:`deploy.serve`, :mod:`deploy.healthcheck`) and the generator of the compose and
Kubernetes files (:mod:`deploy.generate`)."""
