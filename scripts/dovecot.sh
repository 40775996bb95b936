#!/usr/bin/env bash
# A real Dovecot for the tests, on loopback, with its own config and folders.
#   scripts/dovecot.sh start   install Dovecot (and python3) if missing, write config,
#                              certificates, maildirs (the demo server's sample messages) and
#                              bearer tokens, start the token introspection endpoint, then Dovecot
#   scripts/dovecot.sh stop    stop both
#   scripts/dovecot.sh env     print the variables the tests read
# Ports: POPSCOPE_DOVECOT_PLAIN (default 11110, plain + STLS), POPSCOPE_DOVECOT_TLS (11995) and
# POPSCOPE_DOVECOT_INTROSPECT (0: a free port, chosen at start and written to $DIR/oauth/port).
# Users: demo/demo (passwords) and testuser (bearer tokens only: XOAUTH2, OAUTHBEARER).
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=${POPSCOPE_DOVECOT_DIR:-/tmp/popscope-dovecot}
PLAIN=${POPSCOPE_DOVECOT_PLAIN:-11110}
TLS=${POPSCOPE_DOVECOT_TLS:-11995}
INTROSPECT=${POPSCOPE_DOVECOT_INTROSPECT:-0}
CONF=$DIR/dovecot.conf
OAUTH=$DIR/oauth
# The user the introspection endpoint vouches for: tokens log in as this user only.
OAUTH_USER=testuser

# Debian's python3 when it works (a pyenv shim may stand first in PATH), else PATH's.
python() {
  local p
  for p in /usr/bin/python3 python3; do
    if command -v "$p" >/dev/null 2>&1 && "$p" -c 'import http.server, json, urllib.parse' 2>/dev/null; then
      echo "$p"
      return
    fi
  done
  return 1
}

