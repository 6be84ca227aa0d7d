// One Flex Consumption (FC1) plan and its Linux function app (Flex allows one app per plan):
// runtime, scale and deployment in functionAppConfig, the user-assigned identity for everything,
// identity-only app settings. main.bicep deploys it once per role of the codebase (APP_ROLE):
// the main app and the express app, each with its own identity, plan and settings.

param name string
param planName string
param location string
param tags object

@description('Resource id of the user-assigned identity the app runs as.')
param identityId string

@description('Client id of that identity: every identity-based connection of the app uses it.')
param identityClientId string

@description('The azd service (azure.yaml) whose code azd deploys to this app.')
param serviceName string

@description('The storage account of the host, the task hub and the app\'s data (AzureWebJobsStorage).')
param storageAccountName string

@description('The Service Bus namespace of the triggers and the app\'s sender (`<name>.servicebus.windows.net`).')
param serviceBusNamespace string

@description('Application Insights\' connection string: an ingestion endpoint, not a secret (local auth is off).')
param appInsightsConnectionString string

@description('URL of the blob container Flex deploys the package to.')
param deploymentContainerUrl string

// 512 is documented for Flex but reported refused by Resource Manager, and Durable's team warns
// against it under load (docs/infra.md, "Flex Consumption values").
@allowed([
  2048
  4096
])
param instanceMemoryMB int

@minValue(40)
@maxValue(1000)
param maximumInstanceCount int

@description('Always-ready instances of the "durable" group (Microsoft advises 1 for Durable on Flex).')
@minValue(0)
param durableAlwaysReady int

@description('The settings the code and the host read; the identity-based connections are added here.')
param appSettings object

@allowed([
  '3.11'
])
param pythonVersion string = '3.11'

// The "durable" always-ready group keeps orchestrators and entities warm (Microsoft's advice).
var durableGroup = [
  {
    name: 'durable'
    instanceCount: durableAlwaysReady
  }
]

// Identity-based connections only, each as this app's identity: no key or connection string for
// storage, Service Bus or Application Insights. Settings Flex Consumption forbids
// (FUNCTIONS_WORKER_RUNTIME, FUNCTIONS_EXTENSION_VERSION, WEBSITE_CONTENTSHARE, ...) are absent:
// the runtime is in functionAppConfig.
var connectionSettings = {
  AzureWebJobsStorage__accountName: storageAccountName
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  ServiceBusConnection__fullyQualifiedNamespace: serviceBusNamespace
  ServiceBusConnection__credential: 'managedidentity'
  ServiceBusConnection__clientId: identityClientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD;ClientId=${identityClientId}'
}
// What the site gets: the connections, then the caller's settings (tests/infra keeps them apart).
var siteSettings = union(connectionSettings, appSettings)

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225:Zone redundancy for Flex Consumption is not offered in every region; turn it on where it is (docs/infra.md)
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_222:The HTTP API and the Event Grid blob webhook are public endpoints; routes need function keys or signed tokens
  // checkov:skip=CKV_AZURE_17:Client certificates would break API callers and Event Grid delivery; callers authenticate with function keys
  // checkov:skip=CKV_AZURE_212:Flex Consumption scales instances itself; the durable always-ready group keeps one instance warm
  // checkov:skip=CKV_AZURE_213:App Service health check is not a Flex Consumption feature; GET /api/health serves external probes
  // checkov:skip=CKV_AZURE_78:Flex Consumption refuses siteConfig.ftpsState; FTP publishing credentials are off (basicPublishingCredentialsPolicies)
  name: name
  location: location
  // azd finds the app to deploy a service of azure.yaml to by this tag.
  tags: union(tags, { 'azd-service-name': serviceName })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    // Key Vault references resolve with the user-assigned identity, not a system one.
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      http20Enabled: true
      appSettings: [
        for setting in items(siteSettings): {
          name: setting.key
          value: setting.value
        }
      ]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
        alwaysReady: durableAlwaysReady > 0 ? durableGroup : []
      }
      runtime: {
        name: 'python'
        version: pythonVersion
      }
    }
  }
}

// Publishing authenticates with Entra ID (az login); basic publishing credentials stay off.
resource ftpCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'scm'
  properties: {
    allow: false
  }
}

output name string = app.name
output id string = app.id
output defaultHostName string = app.properties.defaultHostName
