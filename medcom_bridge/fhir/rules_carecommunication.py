"""CareCommunication rules (fhir-carecommunication.md §1-§5, §10): the invariants medcom-careCommunication-1..15
as MedCom words them for 5.0 and 4.0, the payload segments, Provenance threading and the Danish identifiers.
"""

from __future__ import annotations

import re

from medcom_bridge import identifiers
from medcom_bridge.fhir import canonical
from medcom_bridge.fhir import rules_identifiers as ids
from medcom_bridge.fhir._codes import VALUE_SETS
from medcom_bridge.fhir._context import (
    Context,
    Entry,
    JsonObject,
    as_dict,
    as_list,
    codings,
    extensions,
    has_profile,
    text,
)
from medcom_bridge.fhir.rules_message import coded, expect_target

PROFILE_HEADER = canonical.PROFILE_CC_HEADER
PROFILE_PROVENANCE = canonical.PROFILE_CC_PROVENANCE
EXT_SENDER = canonical.EXT_SENDER
EXT_DATE = canonical.EXT_DATE
EXT_AUTHOR = canonical.EXT_AUTHOR
EXT_CONTACT = canonical.EXT_CONTACT
EXT_IDENTIFIER = canonical.EXT_IDENTIFIER

DEFINITION_V4 = canonical.CC_DEFINITION_4_0
DEFINITION_V5_EXAMPLE = canonical.CC_DEFINITION_5_0
# The intended rule (fixed in 5.0.3): the 5.0.2 package leaves '|' unescaped, which matches almost anything.
DEFINITION_V5 = re.compile(re.escape(canonical.CC_DEFINITION_5_0.rsplit("|", 1)[0]) + r"\|5\.[0-9]{1,2}")
ROLES_VALUE_SET = canonical.VS_ROLES
CONTACT = re.compile(r"[+]?[-0-9]")
CONTACT_INTENDED = identifiers.PHONE
MIME_VALUE_SET = canonical.VS_MIME_TYPES
# A reference to an OIOXML/EDIFACT predecessor: EAN location number and letter id, in either order (§10).
OIOXML_PREDECESSOR = re.compile(r"[0-9]{13}#[^#\s]+|[^#\s]+#[0-9]{13}")


def version_of_definition(definition: object) -> str | None:
    """'5.<minor>' or '4.0' from MessageHeader.definition, or None when it is neither."""
    if definition == DEFINITION_V4:
        return "4.0"
    if isinstance(definition, str) and DEFINITION_V5.fullmatch(definition):
        return definition.rsplit("|", 1)[1]
    return None


def check_definition(ctx: Context, mh: Entry) -> None:
    definition = mh.resource.get("definition")
    if definition is None:
        return  # cardinality (1..1) is reported by the structure walk
    if version_of_definition(definition) is None:
        ctx.error(
            "medcom-carecommunication-definition-url",
            f"{mh.path}.definition",
            f"{str(definition)[:200]!r} names no CareCommunication version we know; use {DEFINITION_V5_EXAMPLE!r} "
            f"(5.x: '|5.<minor>') or, for 4.0, {DEFINITION_V4!r}",
        )


