#!/usr/bin/env bash
# Before provisioning (azd's preprovision hook; scripts/deploy.sh runs the same check itself):
# decides whether infra/main.bicep recovers this environment's soft-deleted Key Vault and
# stores the answer in the azd environment, where infra/main.bicepparam reads it. It runs
# before every provisioning, so a value an earlier run stored is always replaced: Resource
# Manager refuses 'recover' once the vault is back. docs/infra.md, "azd down, then azd up".
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

# The deployer's AZURE_PRINCIPAL_ID and AZURE_PRINCIPAL_TYPE, from the identity az is signed in
# as (user, service principal or managed identity): azd does not set the type for a .bicepparam.
bash scripts/hooks/principal.sh

mode="$(bash scripts/hooks/keyvault_create_mode.sh)"
azd env set AZURE_KEY_VAULT_CREATE_MODE "$mode"
echo "AZURE_KEY_VAULT_CREATE_MODE=$mode"
