"""Rules every MedCom FHIR message shares (messaging 2.x/4.x): the Bundle, its entries and references, the
MessageHeader destinations, organisations, narrative and profiles (fhir-carecommunication.md §0-§2, §4.2, §7).
"""

from __future__ import annotations

from medcom_bridge.fhir import canonical as url
from medcom_bridge.fhir import rules_identifiers as ids
from medcom_bridge.fhir._context import (
    Context,
    Entry,
    JsonObject,
    as_dict,
    as_list,
    codings,
    extensions,
    profiles,
    text,
)

EXT_DESTINATION_USE = url.EXT_DESTINATION_USE
CS_DESTINATION_USE = url.CS_DESTINATION_USE
CS_EVENT = url.CS_EVENT
MAX_MESSAGE_BYTES = 50 * 1024 * 1024  # clinical guideline §8 (VANS limit); the hub may accept up to 100 MB


def check_bundle(ctx: Context) -> None:
    """bdl-12, bdl-7, messaging-2, fullUrls and the number of MessageHeaders."""
    bundle = ctx.bundle
    raw_entries = as_list(bundle.get("entry"))
    for i, item in enumerate(raw_entries):
        if not isinstance(item, dict) or not isinstance(item.get("resource"), dict):
            ctx.error("bdl-5", f"Bundle.entry[{i}].resource", "every entry must contain a resource")
        elif not isinstance(item.get("fullUrl"), str):
            ctx.warning(
                "entry-fullurl",
                f"Bundle.entry[{i}]",
                "every entry should have a fullUrl (e.g. 'urn:uuid:…' or 'https://…/Type/id')",
            )
        elif "/_history/" in item["fullUrl"]:
            ctx.error("bdl-8", f"Bundle.entry[{i}].fullUrl", "a fullUrl must not contain '/_history/'")
    seen: dict[str, int] = {}
    for entry in ctx.entries:
        if entry.full_url is None:
            continue
        if entry.full_url in seen:
            ctx.error(
                "bdl-7",
                f"Bundle.entry[{entry.index}].fullUrl",
                f"fullUrl {entry.full_url!r} is already used by Bundle.entry[{seen[entry.full_url]}]",
            )
        seen.setdefault(entry.full_url, entry.index)
    if not ctx.entries:
        return
    first = ctx.entries[0]
    if first.index != 0 or first.type != "MessageHeader":
        ctx.error(
            "bdl-12",
            "Bundle.entry[0].resource",
            f"the first entry of a message must be the MessageHeader; found {first.type or 'no resource'}",
        )
    headers = list(ctx.of_type("MessageHeader"))
    if len(headers) > 1:
        ctx.error(
            "bundle-messageheader",
            headers[1].path,
            f"a message has exactly one MessageHeader; found {len(headers)}",
        )
    if not any(True for _ in ctx.of_type("Provenance")):
        ctx.error("medcom-messaging-2", "Bundle.entry", "the message must contain at least one Provenance")


def header(ctx: Context) -> Entry | None:
    """The message's MessageHeader (the first entry, or else the first MessageHeader anywhere)."""
    if ctx.entries and ctx.entries[0].type == "MessageHeader":
        return ctx.entries[0]
    return ctx.first("MessageHeader")


def check_destinations(ctx: Context, mh: Entry) -> None:
    """destination: closed slicing on the use extension; `primary` 1..1 with a receiver, `cc` 0..0."""
    primaries = 0
    unreadable = False  # a destination whose use is unknown: the primary count would only repeat that
    for i, dest in enumerate(as_list(mh.resource.get("destination"))):
        path = f"{mh.path}.destination[{i}]"
        if not isinstance(dest, dict):
            continue
        uses = extensions(dest, EXT_DESTINATION_USE)
        if len(uses) != 1:
            ctx.error(
                "destination-use",
                f"{path}.extension",
                f"each destination needs exactly one destination-use extension ({EXT_DESTINATION_USE}); found {len(uses)}",
            )
            unreadable = True
            continue
        j, ext = uses[0]
        coding = as_dict(ext.get("valueCoding"))
        code, system = coding.get("code"), coding.get("system")
        where = f"{path}.extension[{j}].valueCoding"
        if system != CS_DESTINATION_USE or code not in ("primary", "cc"):
            ctx.error(
                "binding-destinationUse",
                where,
                f"destination use {system}#{code} is not allowed; use {CS_DESTINATION_USE}#primary",
            )
            unreadable = True
            continue
        if code == "cc":
            ctx.error(
                "destination-cc",
                path,
                "a carbon-copy (cc) destination is not allowed (destination:cc is 0..0)",
            )
            continue
        primaries += 1
        if "receiver" not in dest:
            ctx.error("cardinality", f"{path}.receiver", "the primary destination needs a receiver (1..1)")
        else:
            expect_target(ctx, mh, dest["receiver"], f"{path}.receiver", ("Organization",))
    if primaries != 1 and not unreadable and as_list(mh.resource.get("destination")):
        ctx.error(
            "destination-primary",
            f"{mh.path}.destination",
            f"exactly one destination with use 'primary' is required; found {primaries}",
        )


def expect_target(
    ctx: Context, source: Entry, reference: object, path: str, types: tuple[str, ...]
) -> Entry | None:
    """Resolve a reference that must point to one of `types` inside the bundle (unresolved ones are reported
    once, by `check_references`)."""
    target = ctx.resolve(reference, source)
    if target is not None and target.type not in types:
        ctx.error(
            "reference-target",
            f"{path}.reference",
            f"refers to a {target.type}; expected {' or '.join(types)}",
        )
        return None
    return target


