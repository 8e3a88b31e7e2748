#!/usr/bin/env bash
# Installs what building and testing Eddy needs on a Debian machine, as root or with sudo.
# Idempotent and quick when everything is there: apt-get runs only for missing packages, and
# cargo-nextest is built only when absent. Rust itself (rustup, cargo) must already be
# installed; this script checks it and says so if not.
#
#   bash scripts/setup.sh
set -euo pipefail

APT_PACKAGES=(
  build-essential # C compiler and make: zstd, lz4 and (later) librdkafka build C code
  pkg-config
  libclang-dev # bindgen, for rocksdb (the state stores, later)
  clang
  cmake
  zlib1g-dev
  libssl-dev
  kcat # a real Kafka client, for trying the broker by hand once it speaks the protocol
  python3-venv # Python Kafka clients in end-to-end tests (later)
  nodejs       # a Node.js ksqlDB client in tests/ksqldb_clients.rs (npm: see the Node section)
  e2fsprogs    # chattr: broker/tests/unwritable_partition.rs makes a directory immutable
)
MIN_RUST="1.89.0" # edition 2024 needs 1.85; the broker uses File::try_lock (1.89)

say() { printf 'setup: %s\n' "$*"; }
die() {
  printf 'setup: error: %s\n' "$*" >&2
  exit 1
}
# Runs a command as root: directly when root, else through sudo.
as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "'$*' needs root: run this script as root or install sudo"
  fi
}

