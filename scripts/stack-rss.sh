#!/usr/bin/env bash
# The RSS of the whole `make run` stack of each checkout given, in turn: start every
# registered service (the launcher, on the registry's ports), wait until all are ready,
# add up the RSS of their gunicorn processes (masters and workers), stop.
#   scripts/stack-rss.sh <checkout> [<checkout> ...]
# PY: the python with the dependencies (default: this checkout's .venv).
set -u
PY=${PY:-$(cd "$(dirname "$0")/.." && pwd)/.venv/bin/python}
for tree in "$@"; do
  cd "$tree" || exit 1
  out=$(mktemp)
  PYTHONPATH=$tree $PY -m tools.launcher --log-dir "$(mktemp -d)" > "$out" 2>/dev/null &
  pid=$!
  count=$(PYTHONPATH=$tree $PY -c "from common.core.registry import load_registry; print(len(load_registry()))")
  for _ in $(seq 300); do [ "$(wc -l < "$out")" -ge "$count" ] && break; sleep 1; done
  sleep 3  # background loads settle
  total=0
  for p in $(pgrep -f "gunicorn --config $tree/deploy/gunicorn.conf.py"); do
    kb=$(awk '/VmRSS/ {print $2}' /proc/$p/status 2>/dev/null || echo 0)
    total=$((total + ${kb:-0}))
  done
  echo "$(git -C "$tree" log --oneline -1 | cut -c1-50): $(wc -l < "$out") services, $((total / 1024)) MiB RSS"
  for p in $(pgrep -f "gunicorn --config $tree/deploy/gunicorn.conf.py.*text_cleaner"); do
    echo "   text_cleaner process $p: $(( $(awk '/VmRSS/ {print $2}' /proc/$p/status) / 1024 )) MiB"
  done
  kill -INT $pid; wait $pid 2>/dev/null; sleep 2
done
