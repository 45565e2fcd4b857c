"""``python -m bench.peers``: ours, BentoML and Ray Serve, alternately, in one script.

    python -m bench.peers                      # 1 and 8 clients, 3 rounds of 5 s runs
    python -m bench.peers --clients 1 --seconds 3 --rounds 1    # a quick look

Needs ``.venv-bench-peers`` (``make bench-peers`` builds it) and wrk. Tables go to
stdout, progress lines to stderr, every run to ``bench-results/peers.json``.
"""
from __future__ import annotations

import argparse
import sys

from ..report import load_line
from . import everything, report, run_rounds


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m bench.peers",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--clients", default="1,8",
                        help="comma-separated concurrencies (wrk connections; default 1,8)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds (default 3)")
    parser.add_argument("--seconds", type=int, default=5,
                        help="measured seconds per run (default 5)")
    parser.add_argument("--warmup", type=float, default=1.0,
                        help="unmeasured seconds before each run (default 1)")
    parser.add_argument("--threads", type=int, default=32,
                        help="gunicorn threads of our services (default 32)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Start everything, run the rounds, print both tables."""
    args = parse_args(argv)
    clients = [int(c) for c in args.clients.split(",") if c.strip()]
    print(f"# python -m bench.peers {' '.join(argv if argv is not None else sys.argv[1:])}"
          .rstrip())
    print(f"# before: {load_line()}", flush=True)
    with everything(args.threads) as cases:
        measured = run_rounds(cases, clients, args.rounds, args.seconds, args.warmup)
    options = {**vars(args), "clients": clients}
    for table in report(measured, options):
        print("\n" + table.render(), flush=True)
    print(f"\n# after: {load_line()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
