#!/usr/bin/env bash
# Install and start a real Dovecot IMAP server for the integration suite
# (test/integration/imap.test.ts, `sendwell bounce poll`).
# It listens on 127.0.0.1 only: IMAPS on 993 and IMAP with STARTTLS on 143.
# One test user from a passwd-file; plain-text login only over TLS. The
# certificate comes from a throwaway test CA whose certificate the test passes
# as ca_file, so the client verifies it like any real server's.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

BASE=/var/lib/sendwell-ci-dovecot
IMAP_USER=bounces
IMAP_PASSWORD=sendwell-ci-imap-password

if ! command -v dovecot >/dev/null 2>&1; then
  apt-get -o DPkg::Lock::Timeout=300 update -qq
  apt-get -o DPkg::Lock::Timeout=300 install -y -qq dovecot-imapd openssl >/dev/null
fi

mkdir -p "$BASE/mail" "$BASE/tls"
id vmail >/dev/null 2>&1 || useradd --system --home-dir "$BASE/mail" --shell /usr/sbin/nologin vmail
chown vmail:vmail "$BASE/mail"

# A test CA and a server certificate for 127.0.0.1 / localhost signed by it.
if [ ! -f "$BASE/tls/server.pem" ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=sendwell CI test CA" \
    -keyout "$BASE/tls/ca.key" -out "$BASE/tls/ca.pem" 2>/dev/null
  openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" \
    -keyout "$BASE/tls/server.key" -out "$BASE/tls/server.csr" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$BASE/tls/ext.cnf"
  openssl x509 -req -in "$BASE/tls/server.csr" -CA "$BASE/tls/ca.pem" -CAkey "$BASE/tls/ca.key" -CAcreateserial \
    -days 30 -extfile "$BASE/tls/ext.cnf" -out "$BASE/tls/server.pem" 2>/dev/null
  chmod 600 "$BASE/tls/server.key" "$BASE/tls/ca.key"
fi
chmod 644 "$BASE/tls/ca.pem"

VMAIL_UID=$(id -u vmail)
VMAIL_GID=$(id -g vmail)
# passwd-file: user:{scheme}password:uid:gid::home
printf '%s:{PLAIN}%s:%s:%s::%s/%s\n' "$IMAP_USER" "$IMAP_PASSWORD" "$VMAIL_UID" "$VMAIL_GID" "$BASE/mail" "$IMAP_USER" >"$BASE/users"
chown root:dovecot "$BASE/users" 2>/dev/null || true
chmod 640 "$BASE/users"

# A complete configuration of its own (the Debian one stays untouched).
cat >"$BASE/dovecot.conf" <<EOF
protocols = imap
listen = 127.0.0.1
base_dir = /run/sendwell-ci-dovecot
instance_name = sendwell-ci-dovecot
log_path = /var/log/sendwell-ci-dovecot.log
ssl = required
ssl_cert = <$BASE/tls/server.pem
ssl_key = <$BASE/tls/server.key
disable_plaintext_auth = yes
auth_mechanisms = plain login
mail_location = maildir:~/Maildir
first_valid_uid = $VMAIL_UID
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $BASE/users
}
userdb {
  driver = passwd-file
  args = username_format=%u $BASE/users
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = 143
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = 993
    ssl = yes
  }
}
namespace inbox {
  inbox = yes
  separator = /
}
EOF

if [ -f /run/sendwell-ci-dovecot/master.pid ] && kill -0 "$(cat /run/sendwell-ci-dovecot/master.pid)" 2>/dev/null; then
  dovecot -c "$BASE/dovecot.conf" reload
else
  dovecot -c "$BASE/dovecot.conf"
fi

# Wait until port 993 answers.
for _ in $(seq 1 50); do
  if (exec 3<>/dev/tcp/127.0.0.1/993) 2>/dev/null; then exit 0; fi
  sleep 0.2
done
echo "dovecot did not start listening on 127.0.0.1:993" >&2
tail -n 50 /var/log/sendwell-ci-dovecot.log >&2 || true
exit 1
