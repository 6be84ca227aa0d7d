#!/usr/bin/env bash
# After provisioning (azd's postprovision hook; scripts/deploy.sh runs it too): creates the
# webhook and approval-token signing keys in Key Vault, each ONCE. An existing secret is never
# replaced, so a redeploy does not invalidate approval tokens or break webhook receivers
# (rotation is a deliberate act: docs/webhooks.md). The value goes from a private temp file to
# `az keyvault secret set --file`: never on a command line, in a template or in an output.
set -euo pipefail

: "${AZURE_KEY_VAULT_NAME:?AZURE_KEY_VAULT_NAME is not set (an output of infra/main.bicep)}"
PYTHON="${PYTHON:-python3}"
# Role assignments take a few minutes to reach Key Vault: retry until then.
RETRIES="${HOOK_RETRIES:-10}"
RETRY_SECONDS="${HOOK_RETRY_SECONDS:-30}"
SECRETS=(approval-signing-key webhook-signing-key)

tmp_dir="$(mktemp -d)"
trap 'rm -rf "$tmp_dir"' EXIT
chmod 700 "$tmp_dir"

# 0: exists; 1: does not exist; 2: cannot tell yet (e.g. the role has not propagated).
secret_state() {
  local output
  if output="$(az keyvault secret show --vault-name "$AZURE_KEY_VAULT_NAME" --name "$1" \
    --query id --output tsv 2>&1)"; then
    return 0
  fi
  case "$output" in
    *SecretNotFound*) return 1 ;;
    *) echo "  cannot read $1 yet: ${output%%$'\n'*}" >&2; return 2 ;;
  esac
}

for secret in "${SECRETS[@]}"; do
  attempt=1
  while :; do
    state=0
    secret_state "$secret" || state=$?
    if [[ $state -eq 0 ]]; then
      echo "Key Vault secret $secret exists: kept"
      break
    fi
    if [[ $state -eq 1 ]]; then
      value_file="$tmp_dir/$secret"
      (umask 077 && "$PYTHON" -c 'import secrets, sys; sys.stdout.write(secrets.token_urlsafe(48))' >"$value_file")
      if az keyvault secret set --vault-name "$AZURE_KEY_VAULT_NAME" --name "$secret" \
        --file "$value_file" --encoding utf-8 --output none; then
        echo "Key Vault secret $secret created"
        rm -f "$value_file"
        break
      fi
      rm -f "$value_file"
    fi
    if [[ $attempt -ge $RETRIES ]]; then
      echo "Giving up on $secret after $attempt attempts: does the deployer hold Key Vault Secrets Officer?" >&2
      exit 1
    fi
    attempt=$((attempt + 1))
    sleep "$RETRY_SECONDS"
  done
done
