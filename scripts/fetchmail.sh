#!/usr/bin/env bash
# Prints the path of a fetchmail that can log in with a bearer token (`auth oauthbearer`), for
# tests/clients_oauth.rs (scripts/test.sh exports it as POPSCOPE_FETCHMAIL); exits 1 with the
# reason when there is none.
#
# No fetchmail release has OAuth: 6.4 (Debian 12 and 13) and 6.5/6.6 (Debian sid: 6.6.9) reject
# `auth oauthbearer`. It is in the 7.0 branch ("next", 7.0.0-alpha10), which is unreleased and
# unpackaged, so this takes, in order, the first that parses `auth oauthbearer`:
#   1. $POPSCOPE_FETCHMAIL, then PATH's fetchmail
#   2. an earlier build in ${XDG_CACHE_HOME:-$HOME/.cache}/popscope/fetchmail-$VERSION/
#   3. a build of the pinned commit of "next", fetched with git from $POPSCOPE_FETCHMAIL_GIT
#      (default upstream's GitLab; a local clone or mirror works too) into that folder
# Building needs git, a C compiler, autoconf/automake/autopoint/bison/flex and libssl-dev:
# installed from Debian packages when missing and running as root. A clean build takes about
# 20 s on two cores.
set -euo pipefail

VERSION=7.0.0-alpha10
# The head of "next" that is 7.0.0-alpha10 (2022-05-26); git checks that what it fetched is
# this commit, whatever the source.
COMMIT=30b368fb8660d8fec08be1cdf2606c160b4bcb80
SOURCE=${POPSCOPE_FETCHMAIL_GIT:-https://gitlab.com/fetchmail/fetchmail.git}
CACHE=${XDG_CACHE_HOME:-$HOME/.cache}/popscope/fetchmail-$VERSION

say() { echo "fetchmail.sh: $*" >&2; }

# Whether fetchmail $1 parses `auth oauthbearer` (--configdump reads the file and connects
# nowhere).
has_oauth() {
  local rc status=0
  [ -x "$1" ] || return 1
  rc=$(mktemp)
  printf 'poll localhost protocol pop3 auth oauthbearer\n  user demo password "x"\n' > "$rc"
  chmod 600 "$rc"
  "$1" -f "$rc" --configdump >/dev/null 2>&1 || status=$?
  rm -f "$rc"
  return "$status"
}

# What the build needs beyond git (fetched first, so that a source out of reach costs nothing).
install_build_deps() {
  local missing=() tool
  for tool in cc:gcc make:make autoreconf:autoconf aclocal:automake autopoint:autopoint \
    bison:bison flex:flex msgfmt:gettext pkg-config:pkg-config; do
    command -v "${tool%%:*}" >/dev/null 2>&1 || missing+=("${tool#*:}")
  done
  [ -e /usr/include/openssl/ssl.h ] || missing+=(libssl-dev)
  [ ${#missing[@]} -gt 0 ] || return 0
  if [ "$(id -u)" != 0 ]; then
    say "building fetchmail needs ${missing[*]}, and installing them needs root"
    return 1
  fi
  say "installing ${missing[*]} from Debian packages"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The pinned commit's tree in $1, fetched alone (a shallow fetch by commit id: 1.3 MiB).
fetch_source() {
  local try
  command -v git >/dev/null 2>&1 || { say "fetching the source needs git"; return 1; }
  git init -q "$1"
  for try in 1 2 3; do
    if timeout 120 git -C "$1" fetch -q --depth 1 "$SOURCE" "$COMMIT" >&2; then
      break
    fi
    [ "$try" = 3 ] && return 1
    sleep "$try"
  done
  git -C "$1" -c advice.detachedHead=false checkout -q FETCH_HEAD || return 1
  [ "$(git -C "$1" rev-parse HEAD)" = "$COMMIT" ] || { say "$SOURCE did not give commit $COMMIT"; return 1; }
}

# Callers test its status, which turns `set -e` off inside: each step checks its own.
build() {
  local work
  work=$(mktemp -d)
  trap 'rm -rf "$work"' RETURN
  fetch_source "$work/src" || { say "cannot fetch fetchmail $VERSION ($COMMIT) from $SOURCE"; return 1; }
  install_build_deps || return 1
  say "building fetchmail $VERSION into $CACHE"
  (
    cd "$work/src"
    ./autogen.sh
    # Only what the tests use: POP3 over TLS with OpenSSL; no translations, no Kerberos.
    ./configure --prefix="$CACHE.partial" --with-ssl --disable-nls --without-kerberos5 \
      --without-gssapi --disable-ETRN --disable-ODMR
    make -j2
    make install
  ) > "$work/build.log" 2>&1 || { tail -30 "$work/build.log" >&2; say "the build failed"; return 1; }
  rm -rf "$CACHE" && mv "$CACHE.partial" "$CACHE"
}

for candidate in "${POPSCOPE_FETCHMAIL:-}" "$(command -v fetchmail || true)" "$CACHE/bin/fetchmail"; do
  if [ -n "$candidate" ] && has_oauth "$candidate"; then
    echo "$candidate"
    exit 0
  fi
done

say "no fetchmail here parses 'auth oauthbearer' (no release has it: it is in the unreleased 7.0 branch)"
rm -rf "$CACHE.partial"
if build && has_oauth "$CACHE/bin/fetchmail"; then
  echo "$CACHE/bin/fetchmail"
else
  say "no OAuth-capable fetchmail: the fetchmail token tests are skipped"
  exit 1
fi
