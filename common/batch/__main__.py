"""``python -m common.batch SERVICE INPUT [options]``: score a JSONL or CSV file.

    python -m common.batch text_cleaner tweets.jsonl                  # chunked, 4 workers
    python -m common.batch sentiment reviews.csv --id-field id --fields text
    python -m common.batch text_cleaner tweets.jsonl --mode parallel --workers 8
    python -m common.batch text_cleaner tweets.jsonl --retry-failed   # failed items only
    python -m common.batch text_cleaner tweets.jsonl --next 'sentiment[text]'
    python -m common.batch video clips/            # every file of clips/ -> an .mp4 each

Run the same command again after a crash to resume. Exit status: 0 all items done,
3 some failed (recorded; see --retry-failed), 4 aborted (resume later), 2 bad usage.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from common.core.errors import ServiceError
from .job import DB_ENV, MODES, JobOptions, run_job
from .records import FORMATS, SourceError
from .store import JobMismatch


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(
        prog="python -m common.batch", description=__doc__.split("\n")[0],
        epilog=__doc__.split("\n", 2)[2], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("service", help="registered service or pipeline (name or name@1)")
    parser.add_argument("input", type=Path, help="JSON Lines (one input a line), CSV, or "
                        "a folder of files (or, with --format files, a list of paths)")
    _add_storage(parser.add_argument_group("where results go"))
    _add_reading(parser.add_argument_group("reading the input"))
    _add_scoring(parser.add_argument_group("scoring"))
    return parser


def _add_storage(group) -> None:
    group.add_argument("-o", "--output", type=Path,
                       help="JSONL results (default: <input stem>.results.jsonl)")
    group.add_argument("--db", help=f"SQLAlchemy URL (default: ${DB_ENV}, else SQLite "
                       "beside the output; put passwords in the environment variable)")
    group.add_argument("--save-field", help="a result field holding a base64 file to "
                       "write out, keeping its path in the results (default: video for "
                       "file inputs)")
    group.add_argument("--save-ext", default=".mp4", help="the written files' extension")
    group.add_argument("--files-dir", type=Path, help="where result files go (default: "
                       "<output stem>.files/ beside the output)")
    group.add_argument("--job", help="job id (default: from input name, service and "
                       "the input's sha256, so the same command resumes)")


def _add_reading(group) -> None:
    group.add_argument("--format", choices=FORMATS, help="default: from the extension")
    group.add_argument("--id-field", help="a field holding a stable, unique item id "
                       "(taken out of the input sent to the service)")
    group.add_argument("--fields", help="comma-separated fields to send (default: all)")
    group.add_argument("--file-field", default="video", help="file inputs: the input "
                       "field each file is sent as, base64 (default: video)")


def _add_scoring(group) -> None:
    group.add_argument("--mode", choices=MODES, default="chunked",
                       help="one input per call, one at a time (serial) or on N threads "
                       "(parallel); or list calls within the service's limits (chunked)")
    group.add_argument("--workers", type=int, default=4, help="threads (default 4)")
    group.add_argument("--batch-size", type=int,
                       help="items per list call (default and cap: the service's "
                       "max_batch_size; also kept under max_body_bytes and the timeout)")
    group.add_argument("--chunk-size", type=int, default=500,
                       help="items committed per transaction (default 500)")
    group.add_argument("--timeout", type=float, default=30.0, help="seconds per call")
    group.add_argument("--retry-failed", action="store_true",
                       help="score the items recorded as failed again (and any left)")
    group.add_argument("--next", action="append", default=[], metavar="STAGE",
                       help="hybrid next stage(s), e.g. 'sentiment[text]'")
    group.add_argument("--url", help="the service's URL (default: registry and "
                       "MODELCHAIN_URL_<NAME>)")
    group.add_argument("--no-progress", action="store_true", help="no progress bar")


def options_from(args: argparse.Namespace) -> JobOptions:
    """Job options from parsed arguments."""
    fields = tuple(f.strip() for f in (args.fields or "").split(",") if f.strip())
    return JobOptions(
        service=args.service, input=args.input, output=args.output, db_url=args.db,
        job_id=args.job, fmt=args.format, id_field=args.id_field, fields=fields,
        mode=args.mode, workers=args.workers, batch_size=args.batch_size,
        chunk_size=args.chunk_size, timeout=args.timeout, retry_failed=args.retry_failed,
        next_stages=tuple(args.next), url=args.url, progress=not args.no_progress,
        file_field=args.file_field, save_field=args.save_field, save_ext=args.save_ext,
        files_dir=args.files_dir)


def main(argv: list[str] | None = None) -> int:
    """Run the job and print its summary; the exit status says how it ended."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not (args.input.is_file() or args.input.is_dir()):
        parser.error(f"no such file or folder: {args.input}")
    try:
        summary = run_job(options_from(args))
    except (SourceError, JobMismatch, ServiceError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(summary, file=sys.stderr)
    return summary.exit_code


if __name__ == "__main__":
    sys.exit(main())
