#!/usr/bin/env bash
# setup.sh — idempotent set-up for Spyglass on Debian 12 with Node 20, run by `npm start`
# and `npm test` before anything else. Each step checks first and only does work when
# something is missing, so a second run with nothing changed takes a few seconds.
#
#   bash scripts/setup.sh            # what `npm start` needs
#   bash scripts/setup.sh --test     # also PostgreSQL and Chromium, for `npm test`
#
# Steps: Debian packages (ffmpeg, mediasoup build deps; chromium, postgresql, Ceph's RGW and coturn with --test;
#   coturn's system service is left disabled: the TURN tests run their own turnserver)
# → npm dependencies (npm ci --ignore-scripts, then the one native addon we need)
# → the mediasoup worker, built offline from the npm package's sources and cached outside
#   the repo by version (scripts/build-mediasoup-worker.sh)
# → Redis reachable at REDIS_URL (installed and started locally when nothing answers)
# → with --test: PostgreSQL answering on 127.0.0.1:5432 (started, or installed and started).
set -Eeuo pipefail
cd "$(dirname "$0")/.."

FOR_TESTS=0
[ "${1:-}" = "--test" ] && FOR_TESTS=1
log() { printf '[setup] %s\n' "$*" >&2; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }
SUDO=""
if [ "$(id -u)" != 0 ]; then command -v sudo >/dev/null 2>&1 && SUDO="sudo"; fi

# ------------------------------------------------------------------ node --
node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>22||a===22||(a===20&&b>=19)?0:1)' \
  || die "Node $(node --version) is too old: Spyglass needs Node 20.19+ (or 22+)"

# ------------------------------------------------------- Debian packages --
PKGS=(ffmpeg redis-tools g++ make python3 pkg-config meson ninja-build libssl-dev libuv1-dev libsrtp2-dev
  libusrsctp-dev libabsl-dev libflatbuffers-dev flatbuffers-compiler util-linux procps)
# Ceph (one monitor, one OSD, radosgw): the real S3 server the storage tests run against (scripts/start-rgw.sh).
# socat forwards the machine's services onto the bridge of hosts in network namespaces, and
# nftables drops packets on a link between them (scripts/cluster/: the many-hosts tests, `npm run cluster`).
# coturn: the TURN server the TURN tests start themselves (test/helpers/coturn.ts).
[ "$FOR_TESTS" = 1 ] && PKGS+=(chromium postgresql unzip ceph-mon ceph-osd radosgw ceph-common curl socat nftables iproute2 coturn)
missing=()
PG_FRESH=0
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${db:Status-Status}\n' "$p" 2>/dev/null | grep -qx installed || missing+=("$p")
done
[[ " ${missing[*]:-} " == *" postgresql "* ]] && PG_FRESH=1
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  if ! $SUDO apt-get install -y --no-install-recommends "${missing[@]}" >/tmp/spyglass-apt.log 2>&1; then
    $SUDO apt-get update -qq >/tmp/spyglass-apt.log 2>&1 || true
    $SUDO apt-get install -y --no-install-recommends "${missing[@]}" >>/tmp/spyglass-apt.log 2>&1 \
      || { tail -20 /tmp/spyglass-apt.log >&2; die "apt-get install failed (log: /tmp/spyglass-apt.log)"; }
  fi
fi

# Debian's coturn enables its system service (and starts it, under systemd) on 3478: the tests
# run their own turnserver, so the system one is stopped and disabled (systemctl also works
# offline, without systemd running); nothing else starts it.
if [ "$FOR_TESTS" = 1 ] && command -v systemctl >/dev/null 2>&1; then
  if systemctl is-enabled --quiet coturn.service 2>/dev/null; then
    log "disabling the coturn system service"
    $SUDO systemctl disable coturn.service >/dev/null 2>&1 || die "could not disable the coturn system service"
  fi
  if [ -d /run/systemd/system ] && systemctl is-active --quiet coturn.service 2>/dev/null; then
    log "stopping the coturn system service"
    $SUDO systemctl stop coturn.service >/dev/null 2>&1 || die "could not stop the coturn system service"
  fi
