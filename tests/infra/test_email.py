"""Notification mail in Azure: Azure Communication Services Email provisioned by
modules/email.bicep (an Email Communication Service, its Azure-managed domain, a Communication
Service linked to it with local auth off), sent with the app's identity only: the role on that
Communication Service alone, and app settings that point at those resources and hold no key."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import app_config

EMAIL = "modules/email.bicep"
ROLES = "modules/roles.bicep"
EMAIL_SERVICE = "Microsoft.Communication/emailServices"
DOMAIN = "Microsoft.Communication/emailServices/domains"
COMMUNICATION_SERVICE = "Microsoft.Communication/communicationServices"
COMMUNICATION_TYPES = (EMAIL_SERVICE, DOMAIN, COMMUNICATION_SERVICE)
# Built-in "Communication and Email Service Owner" (Learn, "Azure built-in roles for
# Integration"): the documented built-in role for sending with an Entra identity.
MAIL_SENDER_ROLE = "09976791-48a7-449e-bb21-39d1a415f350"


def _one(templates: dict[str, dict[str, Any]], h: Any, resource_type: str) -> tuple[str, Any]:
    """(symbolic name, body) of the only resource of a type; it must be in modules/email.bicep."""
    found = h.resources(templates, resource_type)
    assert len(found) == 1, f"{resource_type}: {[(f, n) for f, n, _ in found]}"
    file, name, body = found[0]
    assert file == EMAIL, f"{resource_type} belongs in {EMAIL}, not {file}"
    return name, body


def _settings(templates: dict[str, dict[str, Any]], h: Any) -> dict[str, Any]:
    """The main app's: its outbox sender mails (the express app only queues notifications)."""
    return h.app_settings(templates, "main")


def _output(templates: dict[str, dict[str, Any]], h: Any, name: str) -> tuple[str, ...]:
    """The property path an output of modules/email.bicep returns."""
    return h.accessor(templates[EMAIL]["outputs"][name]["value"])


def test_main_provisions_email_through_the_module(templates):
    module = templates["main.bicep"]["modules"]["email"]
    assert module["detail"]["path"] == EMAIL
    params = module["config"]["params"]
    assert params["dataLocation"] == "emailDataLocation"
    assert templates["main.bicep"]["parameters"]["emailDataLocation"]["default"] == "Europe"


def test_the_email_resources_are_global(templates, h):
    for resource_type in COMMUNICATION_TYPES:
        name, body = _one(templates, h, resource_type)
        assert body["location"] == "global", name
        assert body["tags"] == "tags", f"{name}: the environment's tags"


def test_both_services_keep_their_data_in_one_place(templates, h):
    """A domain links only to a Communication Service in the same data geography."""
    for resource_type in (EMAIL_SERVICE, COMMUNICATION_SERVICE):
        name, body = _one(templates, h, resource_type)
        assert body["properties"]["dataLocation"] == "dataLocation", name


def test_the_domain_is_azure_managed(templates, h):
    service, _ = _one(templates, h, EMAIL_SERVICE)
    _, domain = _one(templates, h, DOMAIN)
    assert domain["parent"] == service
    assert domain["name"] == "AzureManagedDomain"
    assert domain["properties"]["domainManagement"] == "AzureManaged"


def test_the_communication_service_links_the_domain_and_refuses_keys(templates, h):
    domain, _ = _one(templates, h, DOMAIN)
    name, service = _one(templates, h, COMMUNICATION_SERVICE)
    properties = service["properties"]
    assert [h.accessor(d) for d in properties["linkedDomains"]] == [(domain, "id")]
    assert properties["disableLocalAuth"] is True, f"{name}: local (key) auth must be off"


def test_no_key_or_connection_string_leaves_the_module(templates):
    """Outputs are a name and two host names; nothing calls listKeys (test_templates.py also
    scans every file for key functions)."""
    outputs = templates[EMAIL]["outputs"]
    assert set(outputs) == {"communicationServiceName", "hostName", "senderDomain"}
    for name, output in outputs.items():
        assert not re.search(r"key|connection|secret", json.dumps(output), re.I), name