def check_bundle_invariants(ctx: Context, mh: Entry | None) -> None:
    """medcom-careCommunication-1, -2, -3, -4, -13 and the resource counts."""
    if mh is not None and mh.index == 0 and not has_profile(mh.resource, PROFILE_HEADER):
        ctx.error(
            "medcom-careCommunication-1",
            f"{mh.path}.meta.profile",
            f"the MessageHeader must declare the profile {PROFILE_HEADER!r} in meta.profile",
        )
    patients = list(ctx.of_type("Patient"))
    if len(patients) != 1:
        ctx.error(
            "medcom-careCommunication-2",
            "Bundle.entry",
            f"exactly one Patient is required; found {len(patients)}",
        )
    provenances = list(ctx.of_type("Provenance"))
    with_profile = [p for p in provenances if has_profile(p.resource, PROFILE_PROVENANCE)]
    if ctx.v5:
        for prov in provenances:
            if prov not in with_profile:
                ctx.error(
                    "medcom-careCommunication-3",
                    f"{prov.path}.meta.profile",
                    f"every Provenance must declare the profile {PROFILE_PROVENANCE!r} in meta.profile",
                )
    elif provenances and not with_profile:
        ctx.error(
            "medcom-careCommunication-3",
            "Bundle.entry",
            f"at least one Provenance must declare the profile {PROFILE_PROVENANCE!r} (4.0 rule)",
        )
    for prac in ctx.of_type("Practitioner"):
        if not as_list(prac.resource.get("name")):
            ctx.error(
                "medcom-careCommunication-4",
                f"{prac.path}.name",
                "every Practitioner must have a name (given and family)",
            )
    for role in ctx.of_type("PractitionerRole"):
        if not text(as_dict(role.resource.get("practitioner")).get("reference")):
            ctx.error(
                "medcom-careCommunication-13",
                f"{role.path}.practitioner.reference",
                "every PractitionerRole must reference its Practitioner (practitioner.reference)",
            )
    communications = list(ctx.of_type("Communication"))
    if len(communications) != 1:
        ctx.error(
            "bundle-communication",
            "Bundle.entry",
            f"a CareCommunication carries exactly one Communication; found {len(communications)}",
        )


def check_header(ctx: Context, mh: Entry) -> Entry | None:
    """Sender and focus of the MessageHeader; returns the focused Communication."""
    if "sender" in mh.resource:
        expect_target(ctx, mh, mh.resource["sender"], f"{mh.path}.sender", ("Organization",))
    if "response" in mh.resource:
        ctx.warning(
            "messageheader-response", f"{mh.path}.response", "response is not used in a CareCommunication"
        )
    focus = as_list(mh.resource.get("focus"))
    if focus:
        return expect_target(ctx, mh, focus[0], f"{mh.path}.focus[0]", ("Communication",))
    return None


def check_header_narrative(ctx: Context, mh: Entry) -> None:
    """5.0 obligation SHALL:in-narrative on the MessageHeader: its id, event code and the primary destination's
    and source's endpoints appear in the narrative (checked as text; a warning, since it binds the sender's
    system rather than the message's meaning)."""
    div = as_dict(mh.resource.get("text")).get("div")
    if not isinstance(div, str):
        return  # the narrative rule reports a missing narrative
    wanted: list[tuple[str, object]] = [
        ("id", mh.resource.get("id")),
        ("event code", as_dict(mh.resource.get("eventCoding")).get("code")),
        ("source endpoint", as_dict(mh.resource.get("source")).get("endpoint")),
    ]
    wanted += [
        ("destination endpoint", as_dict(d).get("endpoint")) for d in as_list(mh.resource.get("destination"))
    ]
    missing = [name for name, value in wanted if isinstance(value, str) and value not in div]
    if missing:
        ctx.warning(
            "narrative-content",
            f"{mh.path}.text.div",
            "the MessageHeader narrative should show "
            + ", ".join(missing)
            + " (5.0 obligation SHALL:in-narrative)",
        )


def _organization_of(ctx: Context, actor: Entry | None) -> Entry | None:
    """The organisation a PractitionerRole (`organization`) or CareTeam (`managingOrganization`) belongs to."""
    if actor is None:
        return None
    if actor.type == "PractitionerRole":
        return ctx.resolve(actor.resource.get("organization"), actor)
    if actor.type == "CareTeam":
        for ref in as_list(actor.resource.get("managingOrganization")):
            found = ctx.resolve(ref, actor)
            if found is not None:
                return found
    return None