fi

# ---------------------------------------------------------- npm packages --
# npm's install scripts are off: mediasoup's postinstall would try to download its worker.
lock_hash=$(sha256sum package-lock.json package.json | sha256sum | cut -c1-16)
stamp=node_modules/.spyglass-setup
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$lock_hash" ]; then
  log "installing npm dependencies"
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2
  log "building better-sqlite3 from source (~1 min)"
  npm rebuild better-sqlite3 --loglevel=error >&2
  echo "$lock_hash" > "$stamp"
fi
node -e "new (require('better-sqlite3'))(':memory:').close()" 2>/dev/null \
  || { log "rebuilding better-sqlite3"; npm rebuild better-sqlite3 --loglevel=error >&2; }

# ------------------------------------------------------ mediasoup worker --
bash scripts/build-mediasoup-worker.sh node_modules/mediasoup --install >/dev/null

# ----------------------------------------------------------------- Redis --
REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379}"
if ! redis-cli -u "$REDIS_URL" ping 2>/dev/null | grep -q PONG; then
  hostport=${REDIS_URL#*://}; hostport=${hostport#*@}; hostport=${hostport%%/*}
  host=${hostport%:*}; port=${hostport##*:}; [ "$port" = "$hostport" ] && port=6379
  case "$host" in
    127.0.0.1|localhost|::1|'[::1]') ;;
    *) die "Redis at $REDIS_URL does not answer (a remote Redis is yours to start)";;
  esac
  if ! command -v redis-server >/dev/null 2>&1; then
    log "installing redis-server"
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends redis-server >/tmp/spyglass-apt.log 2>&1 \
      || { $SUDO apt-get update -qq >/dev/null 2>&1; DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y redis-server >/tmp/spyglass-apt.log 2>&1; } \
      || die "could not install redis-server"
  fi
  log "starting redis-server on 127.0.0.1:$port"
  mkdir -p /tmp/spyglass-redis
  redis-server --daemonize yes --bind 127.0.0.1 --port "$port" --dir /tmp/spyglass-redis \
    --save "" --appendonly no --maxmemory-policy noeviction --logfile /tmp/spyglass-redis/redis.log >/dev/null
  for _ in $(seq 1 50); do redis-cli -u "$REDIS_URL" ping 2>/dev/null | grep -q PONG && break; sleep 0.1; done
  redis-cli -u "$REDIS_URL" ping 2>/dev/null | grep -q PONG || die "redis-server did not start (log: /tmp/spyglass-redis/redis.log)"
fi

# ------------------------------------------------------------ PostgreSQL --
if [ "$FOR_TESTS" = 1 ] && [ -z "${TEST_DATABASE_URL:-}" ]; then
  if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    log "starting PostgreSQL"
    ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -1)
    if [ -z "$ver" ]; then
      pg_createcluster "$(ls /usr/lib/postgresql | sort -V | tail -1)" main >/dev/null 2>&1 || true
      ver=$(ls /etc/postgresql | sort -V | tail -1)
    fi
    pg_ctlcluster --skip-systemctl-redirect "$ver" main start >/dev/null 2>&1 || true
    for _ in $(seq 1 100); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 0.2; done
    pg_isready -q -h 127.0.0.1 -p 5432 || die "PostgreSQL did not start on 127.0.0.1:5432"
  fi
  if [ "$PG_FRESH" = 1 ]; then
    # Debian's fresh cluster wants a password on 127.0.0.1: give the admin user the one the
    # tests use (testkit/postgres.ts). Clusters we did not install are left alone.
    su postgres -c "psql -qc \"ALTER USER postgres PASSWORD 'postgres'\"" >/dev/null
  fi
fi
exit 0
