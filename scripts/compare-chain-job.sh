#!/usr/bin/env bash
# The same 2,000-line batch job (5 mention-only tweets) through tweet_sentiment, run by
# the code of each checkout given, in turn; each serves text_cleaner, sentiment and
# tweet_sentiment on the registry's ports. Usage (with nothing else on those ports):
#   scripts/compare-chain-job.sh <checkout before> <checkout after>
# PY: the python with the dependencies (default: this checkout's .venv).
set -u
PY=${PY:-$(cd "$(dirname "$0")/.." && pwd)/.venv/bin/python}
work=$(mktemp -d)
data=$work/tweets2000.jsonl
$PY - "$data" <<'PY'
import json, sys
bad = {7, 400, 999, 1500, 1999}
with open(sys.argv[1], "w") as f:
    for i in range(2000):
        f.write(json.dumps({"text": "@acme https://t.co/x" if i in bad else f"tweet {i}: loving it #GreatDay"}) + "\n")
PY
for tree in "$@"; do
  cd "$tree"
  rm -rf $work/db-* ; logs=$(mktemp -d)
  PYTHONPATH=$tree $PY -m tools.launcher text_cleaner sentiment tweet_sentiment > $logs/urls 2> $logs/err &
  pid=$!
  for _ in $(seq 120); do [ "$(wc -l < $logs/urls)" -ge 3 ] && break; sleep 1; done
  start=$(date +%s.%N)
  PYTHONPATH=$tree $PY -m common.batch tweet_sentiment $data --db sqlite:///$work/db-$$.db -o $work/out.jsonl --no-progress > $logs/job 2>&1
  code=$?
  end=$(date +%s.%N)
  echo "== $(git -C $tree log --oneline -1 | cut -c1-60)"
  echo "exit=$code seconds=$(echo "$end - $start" | bc)"; grep -E "items,|ABORTED" $logs/job
  PYTHONPATH=$tree $PY -m common.batch tweet_sentiment $data --db sqlite:///$work/db-$$.db -o $work/out.jsonl --no-progress > $logs/job2 2>&1
  echo "rerun exit=$?"; grep -E "this run|ABORTED" $logs/job2
  kill -INT $pid; wait $pid 2>/dev/null; sleep 2
done
