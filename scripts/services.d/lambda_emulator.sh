# Lambda Runtime API emulator: cargo-lambda (`cargo lambda watch --only-lambda-apis`).
#
# Installs the pinned cargo-lambda with pip if it is missing and exports
# EVENTRAIL_CARGO_LAMBDA, the path of its binary. The emulator test
# (examples/quickstart/tests/emulator.rs) starts its own emulator on a free
# 127.0.0.1 port and stops it when done, so there is nothing to stop here.

EVENTRAIL_CARGO_LAMBDA_VERSION=1.9.2

start_lambda_emulator() {
  local have=""
  if command -v cargo-lambda >/dev/null 2>&1; then
    have=$(cargo-lambda lambda --version 2>/dev/null | awk '{print $2}')
  fi
  if [ "$have" != "$EVENTRAIL_CARGO_LAMBDA_VERSION" ]; then
    echo "lambda_emulator: installing cargo-lambda $EVENTRAIL_CARGO_LAMBDA_VERSION with pip" >&2
    # A system Python may refuse global installs; a user install then does.
    if ! timeout 600 python3 -m pip install --quiet --disable-pip-version-check \
      "cargo-lambda==$EVENTRAIL_CARGO_LAMBDA_VERSION" >&2 &&
      ! timeout 600 python3 -m pip install --quiet --disable-pip-version-check --user \
        "cargo-lambda==$EVENTRAIL_CARGO_LAMBDA_VERSION" >&2; then
      echo "error: could not install cargo-lambda $EVENTRAIL_CARGO_LAMBDA_VERSION with pip; the emulator test will fail" >&2
      return 0
    fi
    hash -r
  fi
  EVENTRAIL_CARGO_LAMBDA=$(command -v cargo-lambda || true)
  if [ -z "$EVENTRAIL_CARGO_LAMBDA" ]; then
    # pip may have put it where PATH does not look.
    local dir
    for dir in "$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')" \
      "$(python3 -m site --user-base)/bin"; do
      if [ -x "$dir/cargo-lambda" ]; then
        EVENTRAIL_CARGO_LAMBDA="$dir/cargo-lambda"
        break
      fi
    done
  fi
  if [ -z "$EVENTRAIL_CARGO_LAMBDA" ]; then
    echo "error: cargo-lambda is not on PATH after installing it; the emulator test will fail" >&2
    return 0
  fi
  export EVENTRAIL_CARGO_LAMBDA
}

stop_lambda_emulator() {
  :
}