_SEGMENT_ASSIGNER = ".valueIdentifier.assigner.reference"


def check_references(ctx: Context) -> None:
    """Every reference resolves to an entry of the bundle (aggregation `bundled`), except Provenance targets
    and preceding-message entities, which point to earlier messages that are not in this bundle."""
    for entry, path, reference in ctx.references:
        if reference.startswith("#"):
            continue
        if entry.type == "Provenance" and (".target" in path or ".entity[" in path):
            continue
        if ctx.resolve(reference, entry) is None:
            if not ctx.v5 and path.endswith(_SEGMENT_ASSIGNER):
                # 4.0 examples (IG 4.0.3 bundle d11968f5) leave out the Organization that first sent an
                # earlier segment; 5.0 includes it. The segment itself is readable without it.
                ctx.warning(
                    "reference-resolves",
                    path,
                    f"{reference!r} (the Organization that first sent this segment) is not in the bundle; "
                    "4.0 tolerates it, 5.0 requires the Organization to be included",
                )
                continue
            ctx.error(
                "reference-resolves",
                path,
                f"{reference!r} does not resolve to an entry of this bundle; every referenced resource must be included",
            )


def check_narrative_and_profile(ctx: Context, entry: Entry, expected: str | None) -> None:
    """MedCom requires the narrative in every resource; every resource should name its profile."""
    if not isinstance(entry.resource.get("text"), dict):
        ctx.error(
            "narrative",
            f"{entry.path}.text",
            "the narrative (text with status and div) is missing; MedCom requires it in every resource",
        )
    if expected and not any(p.startswith(expected) for p in profiles(entry.resource)):
        ctx.warning(
            "meta-profile",
            f"{entry.path}.meta.profile",
            f"the resource should declare its profile {expected!r} in meta.profile",
        )


def check_size(ctx: Context, size: int) -> None:
    if size > MAX_MESSAGE_BYTES:
        ctx.warning(
            "message-size",
            "Bundle",
            f"the message is {size / 1024 / 1024:.1f} MB; MedCom's limit is 50 MB including attachments",
        )


def check_organization(ctx: Context, org: Entry, *, messaging: bool) -> None:
    """Identifier slices of MedComCoreOrganization / MedComMessagingOrganization (SOR-ID and EAN-ID 1..1)."""
    counts = {ids.SYSTEM_SOR: 0, ids.SYSTEM_GLN: 0}
    any_mandatory = False
    for i, ident in enumerate(as_list(org.resource.get("identifier"))):
        if not isinstance(ident, dict):
            continue
        system, value = text(ident.get("system")), text(ident.get("value"))
        path = f"{org.path}.identifier[{i}]"
        if system in (ids.SYSTEM_SOR, ids.SYSTEM_KOMBIT, ids.SYSTEM_SOR_ALT, ids.SYSTEM_CVR):
            any_mandatory = True
        if system in counts:
            counts[system] += 1
            if messaging and ident.get("use") not in (None, "official"):
                ctx.error(
                    "identifier-use",
                    f"{path}.use",
                    f"the {'SOR' if system == ids.SYSTEM_SOR else 'EAN'} identifier has use 'official'; found {ident.get('use')!r}",
                )
        check = ids.ORGANIZATION_CHECKS.get(system) if system else None
        if check and value is not None:
            problem = check[1](value)
            if problem:
                ctx.error(check[0], f"{path}.value", problem)
    if not any_mandatory:
        ctx.error(
            "dk-core-organization-mandatory-identifier",
            f"{org.path}.identifier",
            f"an organisation needs an identifier with system SOR ({ids.SYSTEM_SOR}), KOMBIT or CVR",
        )
    if messaging:
        for system, rule, label in (
            (ids.SYSTEM_SOR, "identifier-sor", "SOR-ID"),
            (ids.SYSTEM_GLN, "identifier-gln", "EAN-ID (GLN)"),
        ):
            if counts[system] != 1:
                ctx.error(
                    rule,
                    f"{org.path}.identifier",
                    f"a messaging organisation needs exactly one {label} identifier (system {system}); found {counts[system]}",
                )


def messaging_organizations(ctx: Context, mh: Entry | None) -> set[int]:
    """Entry indexes of organisations that must follow MedComMessagingOrganization: MessageHeader sender and
    receiver and Provenance agents (or that claim the profile)."""
    result: set[int] = set()
    refs: list[tuple[Entry, object]] = []
    if mh is not None:
        refs.append((mh, mh.resource.get("sender")))
        refs.extend((mh, as_dict(d).get("receiver")) for d in as_list(mh.resource.get("destination")))
    for prov in ctx.of_type("Provenance"):
        refs.extend((prov, as_dict(a).get("who")) for a in as_list(prov.resource.get("agent")))
    for source, ref in refs:
        target = ctx.resolve(ref, source)
        if target is not None and target.type == "Organization":
            result.add(target.index)
    for org in ctx.of_type("Organization"):
        if any("medcom-messaging-organization" in p for p in profiles(org.resource)):
            result.add(org.index)
    return result


def event_code(mh: Entry | None) -> str | None:
    if mh is None:
        return None
    return text(as_dict(mh.resource.get("eventCoding")).get("code"))


def coded(concept: object) -> list[str]:
    return [c["code"] for _, c in codings(concept) if isinstance(c.get("code"), str)]


def resource_of(ctx: Context, mh: Entry | None, key: str) -> JsonObject:
    return mh.resource.get(key, {}) if mh is not None else {}