def check_communication(ctx: Context, comm: Entry, mh: Entry | None) -> None:
    res = comm.resource
    path = comm.path
    _check_thread_identifier(ctx, comm)
    category_codes = [c for cat in as_list(res.get("category")) for c in coded(cat)]
    # medcom-careCommunication-5: priority only with regarding-referral.
    if "priority" in res and any(c != "regarding-referral" for c in category_codes):
        ctx.error(
            "medcom-careCommunication-5",
            f"{path}.priority",
            f"priority is only allowed with category 'regarding-referral'; the category is {category_codes[0]!r}",
        )
    # medcom-careCommunication-6: topic required with category other.
    if "other" in category_codes and "topic" not in res:
        ctx.error(
            "medcom-careCommunication-6", f"{path}.topic", "category 'other' requires a topic (topic.text)"
        )
    subject = res.get("subject")
    if subject is not None:
        expect_target(ctx, comm, subject, f"{path}.subject", ("Patient",))
    # Specific sender and recipient (inv-11, inv-12).
    sender_org = ctx.resolve(mh.resource.get("sender"), mh) if mh else None
    for i, ext in extensions(res, EXT_SENDER):
        ext_path = f"{path}.extension[{i}]"
        ref = ext.get("valueReference")
        if not isinstance(ref, dict):
            ctx.error(
                "cardinality", f"{ext_path}.valueReference", "the sender extension needs valueReference"
            )
            continue
        actor = expect_target(ctx, comm, ref, f"{ext_path}.valueReference", ("PractitionerRole", "CareTeam"))
        if actor is not None and sender_org is not None and _organization_of(ctx, actor) is not sender_org:
            ctx.error(
                "medcom-careCommunication-11",
                f"{ext_path}.valueReference",
                f"the specific sender ({actor.type}) must belong to the MessageHeader sender organisation "
                "(PractitionerRole.organization / CareTeam.managingOrganization)",
            )
    receiver_org = None
    if mh is not None:
        for dest in as_list(mh.resource.get("destination")):
            receiver_org = receiver_org or ctx.resolve(as_dict(dest).get("receiver"), mh)
    for i, ref in enumerate(as_list(res.get("recipient"))):
        rpath = f"{path}.recipient" + (f"[{i}]" if isinstance(res.get("recipient"), list) else "")
        actor = expect_target(ctx, comm, ref, rpath, ("PractitionerRole", "CareTeam"))
        if (
            actor is not None
            and receiver_org is not None
            and _organization_of(ctx, actor) is not receiver_org
        ):
            ctx.error(
                "medcom-careCommunication-12",
                rpath,
                f"the specific recipient ({actor.type}) must belong to the MessageHeader destination receiver "
                "(PractitionerRole.organization / CareTeam.managingOrganization)",
            )
    _check_encounter(ctx, comm)
    _check_payloads(ctx, comm)


def _check_thread_identifier(ctx: Context, comm: Entry) -> None:
    ident = comm.resource.get("identifier")
    if isinstance(ident, list):
        ident = ident[0] if ident else None
    value = text(as_dict(ident).get("value"))
    if value is not None:
        check_uuid_value(ctx, value, f"{comm.path}.identifier.value", "the communication identifier")


def check_uuid_value(ctx: Context, value: str, path: str, what: str) -> None:
    """medcom-uuidv4: the whole value is `urn:uuid:` + a lower-case UUID (error); version nibble 4 (warning)."""
    if not identifiers.URN_UUID.fullmatch(value):
        ctx.error(
            "medcom-uuidv4",
            path,
            f"{what} {value[:80]!r} must be 'urn:uuid:' followed by a lower-case UUID, e.g. "
            "'urn:uuid:b2eb3d0e-5de5-4de9-b2a3-0ff321ad1c3a'",
        )
    elif value[23] != "4":
        ctx.warning(
            "medcom-uuidv4",
            path,
            f"{what} should be a version 4 (random) UUID; this one is version {value[23]} (third group should start with '4')",
        )


def _check_encounter(ctx: Context, comm: Entry) -> None:
    """medcom-careCommunication-9 and -15 (the intended logic; the 5.0.2 expression is almost a tautology)."""
    ref = comm.resource.get("encounter")
    encounters = list(ctx.of_type("Encounter"))
    target = ctx.resolve(ref, comm) if ref is not None else None
    if ref is not None and target is not None:
        if target.type != "Encounter":
            ctx.error(
                "reference-target",
                f"{comm.path}.encounter.reference",
                f"refers to a {target.type}; expected Encounter",
            )
            return
        has_identifier = any(
            isinstance(eoc, dict) and as_dict(eoc.get("identifier")).get("value")
            for eoc in as_list(target.resource.get("episodeOfCare"))
        )
        if not has_identifier:
            ctx.error(
                "medcom-careCommunication-9",
                f"{target.path}.episodeOfCare",
                "the referenced Encounter must carry the episode-of-care identifier (episodeOfCare.identifier)",
            )
    if not ctx.v5:
        return
    if encounters and (ref is None or target is None or target.type != "Encounter"):
        ctx.error(
            "medcom-careCommunication-15",
            f"{comm.path}.encounter",
            "the bundle contains an Encounter, so Communication.encounter must reference it",
        )
    elif ref is not None and not encounters:
        ctx.error(
            "medcom-careCommunication-15",
            f"{comm.path}.encounter",
            "Communication.encounter is set but the bundle contains no Encounter",
        )


