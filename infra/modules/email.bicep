// Notifications leave through Azure Communication Services Email: an Email Communication
// Service with an Azure-managed domain (DoNotReply@<guid>.azurecomm.net, no DNS to set up) and
// the Communication Service the app sends through, linked to that domain. Local (key) auth is
// off: the app sends with its managed identity only (modules/roles.bicep), and no key or
// connection string leaves this module. The managed domain's sending limits are low and cannot
// be raised: production needs a verified custom domain (docs/infra.md, "Mail").

@description('Name of the Email Communication Service (holds the sending domain).')
param emailServiceName string

@description('Name of the Communication Service the app sends through (globally unique: its host name is <name>.<geography>.communication.azure.com).')
param communicationServiceName string

@description('Where both services keep their data at rest (\'Europe\', \'United States\', \'UK\', ...). One value for both: a domain links only to a Communication Service in the same geography. Fixed at creation.')
param dataLocation string

param tags object

resource emailService 'Microsoft.Communication/emailServices@2025-09-01' = {
  name: emailServiceName
  location: 'global'
  tags: tags
  properties: {
    dataLocation: dataLocation
  }
}

// Azure provisions the domain and its SPF and DKIM records; the name is fixed for this kind.
resource managedDomain 'Microsoft.Communication/emailServices/domains@2025-09-01' = {
  parent: emailService
  name: 'AzureManagedDomain'
  location: 'global'
  tags: tags
  properties: {
    domainManagement: 'AzureManaged'
  }
}

resource communicationService 'Microsoft.Communication/communicationServices@2025-09-01' = {
  name: communicationServiceName
  location: 'global'
  tags: tags
  properties: {
    dataLocation: dataLocation
    linkedDomains: [
      managedDomain.id
    ]
    // Entra ID only: an access key or connection string is refused even if one leaked.
    disableLocalAuth: true
  }
}

// Names and host names only: nothing here authenticates anyone.
output communicationServiceName string = communicationService.name
output hostName string = communicationService.properties.hostName
output senderDomain string = managedDomain.properties.mailFromSenderDomain
