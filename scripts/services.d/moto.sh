# moto's server: the AWS API emulator eventrail-aws's integration tests run
# against (SNS, SQS, S3, SES v2, Step Functions, DynamoDB on their real wire
# protocols). Sourced by scripts/services.
#
# start_moto installs the pinned moto[server] if this Python lacks it (into a
# virtualenv under ~/.cache, never over another moto), starts it on a free
# port of 127.0.0.1 and exports
#   EVENTRAIL_MOTO_ENDPOINT=http://127.0.0.1:PORT
# which the tests read. stop_moto ends that server.

EVENTRAIL_MOTO_VERSION=5.2.1

# Prints a python3 that has moto[server] $EVENTRAIL_MOTO_VERSION, installing
# it into a virtualenv first if needed.
_moto_python() {
  local want=$EVENTRAIL_MOTO_VERSION
  local check="import importlib.metadata as m, flask, sys; sys.exit(m.version('moto') != '$want')"
  if python3 -c "$check" 2>/dev/null; then
    command -v python3
    return 0
  fi
  local venv="${XDG_CACHE_HOME:-$HOME/.cache}/eventrail/moto-$want"
  if ! "$venv/bin/python" -c "$check" 2>/dev/null; then
    echo "moto: installing moto[server]==$want into $venv" >&2
    python3 -m venv "$venv" >&2 &&
      timeout 600 "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        "moto[server]==$want" >&2 ||
      { echo "error: could not install moto[server]==$want (needs python3 with venv and pip)" >&2; return 1; }
  fi
  echo "$venv/bin/python"
}

start_moto() {
  local py port log
  py=$(_moto_python) || return 1
  port=$(free_port)
  log="${TMPDIR:-/tmp}/eventrail-moto-$port.log"
  "$py" -m moto.server -H 127.0.0.1 -p "$port" >"$log" 2>&1 &
  EVENTRAIL_MOTO_PID=$!
  if ! wait_for_port "$port" 60 || ! kill -0 "$EVENTRAIL_MOTO_PID" 2>/dev/null; then
    echo "error: moto's server did not start on 127.0.0.1:$port; the end of its log ($log):" >&2
    tail -n 20 "$log" >&2
    stop_moto
    return 1
  fi
  export EVENTRAIL_MOTO_ENDPOINT="http://127.0.0.1:$port"
  echo "moto: $EVENTRAIL_MOTO_ENDPOINT (pid $EVENTRAIL_MOTO_PID, log $log)" >&2
}

stop_moto() {
  if [ -n "${EVENTRAIL_MOTO_PID:-}" ]; then
    kill "$EVENTRAIL_MOTO_PID" 2>/dev/null || true
    wait "$EVENTRAIL_MOTO_PID" 2>/dev/null || true
    unset EVENTRAIL_MOTO_PID
  fi
}