def _check_payloads(ctx: Context, comm: Entry) -> None:
    strings = 0
    for i, payload in enumerate(as_list(comm.resource.get("payload"))):
        if not isinstance(payload, dict):
            continue
        path = f"{comm.path}.payload[{i}]"
        if "contentString" in payload:
            strings += 1
            _check_segment(ctx, comm, payload, path, attachment=False)
        elif "contentAttachment" in payload:
            _check_segment(ctx, comm, payload, path, attachment=True)
            _check_attachment(ctx, as_dict(payload["contentAttachment"]), f"{path}.contentAttachment")
        elif "contentReference" in payload:
            ctx.warning(
                "payload-reference",
                f"{path}.contentReference",
                "contentReference is not used in CareCommunication; send text as contentString and files as contentAttachment",
            )
    if as_list(comm.resource.get("payload")) and strings == 0:
        ctx.error(
            "payload-string",
            f"{comm.path}.payload",
            "every CareCommunication needs at least one text segment (payload with contentString)",
        )


def _check_segment(ctx: Context, comm: Entry, payload: JsonObject, path: str, *, attachment: bool) -> None:
    kind = "attachment" if attachment else "text"
    wanted = {
        EXT_DATE: ("date", 1),
        EXT_IDENTIFIER: ("identifier", 1),
        EXT_AUTHOR: ("author", 0 if attachment else 1),
        EXT_CONTACT: ("authorContact", 0 if attachment else 1),
    }
    for url, (name, minimum) in wanted.items():
        found = extensions(payload, url)
        if len(found) < minimum or len(found) > 1:
            ctx.error(
                "payload-extension",
                f"{path}.extension",
                f"a {kind} segment needs {'exactly' if minimum else 'at most'} one {name} extension ({url}); found {len(found)}",
            )
        for j, ext in found:
            ext_path = f"{path}.extension[{j}]"
            if "extension" in ext:
                ctx.error(
                    "cardinality",
                    f"{ext_path}.extension",
                    f"the {name} extension allows no nested extensions",
                )
            if url == EXT_DATE:
                if "valueDateTime" not in ext:
                    ctx.error(
                        "cardinality", f"{ext_path}.valueDateTime", "the date extension needs valueDateTime"
                    )
            elif url == EXT_IDENTIFIER:
                _check_segment_identifier(ctx, comm, ext, ext_path)
            elif url == EXT_AUTHOR:
                if not isinstance(ext.get("valueReference"), dict):
                    ctx.error(
                        "cardinality",
                        f"{ext_path}.valueReference",
                        "the author extension needs valueReference",
                    )
                else:
                    _check_author(ctx, comm, ext["valueReference"], f"{ext_path}.valueReference")
            elif url == EXT_CONTACT:
                _check_contact(ctx, ext, ext_path)


def _check_segment_identifier(ctx: Context, comm: Entry, ext: JsonObject, path: str) -> None:
    ident = ext.get("valueIdentifier")
    if not isinstance(ident, dict):
        ctx.error("cardinality", f"{path}.valueIdentifier", "the identifier extension needs valueIdentifier")
        return
    value = text(ident.get("value"))
    if value is None:
        ctx.error(
            "cardinality",
            f"{path}.valueIdentifier.value",
            "the segment identifier needs a value ('urn:uuid:…')",
        )
    else:
        check_uuid_value(ctx, value, f"{path}.valueIdentifier.value", "the segment identifier")
    if "assigner" not in ident:
        ctx.error(
            "cardinality",
            f"{path}.valueIdentifier.assigner",
            "the segment identifier needs an assigner: the Organization that first sent the segment",
        )
    else:
        expect_target(ctx, comm, ident["assigner"], f"{path}.valueIdentifier.assigner", ("Organization",))


