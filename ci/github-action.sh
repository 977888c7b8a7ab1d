#!/usr/bin/env bash
# The GitHub Action's one step (action.yml): install datachonk from its release archive with
# install.sh (checksum verified), run `datachonk $INPUT_COMMAND`, forward a cancel (SIGTERM/
# SIGINT) to it, and publish its exit code (and --json output) as step outputs.
#
# Inputs (environment): INPUT_COMMAND (required), INPUT_VERSION (tag or "latest"),
# INPUT_DBT_CLOUD_API_TOKEN (else DBT_CLOUD_API_TOKEN is used). DATACHONK_BASE_URL points the
# download at a mirror (install.sh's setting). Writes to $GITHUB_OUTPUT when it is set.
set -euo pipefail

started_ns=$(date +%s%N)
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fail() { echo "::error title=datachonk action::$*"; exit 2; }

[ -n "${INPUT_COMMAND:-}" ] || fail "the 'command' input is empty: say what to run, e.g. command: dbt-run --wait"

# Install once per job: a second step of the same job reuses the binary.
bin_dir="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/datachonk-${INPUT_VERSION:-latest}/bin"
if [ ! -x "$bin_dir/datachonk" ]; then
  # The releases of the repository the action was taken from (a fork installs its own).
  if [ -z "${DATACHONK_REPO:-}" ] && [ -n "${GITHUB_ACTION_REPOSITORY:-}" ]; then
    export DATACHONK_REPO="${GITHUB_SERVER_URL:-https://github.com}/$GITHUB_ACTION_REPOSITORY"
  fi
  DATACHONK_VERSION="${INPUT_VERSION:-latest}" DATACHONK_INSTALL_DIR="$bin_dir" \
    sh "$here/install.sh" >&2 || fail "could not install datachonk ${INPUT_VERSION:-latest} (see above)"
fi
if [ -n "${GITHUB_PATH:-}" ]; then echo "$bin_dir" >>"$GITHUB_PATH"; fi

if [ -n "${INPUT_DBT_CLOUD_API_TOKEN:-}" ]; then
  export DBT_CLOUD_API_TOKEN="$INPUT_DBT_CLOUD_API_TOKEN"
fi
unset INPUT_DBT_CLOUD_API_TOKEN

# Split the command as a shell would (quotes group words) without evaluating anything in it:
# xargs understands quotes and runs only printf.
words="$(mktemp)"
printf '%s' "$INPUT_COMMAND" | xargs printf '%s\0' >"$words" 2>/dev/null \
  || fail "cannot split the 'command' input (an unmatched quote?): $INPUT_COMMAND"
args=()
while IFS= read -r -d '' word; do args+=("$word"); done <"$words"
rm -f "$words"
if [ "${#args[@]}" -eq 0 ] || [ -z "${args[0]}" ]; then
  fail "the 'command' input has no words: say what to run, e.g. command: dbt-run --wait"
fi
json=false
for word in "${args[@]}"; do [ "$word" = --json ] && json=true; done

ready_ms=$(( ($(date +%s%N) - started_ns) / 1000000 ))
printf -v shown ' %q' "${args[@]}"
echo "datachonk action: $("$bin_dir/datachonk" --version) ready after ${ready_ms} ms; running: datachonk${shown}" >&2

out="$(mktemp)"
trap 'rm -f "$out"' EXIT
# In the background so a cancel reaches datachonk itself (it ends like Ctrl-C: the last status,
# the JSON document, the dbt Cloud run cancelled with --cancel-on-interrupt).
"$bin_dir/datachonk" "${args[@]}" >"$out" &
child=$!
trap 'kill -TERM "$child" 2>/dev/null || true' TERM
trap 'kill -INT "$child" 2>/dev/null || true' INT
code=0
wait "$child" || code=$?
# A trapped signal interrupts `wait`; wait again for datachonk's own exit.
while kill -0 "$child" 2>/dev/null; do wait "$child" || code=$?; done
cat "$out"

if [ -n "${GITHUB_OUTPUT:-}" ]; then
  echo "exit-code=$code" >>"$GITHUB_OUTPUT"
  if $json && [ -s "$out" ]; then
    delimiter="datachonk_json_$RANDOM$RANDOM"
    { echo "json<<$delimiter"; cat "$out"; echo; echo "$delimiter"; } >>"$GITHUB_OUTPUT"
  fi
fi
exit "$code"