# --- Debian packages -------------------------------------------------------------------------
if command -v dpkg-query >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    if [[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)" != "install ok installed" ]]; then
      missing+=("$pkg")
    fi
  done
  if ((${#missing[@]} == 0)); then
    say "Debian packages: all ${#APT_PACKAGES[@]} present"
  else
    if [[ $(id -u) -eq 0 ]]; then
      SUDO=()
    elif command -v sudo >/dev/null 2>&1; then
      SUDO=(sudo)
    else
      die "missing Debian packages: ${missing[*]}; run this script as root or install sudo"
    fi
    say "installing missing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    "${SUDO[@]}" apt-get update -qq
    "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
else
  say "warning: not a Debian-like system (no apt-get/dpkg-query); install these yourself:"
  say "  ${APT_PACKAGES[*]}"
fi

# --- Rust toolchain --------------------------------------------------------------------------
if ! command -v cargo >/dev/null 2>&1 && [[ -f "$HOME/.cargo/env" ]]; then
  # shellcheck disable=SC1091
  source "$HOME/.cargo/env"
fi
if ! command -v cargo >/dev/null 2>&1 || ! command -v rustc >/dev/null 2>&1; then
  die "cargo/rustc not found: install Rust with rustup (https://rustup.rs), then open a new shell or run 'source \$HOME/.cargo/env'"
fi
rust_version="$(rustc --version | awk '{print $2}')"
if [[ "$(printf '%s\n%s\n' "$MIN_RUST" "${rust_version%%-*}" | sort -V | head -n1)" != "$MIN_RUST" ]]; then
  die "rustc $rust_version is older than $MIN_RUST; update it with 'rustup update stable'"
fi
say "Rust: $(rustc --version)"
for component in rustfmt clippy; do
  if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
    if command -v rustup >/dev/null 2>&1; then
      say "installing the $component component"
      rustup component add "$component"
    else
      die "cargo ${component/rustfmt/fmt} is missing and there is no rustup to add it"
    fi
  fi
done

# --- cargo-nextest ---------------------------------------------------------------------------
if cargo nextest --version >/dev/null 2>&1; then
  say "cargo-nextest: $(cargo nextest --version 2>/dev/null | head -n1)"
else
  say "installing cargo-nextest (cargo install --locked; a few minutes on a small machine)"
  cargo install cargo-nextest --locked
fi

# --- Python venv for the client tests (tests/kafka_python.rs) -------------------------------
# A virtualenv with confluent-kafka and kafka-python, made only if missing. EDDY_VENV overrides where it lives.
EDDY_VENV="${EDDY_VENV:-$HOME/.cache/eddy/venv}"
CONFLUENT_KAFKA_VERSION="2.16.1" # ships manylinux wheels for CPython 3.11 (x86_64, aarch64)
KAFKA_PYTHON_VERSION="3.0.12"    # pure Python: a client that shares no code with librdkafka
if ! command -v python3 >/dev/null 2>&1; then
  die "python3 not found: the Python client tests need CPython 3 with the venv module"
fi
if [[ ! -x "$EDDY_VENV/bin/python" ]]; then
  say "creating the Python venv $EDDY_VENV"
  python3 -m venv "$EDDY_VENV" || die "python3 -m venv $EDDY_VENV failed (on Debian: apt-get install python3-venv)"
fi
if "$EDDY_VENV/bin/python" -c "import sys, importlib.metadata as m, confluent_kafka; sys.exit(m.version('confluent-kafka') != '$CONFLUENT_KAFKA_VERSION')" 2>/dev/null; then
  say "Python venv: $EDDY_VENV with confluent-kafka $CONFLUENT_KAFKA_VERSION"
else
  say "installing confluent-kafka==$CONFLUENT_KAFKA_VERSION into $EDDY_VENV"
  "$EDDY_VENV/bin/python" -m pip install --quiet --disable-pip-version-check --only-binary=:all: \
    "confluent-kafka==$CONFLUENT_KAFKA_VERSION"
fi
if "$EDDY_VENV/bin/python" -c "import sys, importlib.metadata as m, kafka; sys.exit(m.version('kafka-python') != '$KAFKA_PYTHON_VERSION')" 2>/dev/null; then
  say "Python venv: $EDDY_VENV with kafka-python $KAFKA_PYTHON_VERSION"
else
  say "installing kafka-python==$KAFKA_PYTHON_VERSION into $EDDY_VENV"
  "$EDDY_VENV/bin/python" -m pip install --quiet --disable-pip-version-check --only-binary=:all: \
    "kafka-python==$KAFKA_PYTHON_VERSION"
fi

# ksql-python-ng, for tests/ksqldb_clients.rs: the maintained fork of ksql-python for ksqlDB
# 0.29 (module `ksql`). PyPI's `ksql` 0.10.2 (2020) is an sdist whose setup.py no longer
# builds with current pip/setuptools, so it is not used.
KSQL_PYTHON_NG_VERSION="0.29.0.1" # pure Python wheel: requests, six, httpx[http2]
HTTPX_VERSION="0.27.2"            # ksql-python-ng passes cert= to httpx.get/stream, gone in 0.28
if "$EDDY_VENV/bin/python" -c "import sys, importlib.metadata as m, ksql, httpx, h2; sys.exit(m.version('ksql-python-ng') != '$KSQL_PYTHON_NG_VERSION' or m.version('httpx') != '$HTTPX_VERSION')" 2>/dev/null; then
  say "Python venv: $EDDY_VENV with ksql-python-ng $KSQL_PYTHON_NG_VERSION (httpx $HTTPX_VERSION)"
else
  say "installing ksql-python-ng==$KSQL_PYTHON_NG_VERSION and httpx[http2]==$HTTPX_VERSION into $EDDY_VENV"
  "$EDDY_VENV/bin/python" -m pip install --quiet --disable-pip-version-check --only-binary=:all: \
    "ksql-python-ng==$KSQL_PYTHON_NG_VERSION" "httpx[http2]==$HTTPX_VERSION"
fi

# --- Node.js ksqlDB client for tests/ksqldb_clients.rs ---------------------------------------
# ksqldb-js in a prefix of the project's own (not global), installed only if missing or at
# another version. EDDY_NODE overrides where it lives; the test uses $EDDY_NODE/node_modules.
EDDY_NODE="${EDDY_NODE:-$HOME/.cache/eddy/node}"
KSQLDB_JS_VERSION="1.1.2" # axios for /ksql and pull(), Node's http2 (h2c) for push()
if ! command -v node >/dev/null 2>&1; then
  die "node not found: the ksqlDB JavaScript client test needs Node.js (on Debian: apt-get install nodejs)"
fi
if ! command -v npm >/dev/null 2>&1; then
  # Debian's nodejs leaves npm to a package of its own; NodeSource's nodejs bundles npm and
  # conflicts with that package, so it is installed only when there is no npm at all.
  say "installing the Debian package npm"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends npm
fi
if node -e "process.exit(require('$EDDY_NODE/node_modules/ksqldb-js/package.json').version === '$KSQLDB_JS_VERSION' ? 0 : 1)" 2>/dev/null; then
  say "Node: $(node --version) with ksqldb-js $KSQLDB_JS_VERSION in $EDDY_NODE"
else
  say "installing ksqldb-js@$KSQLDB_JS_VERSION into $EDDY_NODE"
  mkdir -p "$EDDY_NODE"
  npm install --prefix "$EDDY_NODE" --save-exact --no-audit --no-fund --loglevel=error \
    "ksqldb-js@$KSQLDB_JS_VERSION"
fi

say "done"
