#!/usr/bin/env bash
# Install and start a real Postfix for the integration suite.
# It listens on 127.0.0.1 only and can deliver only to local mailboxes:
# every other destination is refused by the "error" transport, so nothing
# ever leaves the machine.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive

if ! command -v postfix >/dev/null 2>&1; then
  echo "postfix postfix/main_mailer_type select Local only" | debconf-set-selections
  echo "postfix postfix/mailname string sendwell-ci.example.test" | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq postfix openssl >/dev/null
fi

# A self-signed certificate, like the stock one of a fresh MTA: opportunistic
# STARTTLS must work with it, verified TLS must refuse it.
if [ ! -f /etc/postfix/sendwell-ci.pem ]; then
  openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=sendwell-ci.example.test" \
    -keyout /etc/postfix/sendwell-ci.key -out /etc/postfix/sendwell-ci.pem 2>/dev/null
  chmod 600 /etc/postfix/sendwell-ci.key
fi

id sink >/dev/null 2>&1 || useradd --create-home --shell /usr/sbin/nologin sink
# The bounce mailbox of the round-trip test: bounces+<verp>@example.test lands here.
id bounces >/dev/null 2>&1 || useradd --create-home --shell /usr/sbin/nologin bounces

postconf -e \
  'inet_interfaces = loopback-only' \
  'inet_protocols = ipv4' \
  'myhostname = sendwell-ci.example.test' \
  'mydestination = localhost, sendwell-ci.example.test, example.test' \
  'mynetworks = 127.0.0.0/8' \
  'relayhost =' \
  'default_transport = error:outside delivery is disabled on this CI host' \
  'relay_transport = error:outside delivery is disabled on this CI host' \
  'smtpd_tls_cert_file = /etc/postfix/sendwell-ci.pem' \
  'smtpd_tls_key_file = /etc/postfix/sendwell-ci.key' \
  'smtpd_tls_security_level = may' \
  'smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination' \
  'local_recipient_maps = proxy:unix:passwd.byname $alias_maps' \
  'maillog_file = /var/log/postfix.log' \
  'recipient_delimiter = +' \
  'message_size_limit = 10240000'
newaliases

if postfix status >/dev/null 2>&1; then
  postfix reload
else
  postfix start
fi
# Wait until port 25 answers.
for _ in $(seq 1 50); do
  if (exec 3<>/dev/tcp/127.0.0.1/25) 2>/dev/null; then exit 0; fi
  sleep 0.2
done
echo "postfix did not start listening on 127.0.0.1:25" >&2
tail -n 50 /var/log/postfix.log >&2 || true
exit 1
