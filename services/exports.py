"""Export verbs: package selected versions or favorites as a downloadable zip, with the cut's
editor timelines, subtitles or a CapCut/Jianying draft when `formats` ask for them.

Each function is the executor of one verb (``@executes``); it runs inside the turn's transaction.
"""

from __future__ import annotations

import uuid

from activities.export import FormatInvalid, NamingInvalid, NothingToExport, plan_package
from schema import actions as A
from schema.domain_errors import InvalidInput
from services.execution import ActionResult, Execution, executes
from workflows.contracts import ExportWorkflowInput


@executes("export.package")
def export_package(ex: Execution, a: A.ExportPackage) -> ActionResult:
    ws = ex.ws
    selection = a.args.selection
    formats = list(a.args.formats)
    try:  # checks the naming pattern and the formats, reads what would be packaged (ledger reads only)
        plan = plan_package(ex.session, ws.id, selection, a.args.naming, formats=formats)
    except (NamingInvalid, FormatInvalid, NothingToExport) as err:
        raise InvalidInput(err.message, code=err.code) from err
    files = plan.files
    if not files and not plan.generated:
        what = (
            "no favorite has a file" if selection == "favorites" else "no shot has a selected image or clip"
        )
        raise InvalidInput(f"nothing to export: {what} yet", code="nothing_to_export")
    inp = ExportWorkflowInput(
        workspace_id=str(ws.id), selection=selection, naming=a.args.naming, formats=formats
    )
    started = ex.start("export", f"export-{ws.id}-{uuid.uuid4()}", inp)
    shots = sorted({e.manifest["shot"] for e in files if e.manifest.get("shot") is not None})
    if selection == "favorites":
        summary = f"started packaging {len(files)} favorite{'s' if len(files) != 1 else ''}"
    else:
        summary = f"started packaging {len(shots)} selected shot{'s' if len(shots) != 1 else ''}"
        if any(e.manifest.get("role") == "compose" for e in files):
            summary += " and the latest compose"
    extra = [f for f in formats if f != "media"]
    if extra and "media" in formats:
        summary += f" with {', '.join(extra)}"
    elif extra:
        summary = f"started exporting {', '.join(extra)} of the cut"
    return ex.started(
        a,
        [started],
        summary=summary,
        selection=selection,
        files=len(files),
        shots=shots,
        formats=formats,
    )
