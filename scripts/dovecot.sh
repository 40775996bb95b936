#!/usr/bin/env bash
# A real Dovecot for the tests, on loopback, with its own config and folders.
#   scripts/dovecot.sh start   install Dovecot if missing, write config, certificates and a
#                              maildir (the demo server's sample messages), start it
#   scripts/dovecot.sh stop
#   scripts/dovecot.sh env     print the variables the tests read
# Ports: POPSCOPE_DOVECOT_PLAIN (default 11110, plain + STLS) and POPSCOPE_DOVECOT_TLS (11995).
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${POPSCOPE_DOVECOT_DIR:-/tmp/popscope-dovecot}
PLAIN=${POPSCOPE_DOVECOT_PLAIN:-11110}
TLS=${POPSCOPE_DOVECOT_TLS:-11995}
CONF=$DIR/dovecot.conf

install() {
  command -v dovecot >/dev/null 2>&1 && [ -x /usr/lib/dovecot/pop3 ] && return
  [ "$(id -u)" = 0 ] || { echo "dovecot.sh: Dovecot is missing and installing it needs root" >&2; exit 1; }
  echo "installing dovecot-core dovecot-pop3d from Debian packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  # Packages must not start the system's own Dovecot.
  local made_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    made_policy=1
  fi
  apt-get install -y -qq --no-install-recommends dovecot-core dovecot-pop3d >/dev/null
  [ -z "$made_policy" ] || rm -f /usr/sbin/policy-rc.d
}

start() {
  install
  stop >/dev/null 2>&1 || true
  rm -rf "$DIR"
  mkdir -p "$DIR/run" "$DIR/state" "$DIR/home/demo" "$DIR/certs"
  local bin=${POPSCOPE_BIN:-target/debug/popscope}
  [ -x "$bin" ] || cargo build -q
  "$bin" serve --write-certs "$DIR/certs" >/dev/null
  "$bin" serve --write-maildir "$DIR/home/demo/Maildir" >/dev/null
  local login_user=nobody login_group=nogroup
  getent group nogroup >/dev/null || login_group=nobody
  echo "demo:{PLAIN}demo:65534:65534::$DIR/home/demo::" > "$DIR/passwd"
  chown -R 65534:65534 "$DIR/home"
  chmod 755 "$DIR" "$DIR/home"
  sed -e "s#@DIR@#$DIR#g" -e "s#@PLAIN_PORT@#$PLAIN#g" -e "s#@TLS_PORT@#$TLS#g" \
      -e "s#@LOGIN_USER@#$login_user#g" -e "s#@LOGIN_GROUP@#$login_group#g" \
      tests/dovecot/dovecot.conf.in > "$CONF"
  # Dovecot keeps the caller's stdout/stderr open: give it none.
  dovecot -c "$CONF" </dev/null >/dev/null 2>&1 || { cat "$DIR/dovecot.log" >&2 2>/dev/null; exit 1; }
  for _ in $(seq 1 50); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$PLAIN") 2>/dev/null; then
      echo "dovecot $(dovecot --version) on 127.0.0.1:$PLAIN (plain, STLS) and :$TLS (implicit TLS), user demo/demo, CA $DIR/certs/ca.pem" >&2
      return
    fi
    sleep 0.1
  done
  echo "dovecot did not start; its log:" >&2
  cat "$DIR/dovecot.log" >&2 || true
  exit 1
}

stop() {
  [ -f "$CONF" ] && doveadm -c "$CONF" stop </dev/null >/dev/null 2>&1 || true
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  env)
    echo "POPSCOPE_DOVECOT_PLAIN=$PLAIN"
    echo "POPSCOPE_DOVECOT_TLS=$TLS"
    echo "POPSCOPE_DOVECOT_CA=$DIR/certs/ca.pem"
    echo "POPSCOPE_DOVECOT_CERTS=$DIR/certs"
    ;;
  *) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
esac