def _check_author(ctx: Context, comm: Entry, ref: JsonObject, path: str) -> None:
    """medcom-careCommunication-7 and -8 on the author's PractitionerRole."""
    role = expect_target(ctx, comm, ref, path, ("PractitionerRole",))
    if role is None:
        return
    code = as_dict(role.resource.get("code")) if not isinstance(role.resource.get("code"), list) else None
    concepts = as_list(role.resource.get("code")) if code is None else [code]
    has_code = any(coded(c) for c in concepts)
    has_text = any(isinstance(as_dict(c).get("text"), str) for c in concepts)
    if ctx.v5 and has_code == has_text:
        ctx.error(
            "medcom-careCommunication-7",
            f"{role.path}.code",
            "the author's PractitionerRole needs exactly one of code.coding.code (recommended, from "
            "medcom-core-PractitionerRoles) or code.text (free-text job title)"
            + ("; both are given" if has_code else "; neither is given"),
        )
    elif not ctx.v5 and not has_code:
        # MedCom's own 4.0 certification and IG examples give the role as free text; rejecting them would
        # fail certification and send negative receipts to certified senders, so text alone is tolerated.
        report = ctx.warning if has_text else ctx.error
        report(
            "medcom-careCommunication-7",
            f"{role.path}.code",
            "4.0.3 asks for code.coding.code (from medcom-core-PractitionerRoles) on the author's "
            "PractitionerRole"
            + (
                "; only code.text is given, accepted as in MedCom's own 4.0 examples (5.0 allows free text)"
                if has_text
                else "; neither code.coding.code nor code.text is given"
            ),
        )
    practitioner = ctx.resolve(role.resource.get("practitioner"), role)
    if (
        practitioner is not None
        and practitioner.type == "Practitioner"
        and not as_list(practitioner.resource.get("name"))
    ):
        ctx.error(
            "medcom-careCommunication-8",
            f"{practitioner.path}.name",
            "the author's Practitioner must have a name",
        )


def _check_contact(ctx: Context, ext: JsonObject, path: str) -> None:
    point = ext.get("valueContactPoint")
    if not isinstance(point, dict):
        ctx.error(
            "cardinality", f"{path}.valueContactPoint", "the authorContact extension needs valueContactPoint"
        )
        return
    if point.get("system") not in (None, "phone"):
        ctx.error(
            "fixed-value",
            f"{path}.valueContactPoint.system",
            f"found {point.get('system')!r}; the system must be 'phone'",
        )
    value = point.get("value")
    if not isinstance(value, str):
        ctx.error(
            "cardinality", f"{path}.valueContactPoint.value", "the authorContact needs a phone number (value)"
        )
    elif not CONTACT.search(value):
        ctx.error(
            "medcom-core-contact",
            f"{path}.valueContactPoint.value",
            f"{value[:40]!r} is not a phone number; use digits with an optional leading '+', e.g. '+4538683868'",
        )
    elif not CONTACT_INTENDED.fullmatch(value):
        ctx.warning(
            "medcom-core-contact",
            f"{path}.valueContactPoint.value",
            f"{value[:40]!r} passes MedCom's loose check but is not digits with an optional leading '+'",
        )


def _check_attachment(ctx: Context, att: JsonObject, path: str) -> None:
    data = att.get("data")
    if data == "":
        ctx.error(
            "attachment-empty",
            f"{path}.data",
            "the attachment data is empty; embed the file as base64 or omit data",
        )
    if data is not None and "contentType" not in att:
        ctx.error(
            "att-1",
            f"{path}.contentType",
            "an attachment with data must have a contentType, e.g. 'application/pdf'",
        )
    content_type = att.get("contentType")
    mimes = VALUE_SETS[_terminology(ctx)].get(MIME_VALUE_SET, {})
    allowed = [c for codes in mimes.values() for c in codes]
    if isinstance(content_type, str) and allowed and content_type not in allowed:
        ctx.error(
            "binding-attachmentMimeTypes",
            f"{path}.contentType",
            f"{content_type!r} is not an allowed attachment MIME type; use one of "
            + ", ".join(f"'{m}'" for m in allowed),
        )
    if "title" not in att:
        ctx.error("cardinality", f"{path}.title", "an attachment needs a title (1..1)")


