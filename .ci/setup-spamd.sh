#!/usr/bin/env bash
# Install and start a real SpamAssassin spamd for the spam preflight integration
# test (test/integration/spamd.test.ts). Local tests only (--local: no DNS
# blocklists, no Razor/Pyzor, nothing leaves the machine), listening on
# 127.0.0.1:783 and accepting connections from 127.0.0.1 only.
# Debian splits SpamAssassin: `spamassassin` has the rules and the library,
# `spamd` the daemon (/usr/sbin/spamd).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

if ! command -v spamd >/dev/null 2>&1 && [ ! -x /usr/sbin/spamd ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends spamassassin spamd >/dev/null
fi
SPAMD=$(command -v spamd || echo /usr/sbin/spamd)

PIDFILE=/run/sendwell-spamd.pid
LOG=/var/log/sendwell-spamd.log

port_open() { (exec 3<>/dev/tcp/127.0.0.1/783) 2>/dev/null; }

if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null && port_open; then
  echo "spamd already running (pid $(cat "$PIDFILE"))"
  exit 0
fi
if port_open; then
  echo "something already listens on 127.0.0.1:783; using it"
  exit 0
fi

# spamd drops root privileges to this user; Debian's package creates debian-spamd.
RUNAS=debian-spamd
id "$RUNAS" >/dev/null 2>&1 || RUNAS=nobody

"$SPAMD" \
  --daemonize \
  --pidfile="$PIDFILE" \
  --listen=127.0.0.1:783 \
  --allowed-ips=127.0.0.1 \
  --local \
  --nouser-config \
  --username="$RUNAS" \
  --max-children=2 \
  --min-children=1 \
  --syslog="$LOG"

# Wait until port 783 answers (loading the rules takes a few seconds).
for _ in $(seq 1 300); do
  if port_open; then
    echo "spamd listening on 127.0.0.1:783"
    exit 0
  fi
  sleep 0.2
done
echo "spamd did not start listening on 127.0.0.1:783" >&2
tail -n 50 "$LOG" >&2 || true
exit 1
