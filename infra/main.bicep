// The whole app in one resource group: two Flex Consumption function apps of one package (the
// main app, APP_ROLE=main, and the express app, APP_ROLE=express: docs/infra.md, "The express
// app"), storage, Service Bus, Key Vault, monitoring, Communication Services Email, alerts and
// least-privilege roles for each app's user-assigned identity.
// Deploy with `azd up` or scripts/deploy.sh (docs/infra.md). The Event Grid subscription of
// the blob trigger needs a key that exists only after the code is deployed: eventgrid.bicep,
// run by scripts/hooks/postdeploy.sh, subscribes on the system topic declared here.

targetScope = 'resourceGroup'

@description('Short name of this environment; part of every resource name.')
@minLength(1)
@maxLength(16)
param environmentName string

param location string = resourceGroup().location

@description('Flex Consumption instance size in MB (512 left out: docs/infra.md, "Flex Consumption values").')
@allowed([
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Upper bound of the app\'s scale-out.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Always-ready instances for the "durable" group: Microsoft advises 1 for Durable Functions on Flex Consumption.')
@minValue(0)
@maxValue(10)
param durableAlwaysReady int = 1

@description('The express app\'s always-ready instances for its "durable" group: at least 1, so express orders never wait for a cold start of the orchestrator.')
@minValue(1)
@maxValue(10)
param expressDurableAlwaysReady int = 1

@allowed([
  'Standard'
  'Premium'
])
param serviceBusSku string = 'Standard'

@description('Email address for alerts; empty leaves the action group without a receiver.')
param alertEmail string = ''

@description('Object id of whoever deploys (azd sets AZURE_PRINCIPAL_ID): gets Key Vault Secrets Officer to create the signing keys once.')
param deployerPrincipalId string = ''

@description('The deployer\'s principalType, from the sign-in (scripts/hooks/principal.sh): User, or ServicePrincipal for a service principal or a managed identity.')
@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
param deployerPrincipalType string = 'User'

@description('The version the health probe reports.')
param appVersion string = '0.1.0'

@description('Who approves large orders: comma-separated id=email pairs (ORDER_APPROVERS). Empty: orders above the threshold wait with nobody asked.')
param orderApprovers string = ''

@description('Who is asked when an approval escalates: comma-separated id=email pairs (ORDER_ESCALATION_APPROVERS).')
param orderEscalationApprovers string = ''

@description('Where the Communication Services Email resources keep their data at rest (\'Europe\', \'United States\', \'UK\', ...): fixed when they are created.')
param emailDataLocation string = 'Europe'

@description('\'recover\' when this environment\'s Key Vault is soft-deleted (after `azd down`): set before each deployment by scripts/hooks/keyvault_create_mode.sh, never by hand.')
@allowed([
  'default'
  'recover'
])
param keyVaultCreateMode string = 'default'

var token = uniqueString(subscription().id, resourceGroup().id, environmentName)
// A soft-deleted vault keeps its tags: scripts/hooks/keyvault_create_mode.sh finds it by these.
var tags = {
  'azd-env-name': environmentName
  app: 'durable-background-jobs'
}
var names = {
  identity: 'id-${environmentName}-${token}'
  storage: 'st${take(token, 11)}${take(uniqueString(token, 'st'), 11)}'
  serviceBus: 'sb-${environmentName}-${token}'
  keyVault: 'kv${take(token, 13)}'
  logAnalytics: 'log-${environmentName}-${token}'
  appInsights: 'appi-${environmentName}-${token}'
  plan: 'plan-${environmentName}-${token}'
  functionApp: 'func-${environmentName}-${token}'
  expressIdentity: 'id-${environmentName}-${token}-express'
  expressPlan: 'plan-${environmentName}-${token}-express'
  expressApp: 'func-${environmentName}-${token}-express'
  emailService: 'ecs-${environmentName}-${token}'
  communicationService: 'acs-${environmentName}-${token}'
}

// Flex Consumption deploys each app's package to its own container: the package is one blob of a
// fixed name, so two apps sharing a container would replace each other's (docs/infra.md).
var deploymentContainer = 'app-package'
var expressDeploymentContainer = 'app-package-express'

// Each app's Durable task hub (host.json: "hubName": "%TASK_HUB_NAME%"). JobsHub is the main
// app's from before the express app existed: its in-flight instances live there, so it must
// never change. The main app's API reaches express orders in the express hub by its name.
var taskHubs = {
  main: 'JobsHub'
  express: 'JobsExpress'
}

// The express app's host id (AzureFunctionsWebHost__hostid). Both apps share the storage account,
// where the host keeps per-app state under its host id; outside Flex the default id is the first
// 32 characters of the app's name, which the two names share once the main app's name is that
// long. The main app keeps its default: changing it would reset its timers' and blob triggers'
// state.
var expressHostId = 'express-${token}'

// Event Grid writes blob events it could not deliver here (infra/eventgrid.bicep, the runbook).
var deadLetterContainer = 'eventgrid-deadletters'

// Every container and table the code uses (tests/infra derives the list from the code).
var containers = [
  deploymentContainer
  expressDeploymentContainer
  'orders-private'
  'uploads'
  'thumbnails'
  'reports'
  deadLetterContainer
]
// Storage queues the app's queue triggers read (Service Bus queues are in servicebus.json).
var storageQueues = [
  'notifications'
]
var tables = [
  'orders'
  'stock'
  'paymentledger'
  'shipments'
  'notificationoutbox'
  'jobstatus'
  'rejectedmessages'
]

// Service Bus entities by use (all declared in servicebus.json); roles follow these lists. Each
// app's triggers (tests/infra indexes each role's functions): the express queue is the express
// app's alone.
var triggerQueueNames = [
  'orders'
]
var expressTriggerQueueNames = [
  'orders-express'
]
var replyQueueNames = [
  'replies'
]
var eventTopicNames = [
  'order-events'
]

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: names.identity
  location: location
  tags: tags
}

