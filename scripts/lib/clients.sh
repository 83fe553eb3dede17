# The real-client matrix: pinned third-party OpenAI-compatible clients (Python and Node) that the
# Rust tests run as subprocesses against a live server. Sourced (after scripts/lib/setup.sh, for
# ensure_command), not run; paths are relative to the repo root, where the scripts cd first.
#
#   target/clients/venv/           python3 -m venv + testkit/clients/requirements.txt
#   target/clients/schemathesis/   python3 -m venv + testkit/clients/schemathesis/requirements.txt
#   target/clients/moto/           python3 -m venv + testkit/clients/moto/requirements.txt
#   target/clients/durable-streams/ testkit/clients/durable-streams/: the Durable Streams
#                                  conformance suite (npm ci) and the vitest config that runs it
#   target/clients/node/           testkit/clients/package.json + package-lock.json, npm ci,
#                                  and a copy of testkit/clients/node/*.mjs (ESM resolves bare
#                                  imports from the script's own folder, so they must sit beside
#                                  node_modules)
#
# Each install is skipped while its stamp file holds the sha256 of its inputs, so re-runs are instant.

CLIENTS_DIR=${CLIENTS_DIR:-target/clients}

# sha256 of the given files' contents, in order.
clients_sha256() {
  cat "$@" | sha256sum | cut -d' ' -f1
}

# A venv at $1 holding the pinned requirements file $2 (named $3 in the log), rebuilt when the
# file changes.
ensure_venv() {
  local venv=$1 requirements=$2 what=$3
  local want have=""
  want=$(clients_sha256 "$requirements")
  if [ -f "$venv/.stamp" ]; then have=$(cat "$venv/.stamp"); fi
  if [ "$have" != "$want" ] || ! "$venv/bin/python" -c '' >/dev/null 2>&1; then
    echo "==> installing $what into $venv"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --no-input --disable-pip-version-check \
      -r "$requirements" </dev/null
    echo "$want" >"$venv/.stamp"
  fi
}

ensure_clients() {
  local src=testkit/clients
  mkdir -p "$CLIENTS_DIR"

  # --- Python: target/clients/venv ---
  ensure_command python3 python3
  if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    # Debian's python3 splits venv/ensurepip into python3-venv.
    echo "==> installing python3-venv (apt-get)"
    local sudo=""
    if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-venv >/dev/null
  fi
  ensure_venv "$CLIENTS_DIR/venv" "$src/requirements.txt" "the Python client matrix"
  # schemathesis in a venv of its own: its pins need not agree with the clients'.
  ensure_venv "$CLIENTS_DIR/schemathesis" "$src/schemathesis/requirements.txt" "schemathesis"
  # moto's S3 server: the S3-compatible store attachments are tested against.
  ensure_venv "$CLIENTS_DIR/moto" "$src/moto/requirements.txt" "moto (S3)"

  # --- Node: target/clients/node ---
  ensure_command node nodejs
  ensure_command npm npm
  local nodedir=$CLIENTS_DIR/node
  local js_want js_have=""
  js_want=$(clients_sha256 "$src/package.json" "$src/package-lock.json")
  if [ -f "$nodedir/.stamp" ]; then js_have=$(cat "$nodedir/.stamp"); fi
  if [ "$js_have" != "$js_want" ] || [ ! -d "$nodedir/node_modules" ]; then
    echo "==> installing the Node client matrix into $nodedir"
    rm -f "$nodedir/.stamp"
    mkdir -p "$nodedir"
    cp "$src/package.json" "$src/package-lock.json" "$nodedir/"
    (cd "$nodedir" && npm ci --no-audit --no-fund --loglevel=error </dev/null)
    echo "$js_want" >"$nodedir/.stamp"
  fi
  # Always refreshed (cheap): the scripts must sit beside node_modules to resolve their imports.
  cp "$src"/node/*.mjs "$nodedir/"

  # --- The Durable Streams conformance suite: target/clients/durable-streams ---
  local dsdir=$CLIENTS_DIR/durable-streams ds_want ds_have=""
  ds_want=$(clients_sha256 "$src/durable-streams/package.json" "$src/durable-streams/package-lock.json")
  if [ -f "$dsdir/.stamp" ]; then ds_have=$(cat "$dsdir/.stamp"); fi
  if [ "$ds_have" != "$ds_want" ] || [ ! -d "$dsdir/node_modules" ]; then
    echo "==> installing the Durable Streams conformance suite into $dsdir"
    rm -f "$dsdir/.stamp"
    mkdir -p "$dsdir"
    cp "$src/durable-streams/package.json" "$src/durable-streams/package-lock.json" "$dsdir/"
    (cd "$dsdir" && npm ci --no-audit --no-fund --loglevel=error </dev/null)
    echo "$ds_want" >"$dsdir/.stamp"
  fi
  cp "$src/durable-streams/vitest.config.mjs" "$dsdir/"
}
