"""Acknowledgement 2.0.3 rules (fhir-carecommunication.md §7): medcom-acknowledgement-1/-2, the response and
the two Provenances.
"""

from __future__ import annotations

from medcom_bridge.fhir import canonical as url
from medcom_bridge.fhir._context import Context, Entry, as_dict, as_list, has_profile, text
from medcom_bridge.fhir.rules_message import CS_EVENT, coded, expect_target

PROVENANCE_PROFILES = (url.PROFILE_MESSAGING_PROVENANCE, url.PROFILE_CC_PROVENANCE)
PROFILE_ACK_HEADER = url.PROFILE_ACK_HEADER


def check_acknowledgement(ctx: Context, mh: Entry | None) -> None:
    if mh is None:
        return
    res = mh.resource
    if not has_profile(res, PROFILE_ACK_HEADER):
        # conformsTo() in the package; we read it as "declares the profile", as 5.0.2 does for CareCommunication.
        ctx.error(
            "medcom-acknowledgement-2",
            f"{mh.path}.meta.profile",
            f"the MessageHeader must conform to (declare) {PROFILE_ACK_HEADER!r}",
        )
    coding = as_dict(res.get("eventCoding"))
    if coding and (coding.get("code") != "acknowledgement-message" or coding.get("system") != CS_EVENT):
        ctx.error(
            "acknowledgement-event",
            f"{mh.path}.eventCoding",
            f"an acknowledgement has event {CS_EVENT}#acknowledgement-message; found "
            f"{coding.get('system')}#{coding.get('code')}",
        )
    if "sender" in res:
        expect_target(ctx, mh, res["sender"], f"{mh.path}.sender", ("Organization",))
    response = as_dict(res.get("response"))
    code = text(response.get("code"))
    if code is not None and code != "ok" and not any(True for _ in ctx.of_type("OperationOutcome")):
        ctx.error(
            "medcom-acknowledgement-1",
            f"{mh.path}.response.code",
            f"a {code!r} acknowledgement must include an OperationOutcome saying what went wrong",
        )
    if "details" in response:
        expect_target(ctx, mh, response["details"], f"{mh.path}.response.details", ("OperationOutcome",))
    for prov in ctx.of_type("Provenance"):
        if not any(has_profile(prov.resource, p) for p in PROVENANCE_PROFILES):
            # The package's expression names a canonical that does not exist (medcomfhir.dk/fhir/messaging/...),
            # so the intent - the messaging Provenance profile or one derived from it - is checked instead.
            ctx.error(
                "medcom-messaging-3",
                f"{prov.path}.meta.profile",
                f"every Provenance must conform to (declare) {PROVENANCE_PROFILES[0]!r}",
            )
        activity = [c for c in coded(prov.resource.get("activity"))]
        for i, agent in enumerate(as_list(prov.resource.get("agent"))):
            if "who" in as_dict(agent):
                expect_target(ctx, prov, agent["who"], f"{prov.path}.agent[{i}].who", ("Organization",))
        if "acknowledgement" in activity:
            revisions = [
                e
                for e in as_list(prov.resource.get("entity"))
                if isinstance(e, dict) and e.get("role") == "revision"
            ]
            acked = text(response.get("identifier"))
            refs = [text(as_dict(e.get("what")).get("reference")) for e in revisions]
            if acked and refs and not any(r and r.endswith(f"MessageHeader/{acked}") for r in refs):
                ctx.warning(
                    "acknowledgement-provenance",
                    f"{prov.path}.entity",
                    f"the acknowledgement Provenance should reference the acknowledged message MessageHeader/{acked}",
                )
