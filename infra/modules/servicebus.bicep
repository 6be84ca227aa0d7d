// The Service Bus namespace and every queue, topic and subscription the app uses, taken from
// infra/servicebus.json: the same declaration devhost's local stand-in reads.

param name string
param location string
param tags object

@description('Standard or Premium: topics and duplicate detection need at least Standard.')
@allowed([
  'Standard'
  'Premium'
])
param sku string = 'Standard'

var entities = loadJsonContent('../servicebus.json')

resource namespace 'Microsoft.ServiceBus/namespaces@2022-10-01-preview' = {
  name: name
  location: location
  tags: tags
  sku: {
    name: sku
    tier: sku
  }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
  }
}

resource queues 'Microsoft.ServiceBus/namespaces/queues@2022-10-01-preview' = [
  for queue in entities.queues: {
    parent: namespace
    name: queue.name
    properties: queue.properties
  }
]

// A module per topic: Bicep cannot nest a subscription loop inside the topic loop.
module topics 'servicebus-topic.bicep' = [
  for topic in entities.topics: {
    name: 'sbt-${topic.name}'
    params: {
      namespaceName: namespace.name
      topic: topic
    }
  }
]

output name string = namespace.name
output id string = namespace.id
output fullyQualifiedNamespace string = '${namespace.name}.servicebus.windows.net'
