// One topic of infra/servicebus.json with its subscriptions, properties as declared there.

param namespaceName string

@description('An entry of servicebus.json "topics": name, properties, subscriptions.')
param topic object

resource namespace 'Microsoft.ServiceBus/namespaces@2022-10-01-preview' existing = {
  name: namespaceName
}

resource serviceBusTopic 'Microsoft.ServiceBus/namespaces/topics@2022-10-01-preview' = {
  parent: namespace
  name: topic.name
  properties: topic.properties
}

resource subscriptions 'Microsoft.ServiceBus/namespaces/topics/subscriptions@2022-10-01-preview' = [
  for subscription in (contains(topic, 'subscriptions') ? topic.subscriptions : []): {
    parent: serviceBusTopic
    name: subscription.name
    properties: subscription.properties
  }
]