def _terminology(ctx: Context) -> str:
    from medcom_bridge.fhir._codes import TERMINOLOGY_FOR_STACK

    return TERMINOLOGY_FOR_STACK[ctx.stack]


def segment_ids(comm: Entry | None) -> set[str]:
    if comm is None:
        return set()
    found: set[str] = set()
    for payload in as_list(comm.resource.get("payload")):
        for _, ext in extensions(payload, EXT_IDENTIFIER):
            value = text(as_dict(ext.get("valueIdentifier")).get("value"))
            if value:
                found.add(value)
    return found


def check_provenances(ctx: Context, mh: Entry | None, comm: Entry | None) -> None:
    """Entity slices (payload `source` 1..*, preceedingMessage `revision` 0..1, closed), the Provenance of the
    current message, and payload ids matching segment ids (§10: warning)."""
    segments = segment_ids(comm)
    current = 0
    for prov in ctx.of_type("Provenance"):
        res = prov.resource
        activity = [c for c in coded(res.get("activity"))]
        sources = revisions = 0
        for i, entity in enumerate(as_list(res.get("entity"))):
            if not isinstance(entity, dict):
                continue
            path = f"{prov.path}.entity[{i}]"
            role = entity.get("role")
            what = as_dict(entity.get("what"))
            if role == "source":
                sources += 1
                value = text(as_dict(what.get("identifier")).get("value"))
                if value is None:
                    ctx.error(
                        "provenance-entity",
                        f"{path}.what.identifier",
                        "a payload entity (role 'source') names the segment by what.identifier.value",
                    )
                elif segments and value not in segments:
                    ctx.warning(
                        "provenance-payload-ids",
                        f"{path}.what.identifier.value",
                        f"{value!r} matches no segment identifier in the Communication's payload",
                    )
            elif role == "revision":
                revisions += 1
                _check_revision(ctx, what, path)
            elif role is not None:
                ctx.error(
                    "provenance-entity",
                    f"{path}.role",
                    f"entity role {role!r} is not allowed (closed slicing); use 'source' (payload) or 'revision' (preceding message)",
                )
        if as_list(res.get("entity")) and sources == 0:
            ctx.error(
                "provenance-entity",
                f"{prov.path}.entity",
                "at least one payload entity (role 'source') is required",
            )
        if revisions > 1:
            ctx.error(
                "provenance-entity",
                f"{prov.path}.entity",
                f"at most one preceding message (role 'revision'); found {revisions}",
            )
        if revisions == 0 and any(a in ("reply-message", "forward-message") for a in activity):
            ctx.error(
                "provenance-revision",
                f"{prov.path}.entity",
                f"a {activity[0]} must reference the preceding message (entity role 'revision')",
            )
        for target in as_list(res.get("target")):
            if mh is not None and ctx.resolve(target, prov) is mh:
                current += 1
    if mh is not None and any(True for _ in ctx.of_type("Provenance")) and current == 0:
        ctx.error(
            "provenance-current",
            "Bundle.entry",
            f"no Provenance describes this message: one must have target MessageHeader/{mh.id}",
        )


def _check_revision(ctx: Context, what: JsonObject, path: str) -> None:
    reference = text(what.get("reference"))
    identifier = text(as_dict(what.get("identifier")).get("value"))
    if reference is not None:
        if not re.fullmatch(r"(.*/)?MessageHeader/[A-Za-z0-9\-.]{1,64}", reference):
            ctx.error(
                "provenance-revision",
                f"{path}.what.reference",
                f"{reference[:80]!r} must be 'MessageHeader/<id of the previous message>'",
            )
    elif identifier is not None:
        if not OIOXML_PREDECESSOR.fullmatch(identifier):
            ctx.error(
                "provenance-revision",
                f"{path}.what.identifier.value",
                f"{identifier[:80]!r} must be '[EAN location number]#[letter id]' for an OIOXML/EDIFACT predecessor",
            )
    else:
        ctx.error(
            "provenance-revision",
            f"{path}.what",
            "a preceding message needs what.reference 'MessageHeader/<id>' or what.identifier.value '[EAN]#[letter id]'",
        )


