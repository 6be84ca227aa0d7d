// Parameters for main.bicep, read from the environment so azd (which sets AZURE_ENV_NAME and
// AZURE_PRINCIPAL_ID) and scripts/deploy.sh (which exports the same names) share one file.
using 'main.bicep'

param environmentName = readEnvironmentVariable('AZURE_ENV_NAME', 'jobs')
param alertEmail = readEnvironmentVariable('ALERT_EMAIL', '')
param deployerPrincipalId = readEnvironmentVariable('AZURE_PRINCIPAL_ID', '')
param deployerPrincipalType = readEnvironmentVariable('AZURE_PRINCIPAL_TYPE', 'User')
param appVersion = readEnvironmentVariable('APP_VERSION', '0.1.0')
param durableAlwaysReady = 1
param maximumInstanceCount = 100
param instanceMemoryMB = 2048
