#!/usr/bin/env bash
# System packages the tests need: chromium (browser tests), redis-server (queue worker
# tests), a Java runtime (the Spark job), kubectl and docker-compose (the deploy files
# checked by real tools), nginx (the HTTPS front), from Debian. Installed
# only when missing, and only where we may (root); elsewhere the tests say what to install.
set -euo pipefail
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
# The batch queue worker's tests run a real redis-server; the Spark job needs a JRE
# (PySpark 4 needs Java 17 or later: Debian 12's default-jre-headless is OpenJDK 17).
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v java >/dev/null 2>&1 || need+=(default-jre-headless)
# tests/tools/test_containers.py starts Debian's dockerd by hand and stops it again
# (make compose-test runs the images on it).
[ -x /usr/sbin/dockerd ] && [ -x /usr/bin/docker ] || need+=(docker.io)
# tests/deploy/test_real_tools.py: `kubectl kustomize` renders deploy/k8s (no cluster), and
# Debian's docker-compose 1.29.2 runs `config` on docker-compose.yml (no daemon).
command -v kubectl >/dev/null 2>&1 || need+=(kubernetes-client)
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
# tests/deploy/front and `make run FRONT=1`: the HTTPS front (in /usr/sbin, which a
# user's PATH may lack).
PATH="$PATH:/usr/sbin" command -v nginx >/dev/null 2>&1 || need+=(nginx)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "note: missing system packages: ${need[*]} (apt-get install ${need[*]})" >&2
  exit 0
fi
echo "installing system packages: ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
# Debian's packages start their daemons when installed (nginx on port 80, for all);
# the tests start their own on 127.0.0.1, so none may start here.
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy"
  trap 'rm -f "$policy"' EXIT
fi
apt-get update -qq >/dev/null
apt-get install -y -qq "${need[@]}" >/dev/null