install() {
  local missing=()
  command -v dovecot >/dev/null 2>&1 && [ -x /usr/lib/dovecot/pop3 ] || missing+=(dovecot-core dovecot-pop3d)
  # The introspection endpoint needs http.server, which python3-minimal lacks.
  python >/dev/null || missing+=(python3)
  [ ${#missing[@]} -gt 0 ] || return 0
  [ "$(id -u)" = 0 ] || { echo "dovecot.sh: ${missing[*]} missing and installing needs root" >&2; exit 1; }
  echo "installing ${missing[*]} from Debian packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  # Packages must not start the system's own Dovecot.
  local made_policy=
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    made_policy=1
  fi
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  [ -z "$made_policy" ] || rm -f /usr/sbin/policy-rc.d
}

# base64url without padding (RFC 7515 §2), as a JWT's parts are.
b64url() { base64 -w0 | tr '+/' '-_' | tr -d '='; }

# Random base64url text of about N characters.
random_text() { head -c "$(($1 * 3 / 4))" /dev/urandom | b64url; }

# The bearer tokens, one file each; $OAUTH/good lists the ones the endpoint calls active.
# The long one is over 1,200 octets like Microsoft's, so `--sasl-form auto` must send it on its
# own line. The JWT expired 5 minutes before the start and the endpoint calls it inactive: what
# popscope reads from it ("expired 5 min ago") is tested against a real refusal.
make_tokens() {
  mkdir -p "$OAUTH"
  echo "goodtoken-$(random_text 40)" > "$OAUTH/token"
  echo "goodtoken-long-$(random_text 1300)" > "$OAUTH/long-token"
  local now header claims
  now=$(date +%s)
  header=$(printf '{"alg":"RS256","typ":"JWT","kid":"popscope-test"}' | b64url)
  claims=$(printf '{"iss":"https://issuer.popscope.test/","sub":"%s","aud":"pop3://127.0.0.1","scp":"POP.AccessAsUser.All","iat":%d,"nbf":%d,"exp":%d}' \
    "$OAUTH_USER" $((now - 3900)) $((now - 3900)) $((now - 300)) | b64url)
  echo "$header.$claims.$(random_text 40)" > "$OAUTH/expired-jwt"
  cat "$OAUTH/token" "$OAUTH/long-token" > "$OAUTH/good"
  chmod 600 "$OAUTH"/*
}

# The introspection endpoint, in the background, with its port in $OAUTH/port once it listens.
start_introspect() {
  local py
  py=$(python) || { echo "dovecot.sh: no python3 with http.server" >&2; exit 1; }
  # Like Dovecot it must not hold the caller's stdout/stderr open.
  "$py" tests/dovecot/introspect.py "$OAUTH/good" "$OAUTH_USER" "$OAUTH/port" "$INTROSPECT" \
    </dev/null >>"$DIR/introspect.log" 2>&1 &
  echo $! > "$OAUTH/introspect.pid"
  for _ in $(seq 1 50); do
    [ -s "$OAUTH/port" ] && return
    kill -0 "$(cat "$OAUTH/introspect.pid")" 2>/dev/null || break
    sleep 0.1
  done
  echo "the introspection endpoint did not start; its log:" >&2
  cat "$DIR/introspect.log" >&2 || true
  stop_introspect
  exit 1
}

start() {
  install
  stop >/dev/null 2>&1 || true
  rm -rf "$DIR"
  mkdir -p "$DIR/run" "$DIR/state" "$DIR/home/demo" "$DIR/home/$OAUTH_USER" "$DIR/certs"
  local bin=${POPSCOPE_BIN:-target/debug/popscope}
  [ -x "$bin" ] || cargo build -q
  "$bin" serve --write-certs "$DIR/certs" >/dev/null
  "$bin" serve --write-maildir "$DIR/home/demo/Maildir" >/dev/null
  "$bin" serve --write-maildir "$DIR/home/$OAUTH_USER/Maildir" >/dev/null
  make_tokens
  start_introspect
  # Whatever fails from here on leaves no endpoint behind.
  trap stop_introspect EXIT
  local login_user=nobody login_group=nogroup
  getent group nogroup >/dev/null || login_group=nobody
  # testuser's password is random and never told: it logs in with a token or not at all.
  {
    echo "demo:{PLAIN}demo:65534:65534::$DIR/home/demo::"
    echo "$OAUTH_USER:{PLAIN}$(random_text 24):65534:65534::$DIR/home/$OAUTH_USER::"
  } > "$DIR/passwd"
  chown -R 65534:65534 "$DIR/home"
  chmod 755 "$DIR" "$DIR/home"
  sed -e "s#@DIR@#$DIR#g" -e "s#@PLAIN_PORT@#$PLAIN#g" -e "s#@TLS_PORT@#$TLS#g" \
      -e "s#@LOGIN_USER@#$login_user#g" -e "s#@LOGIN_GROUP@#$login_group#g" \
      tests/dovecot/dovecot.conf.in > "$CONF"
  sed -e "s#@INTROSPECT_PORT@#$(cat "$OAUTH/port")#g" \
      tests/dovecot/oauth2.conf.ext.in > "$DIR/oauth2.conf.ext"
  # Dovecot keeps the caller's stdout/stderr open: give it none.
  dovecot -c "$CONF" </dev/null >/dev/null 2>&1 || { cat "$DIR/dovecot.log" >&2 2>/dev/null; exit 1; }
  for _ in $(seq 1 50); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$PLAIN") 2>/dev/null; then
      echo "dovecot $(dovecot --version) on 127.0.0.1:$PLAIN (plain, STLS) and :$TLS (implicit TLS), user demo/demo, CA $DIR/certs/ca.pem; bearer tokens for $OAUTH_USER checked by 127.0.0.1:$(cat "$OAUTH/port")/introspect" >&2
      trap - EXIT
      return
    fi
    sleep 0.1
  done
  echo "dovecot did not start; its log:" >&2
  cat "$DIR/dovecot.log" >&2 || true
  exit 1
}

# Ends the introspection endpoint this script started: the pid in its file, and only if that
# process is still introspect.py (the pid may have been reused since).
stop_introspect() {
  local pid
  pid=$(cat "$OAUTH/introspect.pid" 2>/dev/null) || return 0
  if tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q 'tests/dovecot/introspect.py'; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 20); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
  fi
  rm -f "$OAUTH/introspect.pid"
}

stop() {
  [ -f "$CONF" ] && doveadm -c "$CONF" stop </dev/null >/dev/null 2>&1 || true
  stop_introspect
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  env)
    echo "POPSCOPE_DOVECOT_PLAIN=$PLAIN"
    echo "POPSCOPE_DOVECOT_TLS=$TLS"
    echo "POPSCOPE_DOVECOT_CA=$DIR/certs/ca.pem"
    echo "POPSCOPE_DOVECOT_CERTS=$DIR/certs"
    if [ -s "$OAUTH/port" ]; then
      echo "POPSCOPE_DOVECOT_INTROSPECT=$(cat "$OAUTH/port")"
      echo "POPSCOPE_OAUTH_USER=$OAUTH_USER"
      echo "POPSCOPE_OAUTH_TOKEN=$(cat "$OAUTH/token")"
      echo "POPSCOPE_OAUTH_LONG_TOKEN=$(cat "$OAUTH/long-token")"
      echo "POPSCOPE_OAUTH_EXPIRED_JWT=$(cat "$OAUTH/expired-jwt")"
    fi
    ;;
  *) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
esac
