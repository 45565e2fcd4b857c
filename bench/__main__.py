"""``python -m bench``: run the benchmark scenarios and print their tables.

    python -m bench                          # serving, pipes, batching (about 7 minutes)
    python -m bench --quick                  # a short smoke run of the same
    python -m bench --only pipes             # some scenarios only
    python -m bench --only batching --tune   # also sweep the batching settings

Each scenario also writes ``bench-results/<scenario>.json``. Any failed request
(including a non-2xx answer) aborts the run with the first error.
"""
from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

from .load import LoadError
from .report import load_line
from .scenarios import DEFAULT, SCENARIOS, Options

NEEDS_MODEL = {"serving", "batching", "tune"}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--only", default=",".join(DEFAULT),
                        help=f"comma-separated scenarios ({', '.join(SCENARIOS)}; "
                             f"default {','.join(DEFAULT)})")
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--tune", action="store_true",
                        help="also run 'tune': sweep BATCH_MAX_SIZE x BATCH_MAX_LATENCY_MS")
    parser.add_argument("--seconds", type=int, help="measured seconds per load run")
    parser.add_argument("--threads", type=int, help="gunicorn threads per service")
    parser.add_argument("--batch-size", type=int, help="sentiment BATCH_MAX_SIZE")
    parser.add_argument("--batch-latency-ms", type=float,
                        help="sentiment BATCH_MAX_LATENCY_MS")
    parser.add_argument("--artifact", default="", help="sentiment SavedModel folder")
    return parser.parse_args(argv)


def options_from(args: argparse.Namespace) -> Options:
    """The scenarios' :class:`Options` from the command line."""
    given = {key: value for key, value in {
        "seconds": args.seconds, "threads": args.threads, "batch_size": args.batch_size,
        "batch_latency_ms": args.batch_latency_ms}.items() if value is not None}
    given["artifact"] = args.artifact
    return Options.quick_run(**given) if args.quick else Options(**given)


def selected(only: str, tune: bool = False) -> list[str]:
    """The scenarios named by ``--only`` (and ``tune`` with ``--tune``), in the canonical
    order; SystemExit if one is unknown."""
    names = [n.strip() for n in only.split(",") if n.strip()] + (["tune"] if tune else [])
    unknown = sorted(set(names) - set(SCENARIOS))
    if unknown:
        raise SystemExit(f"unknown scenario(s): {', '.join(unknown)}; known: "
                         f"{', '.join(SCENARIOS)}")
    return [n for n in SCENARIOS if n in names]


def check_model(artifact: str) -> None:
    """Refuse to start the model scenarios without a trained sentiment artifact."""
    from services.sentiment.classifier import DEFAULT_ARTIFACT
    path = Path(artifact or DEFAULT_ARTIFACT)
    if not (path / "saved_model.pb").exists():
        raise SystemExit(f"no trained sentiment model at {path}: train it first "
                         "(python -m services.sentiment.train) or pass --artifact")


def main(argv: list[str] | None = None) -> int:
    """Run the selected scenarios in turn and print each one's tables."""
    args = parse_args(argv)
    names, options = selected(args.only, args.tune), options_from(args)
    if NEEDS_MODEL & set(names):
        check_model(args.artifact)
    print(f"# python -m bench {' '.join(argv if argv is not None else sys.argv[1:])}".rstrip())
    print(f"# {load_line()}; {options}", flush=True)
    started = time.monotonic()
    for name in names:
        if not run_scenario(name, options):
            return 1
    print(f"# done in {time.monotonic() - started:.0f}s; {load_line()}; JSON in bench-results/")
    return 0


def run_scenario(name: str, options: Options) -> bool:
    """Run one scenario and print its tables; False (after printing why) on failure."""
    began = time.monotonic()
    print(f"\n## {name} ({load_line()})", flush=True)
    module = importlib.import_module(f"bench.scenarios.{name}")
    try:
        tables = module.run(options)
    except (LoadError, RuntimeError, TimeoutError) as e:
        print(f"FAILED: {name}: {e}", file=sys.stderr, flush=True)
        return False
    for table in tables:
        print("\n" + table.render(), flush=True)
    print(f"# {name}: {time.monotonic() - began:.0f}s; {load_line()}", flush=True)
    return True


if __name__ == "__main__":
    sys.exit(main())
