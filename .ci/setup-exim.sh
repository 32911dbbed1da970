#!/usr/bin/env bash
# A real Exim4 beside the Postfix of setup-postfix.sh, for live Exim bounces
# (test/integration/bounce-exim.test.ts). Debian's exim4-daemon-light
# conflicts with postfix (both provide mail-transport-agent), so it is not
# installed: its package is unpacked into $EXIM_DIR and its binary runs with
# our own configuration (.ci/exim.conf, via -C). Postfix stays as it is.
#
# No daemon and no listening port: messages are submitted on the command line
# (or through $EXIM_DIR/sendmail). Remote domains go to 127.0.0.1 only, to the
# test's own SMTP server on the port in $EXIM_DIR/sink-port, so nothing ever
# leaves the machine. Idempotent.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
cd "$(dirname "$0")"

EXIM_DIR=/opt/sendwell-ci/exim
EXIM="$EXIM_DIR/usr/sbin/exim4"

# Unpacked once; the package's files are not registered with dpkg, so nothing conflicts.
if [ ! -x "$EXIM" ]; then
  if ! apt-cache show exim4-daemon-light >/dev/null 2>&1; then apt-get update -qq; fi
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  # apt-get download writes to the current directory; _apt must be able to write there.
  chown _apt "$tmp" 2>/dev/null || true
  (cd "$tmp" && apt-get download -qq exim4-daemon-light)
  mkdir -p "$EXIM_DIR"
  dpkg-deb -x "$tmp"/exim4-daemon-light_*.deb "$EXIM_DIR"
fi

# The shared libraries it needs are ordinary packages (no conflict with postfix).
if ldd "$EXIM" | grep -q 'not found'; then
  libs=$(apt-cache depends exim4-daemon-light | awk '$1 == "Depends:" && $2 ~ /^lib/ { print $2 }' | sort -u)
  install_libs() { apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 "$@" >/dev/null; }
  # shellcheck disable=SC2086
  install_libs $libs || { apt-get update -qq && install_libs $libs; }
  if ldd "$EXIM" | grep 'not found' >&2; then
    echo "setup-exim: $EXIM still lacks the libraries above; install them with apt-get" >&2
    exit 1
  fi
fi

# Debian's binary has its exim_user compiled in; exim4-base would create it.
id Debian-exim >/dev/null 2>&1 ||
  useradd --system --user-group --home-dir "$EXIM_DIR/spool" --no-create-home --shell /usr/sbin/nologin Debian-exim

install -d -o Debian-exim -g Debian-exim -m 0750 "$EXIM_DIR/spool" "$EXIM_DIR/log"
# The bounce mailbox (a Maildir) that bounces+...@bounces.example.test is delivered to.
install -d -o Debian-exim -g Debian-exim -m 0755 "$EXIM_DIR/mail" "$EXIM_DIR/mail/pipe"
# The pipe command of piped+...@bounces.example.test: the message and the environment
# Exim gives a pipe (LOCAL_PART, LOCAL_PART_SUFFIX, DOMAIN, ...), one pair of files each.
cat >"$EXIM_DIR/pipe-capture" <<EOF
#!/bin/sh
f="$EXIM_DIR/mail/pipe/\$(date +%s).\$\$"
env >"\$f.env"
cat >"\$f.tmp" && mv "\$f.tmp" "\$f.eml"
EOF
chmod 0755 "$EXIM_DIR/pipe-capture"
# -C needs a file owned by root and writable by nobody else.
install -o root -g root -m 0644 exim.conf "$EXIM_DIR/exim.conf"
# Listed as trusted, Exim keeps root privilege when it re-runs itself with -C for
# a delivery or a bounce, as the packaged Exim would (else: "exim user lost privilege").
mkdir -p /etc/exim4
touch /etc/exim4/trusted_configs
grep -qxF "$EXIM_DIR/exim.conf" /etc/exim4/trusted_configs || echo "$EXIM_DIR/exim.conf" >>/etc/exim4/trusted_configs
chmod 0644 /etc/exim4/trusted_configs
# A sendmail command for programs that take only a path (sendwell's sendmail: relay).
cat >"$EXIM_DIR/sendmail" <<EOF
#!/bin/sh
exec "$EXIM" -C "$EXIM_DIR/exim.conf" "\$@"
EOF
chmod 0755 "$EXIM_DIR/sendmail"

if ! out=$("$EXIM" -C "$EXIM_DIR/exim.conf" -bV 2>&1); then
  echo "setup-exim: $EXIM does not run with $EXIM_DIR/exim.conf:" >&2
  echo "$out" >&2
  exit 1
fi
echo "setup-exim: $(echo "$out" | head -n 1)"
