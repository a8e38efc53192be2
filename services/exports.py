"""Export verbs: package selected versions or favorites as a downloadable zip.

Each function is the executor of one verb (``@executes``); it runs inside the turn's transaction.
"""

from __future__ import annotations

import uuid

from activities.export import NamingInvalid, plan_package
from schema import actions as A
from schema.domain_errors import InvalidInput
from services.execution import ActionResult, Execution, executes
from workflows.contracts import ExportWorkflowInput


@executes("export.package")
def export_package(ex: Execution, a: A.ExportPackage) -> ActionResult:
    ws = ex.ws
    selection = a.args.selection
    try:  # checks the naming pattern and reads what would be packaged (ledger reads only)
        plan = plan_package(ex.session, ws.id, selection, a.args.naming)
    except NamingInvalid as err:
        raise InvalidInput(err.message, code=err.code) from err
    files = plan.files
    if not files:
        what = (
            "no favorite has a file" if selection == "favorites" else "no shot has a selected image or clip"
        )
        raise InvalidInput(f"nothing to export: {what} yet", code="nothing_to_export")
    inp = ExportWorkflowInput(workspace_id=str(ws.id), selection=selection, naming=a.args.naming)
    started = ex.start("export", f"export-{ws.id}-{uuid.uuid4()}", inp)
    shots = sorted({e.manifest["shot"] for e in files if e.manifest.get("shot") is not None})
    if selection == "favorites":
        summary = f"started packaging {len(files)} favorite{'s' if len(files) != 1 else ''}"
    else:
        summary = f"started packaging {len(shots)} selected shot{'s' if len(shots) != 1 else ''}"
        if any(e.manifest.get("role") == "compose" for e in files):
            summary += " and the latest compose"
    return ex.started(a, [started], summary=summary, selection=selection, files=len(files), shots=shots)