def check_patient(ctx: Context, patient: Entry) -> None:
    """dk-core identifier slices (CPR, X-eCPR, D-eCPR) and the official name (§4.1, §10)."""
    replacement_only = True
    identifiers = as_list(patient.resource.get("identifier"))
    for i, ident in enumerate(identifiers):
        if not isinstance(ident, dict):
            continue
        system = ident.get("system")
        check = ids.PATIENT_CHECKS.get(system) if isinstance(system, str) else None
        path = f"{patient.path}.identifier[{i}]"
        if check is None:
            replacement_only = False
            continue
        rule, func, use = check
        if rule == "identifier-cpr":
            replacement_only = False
        value = text(ident.get("value"))
        if value is not None:
            problem = func(value)
            if problem:
                ctx.error(rule, f"{path}.value", problem)
        if ident.get("use") not in (None, use):
            ctx.error(
                rule, f"{path}.use", f"this identifier's use is fixed to {use!r}; found {ident.get('use')!r}"
            )
    official = [
        (i, n)
        for i, n in enumerate(as_list(patient.resource.get("name")))
        if isinstance(n, dict) and n.get("use") == "official"
    ]
    if not official:
        if as_list(patient.resource.get("name")):
            ctx.error(
                "patient-name",
                f"{patient.path}.name",
                "the Patient needs exactly one name with use 'official' (name:official 1..1)",
            )
        return
    if len(official) > 1:
        ctx.error(
            "patient-name",
            f"{patient.path}.name",
            f"exactly one official name is allowed; found {len(official)}",
        )
    i, name = official[0]
    if not isinstance(name.get("family"), str):
        if identifiers and replacement_only:
            ctx.warning(
                "patient-family-name",
                f"{patient.path}.name[{i}].family",
                "no family name; tolerated because the patient is identified only by a replacement CPR (eCPR)",
            )
        else:
            ctx.error(
                "patient-family-name",
                f"{patient.path}.name[{i}].family",
                "the official name needs a family name",
            )


def check_practitioner_role(ctx: Context, role: Entry) -> None:
    """PractitionerRole.code: an *example* binding, so a code outside the list is only information."""
    systems = VALUE_SETS[_terminology(ctx)].get(ROLES_VALUE_SET, {})
    for i, concept in enumerate(as_list(role.resource.get("code"))):
        for j, coding in codings(concept):
            system, code = coding.get("system"), coding.get("code")
            if isinstance(code, str) and not (isinstance(system, str) and code in systems.get(system, ())):
                ctx.information(
                    "binding-PractitionerRoles",
                    f"{role.path}.code[{i}].coding[{j}]",
                    f"{system}#{code} is not in medcom-core-PractitionerRoles; the binding is only an example "
                    "(recommended list), so other codes are allowed",
                )
    if "organization" in role.resource:
        expect_target(
            ctx, role, role.resource["organization"], f"{role.path}.organization", ("Organization",)
        )
    if "practitioner" in role.resource:
        expect_target(
            ctx, role, role.resource["practitioner"], f"{role.path}.practitioner", ("Practitioner",)
        )


def check_encounter(ctx: Context, enc: Entry) -> None:
    """episodeOfCare slice lpr3identifier: a UUID v5 as urn:uuid."""
    for i, eoc in enumerate(as_list(enc.resource.get("episodeOfCare"))):
        ident = as_dict(as_dict(eoc).get("identifier"))
        if ident.get("system") == ids.SYSTEM_LPR3:
            value = text(ident.get("value"))
            if value is not None and not identifiers.URN_UUID_V5.fullmatch(value):
                ctx.error(
                    "identifier-lpr3",
                    f"{enc.path}.episodeOfCare[{i}].identifier.value",
                    f"{value[:80]!r} must be an LPR3 episode id: 'urn:uuid:' and a lower-case version 5 UUID",
                )
