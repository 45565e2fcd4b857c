"""What the calls policy costs per call: the signature made by the caller and checked by
the callee, against the same call with no policy, in one run.

    python scripts/policy-cpu.py [--calls 2000] [--rounds 3]

Two no-op services run under gunicorn: ``noop_open`` with no policy, ``noop_policy``
with the public key of this script's identity (``bench_caller``). This process calls
the first unsigned and the second signed (as a service does: a fresh Ed25519 signature
per call), alternating in rounds. It prints, per call: the server's CPU (its gunicorn
processes, from /proc), this process's CPU (``time.process_time``) and the median wall
time, and their ratios with the policy to without. Then the same two apps in this
process (Flask's test client: the callee's side alone, without sockets), and the cost
of signing and of checking alone. A machine shared with other load inflates every
figure alike.
"""
from __future__ import annotations

import argparse
import statistics
import time

from bench import servers
from bench.apps import create_noop_app
from common.client import Client
from common.core import identity

BODY = {"text": "hello there"}
CALLER = "bench_caller"


def measure(algo, processes, calls: int, signed: bool) -> dict[str, float]:
    """Server CPU, client CPU and median wall time per call, in microseconds."""
    token = identity.act_as(CALLER if signed else None)
    try:
        for _ in range(200):
            algo.pipe(BODY)
        pids = servers.server_pids(processes)
        server, client, walls = servers.cpu_seconds(pids), time.process_time(), []
        for _ in range(calls):
            began = time.perf_counter()
            algo.pipe(BODY)
            walls.append(time.perf_counter() - began)
        return {"server": (servers.cpu_seconds(pids) - server) / calls * 1e6,
                "client": (time.process_time() - client) / calls * 1e6,
                "wall": statistics.median(walls) * 1e6}
    finally:
        identity.stop_acting(token)


def alone(function, count: int = 20000) -> float:
    """CPU microseconds of one call of ``function``."""
    began = time.process_time()
    for _ in range(count):
        function()
    return (time.process_time() - began) / count * 1e6


def primitives(private_key: str) -> dict[str, float]:
    """Signing one call, and checking one (signature, window and replay guard)."""
    signer = identity.Signer(CALLER, private_key)
    public = identity.parse_public_keys(f"{CALLER}={signer.public_key}")
    verifier = identity.Verifier(public, ["noop_policy"])
    headers = [signer.header("noop_policy", "POST", "/predict", "r") for _ in range(20000)]
    pending = iter(headers)
    return {"sign": alone(lambda: signer.header("noop_policy", "POST", "/predict", "r")),
            "check": alone(lambda: verifier.verify(next(pending), "POST", "/predict", "r"))}


def in_process(public: str, signer: identity.Signer, calls: int,
               policy_first: bool) -> tuple[float, float]:
    """CPU microseconds of one ``/predict`` of each app in this process: no policy, and
    the policy with a signed call (headers signed beforehand: only the check counts)."""
    apps = [create_noop_app(n, {"LOAD_MODEL": "sync", **extra}).test_client() for n, extra in
            (("noop_open", {}), ("noop_policy", {"IDENTITY_PUBLIC_KEYS": public}))]
    headers = [{identity.IDENTITY_HEADER: signer.header("noop_policy", "POST", "/predict",
                                                        "r"), "X-Request-ID": "r"}
               for _ in range(calls + 200)]
    figures = {}
    order = [1, 0] if policy_first else [0, 1]
    for index in order:
        app, signed = apps[index], ([{}] * (calls + 200), headers)[index]
        pending = iter(signed)
        for _ in range(200):
            assert app.post("/predict", json=BODY, headers=next(pending)).status_code == 200
        began = time.process_time()
        for _ in range(calls):
            app.post("/predict", json=BODY, headers=next(pending))
        figures[index] = (time.process_time() - began) / calls * 1e6
    return figures[0], figures[1]


def main() -> None:
    """Print the per-call figures of each round and their ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    private_key = identity.new_private_key()
    identity.register_signer(identity.Signer(CALLER, private_key))
    env = {"NOOP_POLICY_IDENTITY_PUBLIC_KEYS":
           f"{CALLER}={identity.public_key_text(private_key)}"}
    entries = [servers.noop_entry("noop_open"), servers.noop_entry("noop_policy")]
    with servers.serve(entries, env, tag="policy-cpu") as svc:
        client = Client(urls={n: p.url for n, p in svc.items()})
        for round_ in range(args.rounds):   # which goes first alternates
            order = ("open", "policy") if round_ % 2 == 0 else ("policy", "open")
            got = {kind: measure(client.algo(f"noop_{kind}"), [svc[f"noop_{kind}"]],
                                 args.calls, signed=kind == "policy") for kind in order}
            open_, policy = got["open"], got["policy"]
            for what in ("server", "client", "wall"):
                print(f"round {round_}: {what:6} per call: no policy {open_[what]:6.0f} us, "
                      f"policy {policy[what]:6.0f} us, ratio "
                      f"{policy[what] / open_[what]:.3f}", flush=True)
    signer = identity.Signer(CALLER, private_key)
    for round_ in range(args.rounds):
        bare, checked = in_process(env["NOOP_POLICY_IDENTITY_PUBLIC_KEYS"], signer,
                                   args.calls, policy_first=round_ % 2 == 1)
        print(f"round {round_}: in this process, the callee's CPU per call: no policy "
              f"{bare:.0f} us, policy {checked:.0f} us, ratio {checked / bare:.3f}",
              flush=True)
    costs = primitives(private_key)
    print(f"alone, in this process: signing {costs['sign']:.0f} us, checking "
          f"{costs['check']:.0f} us CPU per call")


if __name__ == "__main__":
    main()
