#!/usr/bin/env bash
# The whole test suite, as CI runs it (.ci/run calls exactly this).
# Installs what the tests need when it is missing, then: format check, clippy, all tests.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}

step() { printf '\n== %s\n' "$*"; }

step "toolchain"
cargo --version
rustup component list --installed 2>/dev/null | grep -qE '^(rustfmt|clippy)' || rustup component add rustfmt clippy

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "tmux, curl, fetchmail, mpop, getmail6 and neomutt (the UI end-to-end tests; a real curl log for the importer; real clients logging in to the demo server with a token, and fetching through the proxy)"
missing=()
command -v tmux >/dev/null 2>&1 || missing+=(tmux)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v fetchmail >/dev/null 2>&1 || missing+=(fetchmail)
command -v mpop >/dev/null 2>&1 || missing+=(mpop)
command -v getmail >/dev/null 2>&1 || missing+=(getmail6)
command -v neomutt >/dev/null 2>&1 || missing+=(neomutt)
# tests/clients_proxy.rs runs Python's poplib with Debian's python3 (a pyenv shim may stand first).
[ -x /usr/bin/python3 ] || missing+=(python3)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "missing ${missing[*]} and installing needs root" >&2
  fi
fi
tmux -V
curl --version | head -1
fetchmail --version 2>&1 | grep release
mpop --version | head -1
getmail --version | head -1
neomutt -v | head -1
# fetchmail with OAuth (its 7.0 branch; no release has it) for the token tests, when one can be
# found or built; without it they say why and skip.
if POPSCOPE_FETCHMAIL=$(scripts/fetchmail.sh); then
  export POPSCOPE_FETCHMAIL
  "$POPSCOPE_FETCHMAIL" --version 2>&1 | grep release
else
  unset POPSCOPE_FETCHMAIL
fi

step "build"
cargo build --workspace --all-targets

step "Dovecot on loopback (installed from Debian packages when missing)"
scripts/dovecot.sh start
trap 'scripts/dovecot.sh stop' EXIT
set -a
eval "$(scripts/dovecot.sh env)"
set +a

step "cargo test"
cargo test --workspace --all-targets

step "popscope-core: docs (missing docs denied, no warnings), doc tests, the example"
RUSTDOCFLAGS="-D warnings" cargo doc -p popscope-core --no-deps
cargo test -p popscope-core --doc
cargo run -q -p popscope-core --example server_test
step "popscope's own docs (for its developers), no warnings"
RUSTDOCFLAGS="-D warnings" cargo doc -p popscope --no-deps --document-private-items

step "criterion smoke run (one pass per benchmark, no timing assertions)"
cargo bench --bench engine -- --test
cargo bench --bench render -- --test
