// The roles one app's identity holds, each on the narrowest scope its code or bindings allow.
// modules/roles.bicep deploys it once per app (main, express) and passes the built-in role ids;
// docs/infra.md lists every assignment and tests/infra checks both agree.

@description('Built-in role definition ids by role (modules/roles.bicep\'s roleIds).')
param roleIds object

@description('Principal (object) id of the app\'s user-assigned identity.')
param principalId string

param storageAccountName string
param serviceBusNamespaceName string
param keyVaultName string
param appInsightsName string

@description('Queues the app\'s Service Bus triggers listen on.')
param triggerQueueNames array

@description('Queues the app sends to (replies).')
param senderQueueNames array

@description('Topics the app publishes to (job events).')
param senderTopicNames array

resource storage 'Microsoft.Storage/storageAccounts@2024-01-01' existing = {
  name: storageAccountName
}

resource namespace 'Microsoft.ServiceBus/namespaces@2022-10-01-preview' existing = {
  name: serviceBusNamespaceName
}

resource triggerQueues 'Microsoft.ServiceBus/namespaces/queues@2022-10-01-preview' existing = [
  for queueName in triggerQueueNames: {
    parent: namespace
    name: queueName
  }
]

resource senderQueues 'Microsoft.ServiceBus/namespaces/queues@2022-10-01-preview' existing = [
  for queueName in senderQueueNames: {
    parent: namespace
    name: queueName
  }
]

resource senderTopics 'Microsoft.ServiceBus/namespaces/topics@2022-10-01-preview' existing = [
  for topicName in senderTopicNames: {
    parent: namespace
    name: topicName
  }
]

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

// Host storage (AzureWebJobsStorage), the app's Flex deployment container, blob triggers, the
// task hub's leases and the app's containers: the Functions docs ask for Blob Data Owner on host
// storage. Account scope: the host and the task hub create their containers at run time.
resource blobDataOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, roleIds.storageBlobDataOwner)
  scope: storage
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageBlobDataOwner)
  }
}

// The task hub's control and work-item queues (created by the extension at run time) and the
// `notifications` outbox queue.
resource queueDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, roleIds.storageQueueDataContributor)
  scope: storage
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageQueueDataContributor)
  }
}

// Durable Functions' history and instance tables, and the app's own tables.
resource tableDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, roleIds.storageTableDataContributor)
  scope: storage
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.storageTableDataContributor)
  }
}

// The app's Service Bus triggers receive; their scale controller reads each queue's runtime
// properties (message counts), which needs Manage rights: Data Owner, on those queues only.
// With Data Receiver alone the extension falls back to peeking and scales less accurately.
resource triggerQueueOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (queueName, i) in triggerQueueNames: {
    name: guid(triggerQueues[i].id, principalId, roleIds.serviceBusDataOwner)
    scope: triggerQueues[i]
    properties: {
      principalId: principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.serviceBusDataOwner)
    }
  }
]

// adapters/messaging.py sends replies to these queues only.
resource replyQueueSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (queueName, i) in senderQueueNames: {
    name: guid(senderQueues[i].id, principalId, roleIds.serviceBusDataSender)
    scope: senderQueues[i]
    properties: {
      principalId: principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.serviceBusDataSender)
    }
  }
]

// adapters/messaging.py publishes job events to these topics only.
resource eventTopicSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (topicName, i) in senderTopicNames: {
    name: guid(senderTopics[i].id, principalId, roleIds.serviceBusDataSender)
    scope: senderTopics[i]
    properties: {
      principalId: principalId
      principalType: 'ServicePrincipal'
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.serviceBusDataSender)
    }
  }
]

// The app's Key Vault references resolve with this identity (main: APPROVAL_SIGNING_KEY and
// WEBHOOK_SIGNING_KEY; express: WEBHOOK_SIGNING_KEY, which deliver_webhook signs with).
resource secretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, principalId, roleIds.keyVaultSecretsUser)
  scope: vault
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.keyVaultSecretsUser)
  }
}

// Telemetry with Entra auth (APPLICATIONINSIGHTS_AUTHENTICATION_STRING).
resource metricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, principalId, roleIds.monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    principalId: principalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleIds.monitoringMetricsPublisher)
  }
}
