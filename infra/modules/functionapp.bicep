// The Flex Consumption (FC1) plan and the Linux function app: runtime, scale and deployment in
// functionAppConfig, the user-assigned identity for everything, identity-only app settings.

param name string
param planName string
param location string
param tags object

@description('Resource id of the user-assigned identity the app runs as.')
param identityId string

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

@description('The app settings: identity-based connections and the settings the code reads.')
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
  // azd finds the app to deploy the `api` service to by this tag.
  tags: union(tags, { 'azd-service-name': 'api' })
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
        for setting in items(appSettings): {
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
