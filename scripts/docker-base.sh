#!/usr/bin/env bash
# The local base image for deploy/Dockerfile where no registry can be reached (so
# python:3.11-slim cannot be pulled): Debian bookworm's minbase with python3 and
# python3-venv (Python 3.11, the ABI of the wheels the images install), made from
# Debian's packages by mmdebstrap and turned into an image by `docker import`.
#
#   scripts/docker-base.sh [--force] [TAG]      (TAG: modelchain/base:bookworm)
#
# The rootfs goes straight from mmdebstrap into `docker import` (no tarball is left
# anywhere). Documentation, man pages and translations are left out as in Debian's own
# slim images. The image holds Debian's CA bundle, never this machine's additions
# (/usr/local/share/ca-certificates): the script checks that and fails otherwise.
# Needs root (mmdebstrap's default mode) and a running Docker daemon (DOCKER_HOST).
set -euo pipefail
force=0
if [ "${1:-}" = "--force" ]; then force=1; shift; fi
tag="${1:-modelchain/base:bookworm}"
docker="${DOCKER:-$(test -x /usr/bin/docker && echo /usr/bin/docker || command -v docker)}"

if [ "$force" = 0 ] && "$docker" image inspect "$tag" >/dev/null 2>&1; then
  echo "docker-base: $tag exists (--force rebuilds it)" >&2
  exit 0
fi
if ! command -v mmdebstrap >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "docker-base: mmdebstrap is missing: apt-get install mmdebstrap (as root)" >&2
    exit 1
  fi
  echo "docker-base: installing mmdebstrap" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq mmdebstrap >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null && apt-get install -y -qq mmdebstrap >/dev/null; }
fi

start=$(date +%s)
mmdebstrap --quiet --variant=minbase --include=python3,python3-venv \
  --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/man/*' \
  --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-exclude=/usr/share/lintian/*' \
  bookworm - \
  | "$docker" import \
      --change 'ENV LANG=C.UTF-8' \
      --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
      --change 'CMD ["python3"]' \
      --message "Debian bookworm minbase + python3, python3-venv (scripts/docker-base.sh)" \
      - "$tag" >/dev/null

# Nothing of this machine's: no local CA added to the image's bundle.
for ca in /usr/local/share/ca-certificates/*.crt; do
  [ -e "$ca" ] || continue
  body=$(sed -n '2p' "$ca")
  if "$docker" run --rm --network none "$tag" \
       grep -qF -- "$body" /etc/ssl/certs/ca-certificates.crt 2>/dev/null; then
    echo "docker-base: $tag holds this machine's CA $(basename "$ca"); not kept" >&2
    "$docker" image rm "$tag" >/dev/null
    exit 1
  fi
done
version=$("$docker" run --rm --network none "$tag" python3 -c \
  'import sys; print("%d.%d" % sys.version_info[:2])')
if [ "$version" != "3.11" ]; then
  echo "docker-base: $tag has Python $version, not 3.11 (the wheels' ABI)" >&2
  exit 1
fi
size=$("$docker" image inspect --format '{{.Size}}' "$tag")
echo "docker-base: $tag (Python $version, $((size / 1000000)) MB) in $(( $(date +%s) - start )) s" >&2
