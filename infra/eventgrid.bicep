// Post-deploy: the Event Grid system topic on the app's storage account and one subscription
// per Event Grid blob trigger, delivering BlobCreated events to the blob extension's webhook.
// The webhook needs the extension's system key, which exists only once the code runs, so
// scripts/hooks/postdeploy.sh deploys this after publishing and passes the key as @secure.

param location string = resourceGroup().location
param storageAccountName string
param functionAppName string

@secure()
@description('The blobs_extension system key of the function app.')
param blobExtensionKey string

@description('The app\'s Event Grid blob triggers: [{ functionName, container }].')
param blobTriggers array

resource storage 'Microsoft.Storage/storageAccounts@2024-01-01' existing = {
  name: storageAccountName
}

resource app 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

resource systemTopic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: 'evgt-${storageAccountName}'
  location: location
  properties: {
    source: storage.id
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

resource blobSubscriptions 'Microsoft.EventGrid/systemTopics/eventSubscriptions@2022-06-15' = [
  for trigger in blobTriggers: {
    parent: systemTopic
    name: take('blob-${replace(trigger.functionName, '_', '-')}', 64)
    properties: {
      destination: {
        endpointType: 'WebHook'
        properties: {
          endpointUrl: 'https://${app.properties.defaultHostName}/runtime/webhooks/blobs?functionName=Host.Functions.${trigger.functionName}&code=${blobExtensionKey}'
          maxEventsPerBatch: 1
          preferredBatchSizeInKilobytes: 64
        }
      }
      filter: {
        includedEventTypes: [
          'Microsoft.Storage.BlobCreated'
        ]
        subjectBeginsWith: '/blobServices/default/containers/${trigger.container}/'
      }
      eventDeliverySchema: 'EventGridSchema'
      retryPolicy: {
        maxDeliveryAttempts: 30
        eventTimeToLiveInMinutes: 1440
      }
    }
  }
]
