# cfn-lint: the CloudFormation/SAM linter examples/orders/tests/template.rs
# runs on examples/orders/template.yaml. Not a server: "starting" it installs
# the pinned cfn-lint with pip if this machine lacks it (into a virtualenv
# under ~/.cache, never over another install) and exports
#   EVENTRAIL_CFN_LINT=/path/to/cfn-lint
# which the test reads. Sourced by scripts/services.

EVENTRAIL_CFN_LINT_VERSION=1.51.0

start_cfn_lint() {
  local want=$EVENTRAIL_CFN_LINT_VERSION have=""
  if command -v cfn-lint >/dev/null 2>&1; then
    have=$(cfn-lint --version 2>/dev/null | awk '{print $2}')
  fi
  if [ "$have" = "$want" ]; then
    EVENTRAIL_CFN_LINT=$(command -v cfn-lint)
  else
    local venv="${XDG_CACHE_HOME:-$HOME/.cache}/eventrail/cfn-lint-$want"
    if [ "$("$venv/bin/cfn-lint" --version 2>/dev/null | awk '{print $2}')" != "$want" ]; then
      echo "cfn-lint: installing cfn-lint==$want into $venv" >&2
      python3 -m venv "$venv" >&2 &&
        timeout 600 "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
          "cfn-lint==$want" >&2 ||
        { echo "error: could not install cfn-lint==$want (needs python3 with venv and pip); the template test will fail" >&2; return 0; }
    fi
    EVENTRAIL_CFN_LINT="$venv/bin/cfn-lint"
  fi
  export EVENTRAIL_CFN_LINT
  echo "cfn-lint: $EVENTRAIL_CFN_LINT" >&2
}

stop_cfn_lint() {
  :
}
