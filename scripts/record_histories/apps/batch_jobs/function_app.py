"""The real nightly report, retention and supervisor orchestrators with their real activities,
and nothing else: the recorder cannot copy the repository root (nor tests/apps/supervised_orders,
which loads a sibling app by a relative path), and these jobs need only Azurite."""

import azure.durable_functions as df
import azure.functions as func

from activities.reports import bp as report_activities
from activities.retention import bp as retention_activities
from activities.supervision import bp as supervision_activities
from orchestrators.nightly_report import bp as nightly_report
from orchestrators.retention import bp as retention_workflow
from orchestrators.supervisor import bp as supervisor_workflow

app = df.DFApp(http_auth_level=func.AuthLevel.ANONYMOUS)
app.register_functions(nightly_report)
app.register_functions(report_activities)
app.register_functions(retention_workflow)
app.register_functions(retention_activities)
app.register_functions(supervisor_workflow)
app.register_functions(supervision_activities)