// The express app's own identity: only the roles the express order path needs.
resource expressIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: names.expressIdentity
  location: location
  tags: tags
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    logAnalyticsName: names.logAnalytics
    appInsightsName: names.appInsights
    location: location
    tags: tags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    name: names.storage
    location: location
    tags: tags
    containers: containers
    tables: tables
    queues: storageQueues
  }
}

module serviceBus 'modules/servicebus.bicep' = {
  name: 'servicebus'
  params: {
    name: names.serviceBus
    location: location
    tags: tags
    sku: serviceBusSku
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  params: {
    name: names.keyVault
    location: location
    tags: tags
    createMode: keyVaultCreateMode
  }
}

// Notifications: an Azure-managed sending domain and the Communication Service the app sends
// through with its identity (local auth off).
module email 'modules/email.bicep' = {
  name: 'email'
  params: {
    emailServiceName: names.emailService
    communicationServiceName: names.communicationService
    dataLocation: emailDataLocation
    tags: tags
  }
}

module roles 'modules/roles.bicep' = {
  name: 'roles'
  params: {
    mainPrincipalId: identity.properties.principalId
    expressPrincipalId: expressIdentity.properties.principalId
    deployerPrincipalId: deployerPrincipalId
    deployerPrincipalType: deployerPrincipalType
    storageAccountName: storage.outputs.name
    serviceBusNamespaceName: serviceBus.outputs.name
    keyVaultName: keyVault.outputs.name
    appInsightsName: monitoring.outputs.appInsightsName
    mainTriggerQueueNames: triggerQueueNames
    expressTriggerQueueNames: expressTriggerQueueNames
    senderQueueNames: replyQueueNames
    senderTopicNames: eventTopicNames
    eventGridPrincipalId: eventGridTopic.outputs.principalId
    deadLetterContainerName: deadLetterContainer
    communicationServiceName: email.outputs.communicationServiceName
  }
}

// The app settings, beyond the identity-based connections modules/functionapp.bicep adds for each
// app's own identity. Each app gets only what its functions read (tests/infra derives both sets
// from the code): orderPathSettings for the order path both roles run, then each role's own.
var orderPathSettings = {
  // The worker takes the host's trace context per invocation and the host stops forwarding its
  // logs; the worker exports its own spans, metrics and logs (adapters/telemetry.py), once.
  PYTHON_ENABLE_OPENTELEMETRY: 'true'
  // At least maxConcurrentActivityFunctions + maxConcurrentOrchestratorFunctions (host.json).
  PYTHON_THREADPOOL_THREAD_COUNT: '16'
  WEBHOOK_SIGNING_KEY: '@Microsoft.KeyVault(VaultName=${names.keyVault};SecretName=webhook-signing-key)'
  // The main app's API reaches express orders in this hub (triggers/task_hubs.py).
  EXPRESS_TASK_HUB_NAME: taskHubs.express
  ORDER_APPROVAL_THRESHOLD_CENTS: '100000'
  ORDER_APPROVAL_ESCALATION_HOURS: '24'
  ORDER_APPROVAL_TIMEOUT_HOURS: '72'
  // Approval requests go to these (docs/order-workflow.md, "Approving in a browser"); their
  // links point at https://WEBSITE_HOSTNAME, which the platform sets (PUBLIC_BASE_URL overrides).
  // The main app renders and mails them, so its host name is the one in the links.
  ORDER_APPROVERS: orderApprovers
  ORDER_ESCALATION_APPROVERS: orderEscalationApprovers
  // true: deciding also needs App Service Authentication's signed-in user to be the approver.
  APPROVAL_REQUIRE_SIGNED_IN: 'false'
  // The payment provider, chosen here because there is no default. 'simulated' is the in-tree
  // ledger (adapters/payments.py): it takes no money, declines order ids starting 'decline-',
  // fails those starting 'payflaky-' twice and 'paydown-' always. Plug in a real provider
  // before taking real orders (docs/order-workflow.md, "A real payment provider").
  PAYMENT_PROVIDER: 'simulated'
  ORDERS_TABLE: 'orders'
  STOCK_TABLE: 'stock'
  PAYMENTS_LEDGER_TABLE: 'paymentledger'
  SHIPMENTS_TABLE: 'shipments'
  NOTIFICATIONS_OUTBOX_TABLE: 'notificationoutbox'
  CLAIM_CHECK_CONTAINER: 'orders-private'
  REJECTED_MESSAGES_TABLE: 'rejectedmessages'
  JOB_STATUS_TABLE: 'jobstatus'
  JOB_EVENTS_TOPIC: 'order-events'
  REPLY_QUEUE: 'replies'
  REPLY_QUEUES: 'replies'
}

// The main app: every function but the express queue's trigger (function_app.py), in the task
// hub it has always had.
var mainSettings = {
  APP_ROLE: 'main'
  TASK_HUB_NAME: taskHubs.main
  APPROVAL_SIGNING_KEY: '@Microsoft.KeyVault(VaultName=${names.keyVault};SecretName=approval-signing-key)'
  APP_VERSION: appVersion
  HEALTH_TIMEOUT_SECONDS: '5'
  REPORTS_CONTAINER: 'reports'
  NIGHTLY_REPORT_SCHEDULE: '0 0 2 * * *'
  RETENTION_SCHEDULE: '0 30 3 * * *'
  REPORT_PAGE_SIZE: '500'
  REPORT_PAGES_PER_CHUNK: '4'
  REPORT_CHUNKS_PER_WAVE: '10'
  RETENTION_INSTANCE_DAYS: '30'
  RETENTION_REPORT_DAYS: '90'
  RETENTION_CLAIM_DAYS: '30'
  THUMBNAIL_SIZES: '128,256,512'
  THUMBNAIL_MAX_BYTES: '20971520'
  THUMBNAIL_MAX_PIXELS: '40000000'
  THUMBNAIL_MAX_SIDE: '16384'
  SUPERVISOR_EXPECTED_DURATIONS: ''
  SUPERVISOR_DEFAULT_EXPECTED: 'PT24H'
  SUPERVISOR_MAX_PENDING: 'PT30M'
  SUPERVISOR_TERMINATE_AFTER: ''
  SUPERVISOR_REWIND: ''
  // Notifications go out through Azure Communication Services Email as the identity (its role
  // is on the Communication Service): no key or connection string. The sender is on the
  // Azure-managed domain, whose limits are low: production needs a custom domain (docs/infra.md,
  // "Mail"). A notification is marked dead after MAIL_MAX_ATTEMPTS attempts.
  MAIL_TRANSPORT: 'acs'
  MAIL_FROM: 'DoNotReply@${email.outputs.senderDomain}'
  ACS_EMAIL_ENDPOINT: 'https://${email.outputs.hostName}'
  ACS_EMAIL_CLIENT_ID: identity.properties.clientId
  MAIL_MAX_ATTEMPTS: '8'
  MAIL_FIRST_RETRY_SECONDS: '30'
  // The outbox sender's timer: sends rows still pending (a lost queue message, a due retry).
  NOTIFICATIONS_RESEND_SCHEDULE: '0 */5 * * * *'
}

// The express app: only the express queue's trigger, the order orchestrator and its activities
// (function_app.py), in its own task hub and under its own host id.
var expressSettings = {
  APP_ROLE: 'express'
  TASK_HUB_NAME: taskHubs.express
  AzureFunctionsWebHost__hostid: expressHostId
  // An idle task hub's queues are polled with a back-off up to this interval (host.json: 10 s),
  // so an express order arriving after a quiet spell could wait that long before it starts and
  // again before its first activity. The express hub is quiet most of the time: 1 s bounds
  // that wait, for a few storage transactions a second (docs/infra.md, "The express app").
  AzureFunctionsJobHost__extensions__durableTask__storageProvider__maxQueuePollingInterval: '00:00:01'
}

// Both apps: one package, one storage account and one Service Bus namespace, each app on its own
// Flex Consumption plan (one app per plan) with its own identity and deployment container.
module functionApp 'modules/functionapp.bicep' = {
  name: 'functionapp'
  // The identity must hold its storage and Key Vault roles before the app starts.
  dependsOn: [
    roles
  ]
  params: {
    name: names.functionApp
    planName: names.plan
    location: location
    tags: tags
    serviceName: 'api'
    identityId: identity.id
    identityClientId: identity.properties.clientId
    storageAccountName: storage.outputs.name
    serviceBusNamespace: serviceBus.outputs.fullyQualifiedNamespace
    appInsightsConnectionString: monitoring.outputs.appInsightsConnectionString
    deploymentContainerUrl: '${storage.outputs.blobEndpoint}${deploymentContainer}'
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    durableAlwaysReady: durableAlwaysReady
    appSettings: union(orderPathSettings, mainSettings)
  }
}

module expressApp 'modules/functionapp.bicep' = {
  name: 'functionapp-express'
  dependsOn: [
    roles
  ]
  params: {
    name: names.expressApp
    planName: names.expressPlan
    location: location
    tags: tags
    serviceName: 'express'
    identityId: expressIdentity.id
    identityClientId: expressIdentity.properties.clientId
    storageAccountName: storage.outputs.name
    serviceBusNamespace: serviceBus.outputs.fullyQualifiedNamespace
    appInsightsConnectionString: monitoring.outputs.appInsightsConnectionString
    deploymentContainerUrl: '${storage.outputs.blobEndpoint}${expressDeploymentContainer}'
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    durableAlwaysReady: expressDurableAlwaysReady
    appSettings: union(orderPathSettings, expressSettings)
  }
}

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  params: {
    namePrefix: environmentName
    location: location
    tags: tags
    alertEmail: alertEmail
    serviceBusNamespaceId: serviceBus.outputs.id
    appInsightsId: monitoring.outputs.appInsightsId
    heartbeatJobNames: [
      'nightly_report'
      'retention'
      'supervisor'
    ]
  }
}

// The blob events' system topic and its identity, here rather than post-deploy so that the
// identity's role on the dead-letter container has propagated before eventgrid.bicep creates
// the subscriptions (Event Grid checks it then).
module eventGridTopic 'modules/eventgrid-topic.bicep' = {
  name: 'eventgrid-topic'
  params: {
    storageAccountName: storage.outputs.name
    location: location
    tags: tags
    namePrefix: environmentName
    actionGroupId: alerts.outputs.actionGroupId
  }
}

// Names only: no keys, connection strings or secret values (azd turns these into env vars).
output AZURE_LOCATION string = location
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_EXPRESS_FUNCTION_APP_NAME string = expressApp.outputs.name
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_SERVICE_BUS_NAMESPACE string = serviceBus.outputs.fullyQualifiedNamespace
