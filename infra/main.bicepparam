// Parameters for main.bicep, read from the environment so azd (which sets AZURE_ENV_NAME and
// AZURE_PRINCIPAL_ID) and scripts/deploy.sh (which exports the same names) share one file.
using 'main.bicep'

param environmentName = readEnvironmentVariable('AZURE_ENV_NAME', 'jobs')
param alertEmail = readEnvironmentVariable('ALERT_EMAIL', '')
// The identity az is signed in as, set before every provisioning by scripts/hooks/principal.sh
// (azd's preprovision hook, scripts/deploy.sh): azd sets no AZURE_PRINCIPAL_TYPE for a
// .bicepparam. 'User' only lets a bare what-if compile; docs/infra.md, "Who deploys".
param deployerPrincipalId = readEnvironmentVariable('AZURE_PRINCIPAL_ID', '')
param deployerPrincipalType = readEnvironmentVariable('AZURE_PRINCIPAL_TYPE', 'User')
param appVersion = readEnvironmentVariable('APP_VERSION', '0.1.0')
param orderApprovers = readEnvironmentVariable('ORDER_APPROVERS', '')
param orderEscalationApprovers = readEnvironmentVariable('ORDER_ESCALATION_APPROVERS', '')
// Where the Communication Services Email resources keep their data; fixed once they exist.
param emailDataLocation = readEnvironmentVariable('EMAIL_DATA_LOCATION', 'Europe')
// Set before every provisioning (azd's preprovision hook, scripts/deploy.sh): docs/infra.md.
param keyVaultCreateMode = readEnvironmentVariable('AZURE_KEY_VAULT_CREATE_MODE', 'default')
param durableAlwaysReady = 1
// The express app's: at least 1 (docs/infra.md, "The express app").
param expressDurableAlwaysReady = 1
param maximumInstanceCount = 100
param instanceMemoryMB = 2048
