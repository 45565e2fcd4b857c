"""The Ray Serve side of ``python -m bench.peers``: ``python bench/peers/ray_app.py
--port N`` in the peers' environment (``.venv-bench-peers``), with ``bench/peers`` on
PYTHONPATH (the replicas import ``peer_model``).

A local Ray instance on 127.0.0.1 (no dashboard, no usage stats) serves three
applications on one HTTP proxy:

* ``/noop``: one deployment returning its input;
* ``/chain``: three deployments, the first (HTTP ingress) calling the second and the
  second the third through deployment handles;
* ``/sentiment``: the sentiment SavedModel (``peer_model``), one text per request.

Each takes a ``{"text": ...}`` JSON body by POST. One replica per deployment, no
access log. Prints ``READY`` when all three are deployed, then serves until SIGTERM or
SIGINT.
"""
from __future__ import annotations

import argparse
import os
import signal
import threading

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
# Off, Ray takes the loopback address as this node's (Linux otherwise advertises the
# machine's address, and its core gRPC servers then listen on every interface).
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")

import ray  # noqa: E402  (after the environment it reads)
from ray import serve  # noqa: E402

#: Replicas take no CPU reservation: three stages and the model share the machine's
#: cores as our processes do (Ray would otherwise refuse more replicas than cores).
OPTIONS = {"num_replicas": 1, "ray_actor_options": {"num_cpus": 0}}
#: No access log line per request: ours writes none in this scenario either.
LOGGING = {"enable_access_log": False}


def loopback_only() -> None:
    """Bind this replica's inter-deployment gRPC server to 127.0.0.1.

    Ray Serve 2.60 binds it to ``[::]:0``, every interface, with no option to change it
    (``ray/serve/_private/replica.py``, ``_on_initialized``). A replica builds its
    user object before it starts that server, so each deployment's ``__init__`` calls
    this; the node's address is 127.0.0.1 here, so handles still reach it.
    """
    from ray.serve._private import replica

    bind = replica.add_port_to_grpc_server
    if getattr(bind, "loopback", False):
        return

    def on_loopback(server, address):
        return bind(server, address.replace("[::]", "127.0.0.1", 1))

    on_loopback.loopback = True
    replica.add_port_to_grpc_server = on_loopback


class _Stage:
    """A no-op stage: returns its input, or what the next stage's handle returns."""

    def __init__(self, next_stage=None):
        loopback_only()
        self.next = next_stage

    async def predict(self, body: dict) -> dict:
        if self.next is None:
            return body
        return await self.next.predict.remote(body)


class _Ingress(_Stage):
    """The HTTP entry of a chain (or the single no-op service)."""

    async def __call__(self, request) -> dict:
        return await self.predict(await request.json())


Stage = serve.deployment(_Stage, **OPTIONS)
Ingress = serve.deployment(_Ingress, **OPTIONS)


@serve.deployment(**OPTIONS)
class Sentiment:
    """The sentiment SavedModel, loaded in the replica's process."""

    def __init__(self):
        from peer_model import Sentiment as Model

        loopback_only()
        self.model = Model()

    async def __call__(self, request) -> dict:
        body = await request.json()
        return self.model.predict(body["text"])


def applications() -> dict:
    """route prefix -> bound application."""
    c = Stage.options(name="noop_c").bind()
    b = Stage.options(name="noop_b").bind(c)
    return {"/noop": Ingress.options(name="noop").bind(),
            "/chain": Ingress.options(name="noop_a").bind(b),
            "/sentiment": Sentiment.bind()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    ray.init(_node_ip_address="127.0.0.1", include_dashboard=False,
             num_cpus=os.cpu_count(), log_to_driver=False, configure_logging=False)
    serve.start(http_options={"host": "127.0.0.1", "port": args.port},
                logging_config=LOGGING)
    for prefix, app in applications().items():
        serve.run(app, name=prefix.strip("/"), route_prefix=prefix, logging_config=LOGGING)
    print("READY", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    serve.shutdown()
    ray.shutdown()


if __name__ == "__main__":
    main()