def test_mail_settings_point_at_the_provisioned_resources(templates, h):
    settings = _settings(templates, h)
    communication, _ = _one(templates, h, COMMUNICATION_SERVICE)
    domain, _ = _one(templates, h, DOMAIN)
    assert settings["MAIL_TRANSPORT"] == "acs"
    assert settings["ACS_EMAIL_ENDPOINT"] == "https://${email.outputs.hostName}"
    assert _output(templates, h, "hostName") == (communication, "properties", "hostName")
    assert settings["MAIL_FROM"] == "DoNotReply@${email.outputs.senderDomain}"
    assert _output(templates, h, "senderDomain") == (domain, "properties", "mailFromSenderDomain")
    assert h.accessor(settings["ACS_EMAIL_CLIENT_ID"]) == ("identity", "properties", "clientId")
    assert settings["MAIL_MAX_ATTEMPTS"] == str(app_config.MailSettings.max_attempts)
    first_retry = app_config.MailSettings.first_retry_seconds
    assert float(settings["MAIL_FIRST_RETRY_SECONDS"]) == first_retry


def test_the_mail_settings_carry_no_secret(templates, h):
    """Identity only: no SMTP password, no ACS connection string or key, in any form."""
    settings = _settings(templates, h)
    mail = {k: v for k, v in settings.items() if k.startswith(("MAIL_", "ACS_", "SMTP_"))}
    assert set(mail) == {
        "MAIL_TRANSPORT",
        "MAIL_FROM",
        "MAIL_MAX_ATTEMPTS",
        "MAIL_FIRST_RETRY_SECONDS",
        "ACS_EMAIL_ENDPOINT",
        "ACS_EMAIL_CLIENT_ID",
    }
    for name, value in mail.items():
        text = json.dumps(value)
        assert not re.search(r"key|connection|secret|password", text, re.I), name
    assert not [name for name in settings if re.search(r"ACS.*(KEY|CONNECTION)", name)]


def test_the_mail_settings_pass_the_codes_validation(templates, h):
    """app_config.mail_settings accepts what Azure gets (the endpoint must be https://)."""
    declared = _settings(templates, h)
    env = {k: v if isinstance(v, str) else "placeholder" for k, v in declared.items()}
    settings = app_config.mail_settings(env=env)
    assert settings.transport == "acs"
    assert settings.acs_endpoint is not None and settings.acs_endpoint.startswith("https://")


def test_the_identity_may_send_on_the_communication_service_only(templates, h):
    """One role assignment reaches Communication Services: Communication and Email Service
    Owner for the main app's identity, scoped to the Communication Service the module creates (not
    the resource group, not the Email Communication Service)."""
    roles = templates[ROLES]
    role_ids = roles["variables"]["roleIds"]["value"]
    on_communication = []
    for file, name, body in h.resources(templates, "Microsoft.Authorization/roleAssignments"):
        target = templates[file]["resources"][h.accessor(body["scope"])[0]]
        if target["type"].lower().startswith("microsoft.communication/"):
            on_communication.append((file, name, body, target))
    [(file, name, body, target)] = on_communication
    assert file == ROLES, "deployed once, for the main app, not per app"
    assert target["type"] == COMMUNICATION_SERVICE and target["existing"], name
    assert target["config"]["name"] == "communicationServiceName"
    properties = body["properties"]
    definition = properties["roleDefinitionId"]["function"]["parameters"]["resource_name_1"]
    role_key = h.accessor(definition)
    assert role_ids[role_key[1]] == MAIL_SENDER_ROLE
    assert properties["principalId"] == "mainPrincipalId"
    assert properties["principalType"] == "ServicePrincipal"
    passed = templates["main.bicep"]["modules"]["roles"]["config"]["params"]
    assert h.accessor(passed["mainPrincipalId"]) == ("identity", "properties", "principalId")
    assert h.accessor(passed["communicationServiceName"]) == (
        "email",
        "outputs",
        "communicationServiceName",
    )
    assert _output(templates, h, "communicationServiceName") == (
        _one(templates, h, COMMUNICATION_SERVICE)[0],
        "name",
    )


def test_the_communication_types_are_in_the_shared_reference(templates, h, shared_reference):
    """The property-path check (platform/test_bicep_property_paths.py) judges these resources
    against Azure's published types: each type and API version used must be in the reference,
    or that check would fail on them by name."""
    manifest = json.loads((shared_reference / "bicep-types" / "SOURCE.json").read_text())
    listed = {Path(f).parts[-2] for f in manifest["files"] if "/microsoft.communication/" in f}
    used = {
        resource["api_version"]
        for parsed in templates.values()
        for resource in (parsed.get("resources") or {}).values()
        if resource["type"].lower().startswith("microsoft.communication/")
    }
    assert used and used <= listed, f"not in the reference: {used - listed}"
    assert (h.INFRA / EMAIL).is_file()
