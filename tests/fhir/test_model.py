"""The Bundle view: entries, lookups, FHIR reference resolution inside a Bundle, and paths."""

from __future__ import annotations

from typing import Any

import pytest

from medcom_bridge.fhir import codec
from medcom_bridge.fhir.model import Bundle, get_all, get_path
from tests.fhir.examples import official_examples

BUNDLES = [(n, d) for n, d in official_examples() if b'"Bundle"' in d[:200] or b"<Bundle" in d[:300]]


# MedCom's own example errors (checked by hand: no entry has this id). Fixed in 5.0.2's copy of the bundle.
KNOWN_DANGLING = {
    "medcom.fhir.dk.carecommunication-4.0.3.tgz:Bundle-d11968f5-4bdf-4b50-b146-a8e1cc890fc3.json": [
        (
            "Communication",
            ".payload.extension.valueIdentifier.assigner",
            "Organization/487ac745-fd11-4879-9b59-c08c7d47260e",
        )
    ],
}


def _references(obj: Any, path: str = "") -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == "reference" and isinstance(v, str):
                found.append((path, v))
            else:
                found.extend(_references(v, f"{path}.{k}"))
    elif isinstance(obj, list):
        for item in obj:
            found.extend(_references(item, path))
    return found


@pytest.mark.parametrize(("name", "data"), BUNDLES, ids=[n for n, _ in BUNDLES])
def test_every_reference_in_the_official_bundles_resolves(name: str, data: bytes) -> None:
    """Except the history: Provenance targets and preceding messages point to earlier MessageHeaders that
    are not in the bundle (spec §5), and the acknowledged message's header in an Acknowledgement."""
    bundle = Bundle(codec.parse(data)[0])
    assert bundle.entries
    unresolved = []
    for _, full_url, resource in bundle.entries:
        for path, ref in _references(resource):
            if bundle.resolve(ref, from_full_url=full_url) is None:
                unresolved.append((resource["resourceType"], path, ref))
    history = [
        u
        for u in unresolved
        if u[0] == "Provenance" and u[1] in (".target", ".entity.what") and "MessageHeader" in u[2]
    ]
    rest = [u for u in unresolved if u not in history]
    assert rest == KNOWN_DANGLING.get(name, []), rest


def _v5_bundle() -> Bundle:
    data = next(d for n, d in official_examples() if n.startswith("send-v5/") and n.endswith(".json"))
    return Bundle(codec.parse_json(data))


def test_entries_types_and_the_message_header() -> None:
    bundle = _v5_bundle()
    assert [i for i, _, _ in bundle.entries] == list(range(len(bundle.raw["entry"])))
    header = bundle.message_header
    assert header is not None and header is bundle.raw["entry"][0]["resource"]
    assert bundle.first("MessageHeader") is header
    orgs = bundle.resources("Organization")
    assert len(orgs) >= 2 and all(r["resourceType"] == "Organization" for _, r in orgs)
    assert all(bundle.raw["entry"][i]["resource"] is r for i, r in orgs)
    assert bundle.resources("Observation") == [] and bundle.first("Observation") is None
    sender = bundle.resolve(header["sender"]["reference"], from_full_url=bundle.entries[0][1])
    assert sender is not None and sender[1]["resourceType"] == "Organization"
    assert bundle.resolve_reference(header["sender"]) == sender


def _bundle(*entries: tuple[str | None, dict[str, Any]]) -> Bundle:
    return Bundle({"resourceType": "Bundle", "type": "message", "entry": [
        ({"fullUrl": u} if u else {}) | {"resource": r} for u, r in entries]})  # fmt: skip


PAT = {"resourceType": "Patient", "id": "p1"}
ORG_A = {"resourceType": "Organization", "id": "o1", "name": "A"}
ORG_B = {"resourceType": "Organization", "id": "o1", "name": "B"}


def test_urn_uuid_references_match_the_full_url_exactly() -> None:
    b = _bundle(("urn:uuid:0b3f6a2e-0000-4000-8000-000000000001", PAT))
    assert b.resolve("urn:uuid:0b3f6a2e-0000-4000-8000-000000000001") == (0, PAT)
    assert b.resolve("urn:uuid:0b3f6a2e-0000-4000-8000-000000000002") is None
    # a relative reference still finds the resource by type and id when fullUrls are urns
    assert b.resolve("Patient/p1", from_full_url="urn:uuid:x") == (0, PAT)


def test_absolute_references_must_match_a_full_url() -> None:
    b = _bundle(("https://example.org/fhir/Patient/p1", PAT))
    assert b.resolve("https://example.org/fhir/Patient/p1") == (0, PAT)
    assert b.resolve("https://example.org/fhir/Patient/p1/_history/2") == (0, PAT)
    assert b.resolve("https://other.org/fhir/Patient/p1") is None


def test_relative_references_use_the_base_of_the_referring_entry_first() -> None:
    b = _bundle(
        ("https://a.example/fhir/Organization/o1", ORG_A),
        ("https://b.example/fhir/Organization/o1", ORG_B),
        ("https://b.example/fhir/Patient/p1", PAT),
    )
    assert b.resolve("Organization/o1", from_full_url="https://b.example/fhir/Patient/p1") == (1, ORG_B)
    assert b.resolve("Organization/o1", from_full_url="https://a.example/fhir/Patient/x") == (0, ORG_A)
    # without a referring entry, the first entry whose fullUrl ends in Type/id
    assert b.resolve("Organization/o1") == (0, ORG_A)
    assert b.resolve("Organization/o1/_history/3") == (0, ORG_A)
    assert b.resolve("Patient/p1") == (2, PAT)


def test_relative_references_without_any_full_url_use_type_and_id() -> None:
    b = _bundle((None, PAT), (None, ORG_A))
    assert b.resolve("Organization/o1") == (1, ORG_A)
    assert b.resolve("Patient/o1") is None


@pytest.mark.parametrize(
    "ref", ["", "Organization", "Organization/", "organization/o1", "Organization/o 1", "#"]
)
def test_missing_and_malformed_references_give_none(ref: str) -> None:
    b = _bundle(("https://a.example/fhir/Organization/o1", ORG_A))
    assert b.resolve(ref, from_full_url="https://a.example/fhir/Organization/o1") is None


def test_contained_references() -> None:
    inner = {"resourceType": "Practitioner", "id": "pr"}
    comm = {"resourceType": "Communication", "id": "c", "contained": [inner]}
    b = _bundle(("urn:uuid:c", comm))
    assert b.resolve("#pr", from_full_url="urn:uuid:c") == (0, inner)
    assert b.resolve("#nope", from_full_url="urn:uuid:c") is None
    assert b.resolve("#pr") is None


def test_a_bundle_with_broken_entries_is_still_viewable() -> None:
    b = Bundle({"resourceType": "Bundle", "entry": [{"fullUrl": "x"}, "junk", {"resource": {"id": "no type"}},
                                                    {"fullUrl": 5, "resource": PAT}]})  # fmt: skip
    assert b.entries == [(3, None, PAT)]
    assert Bundle({"resourceType": "Bundle"}).entries == []
    assert Bundle({"resourceType": "Bundle", "entry": "x"}).message_header is None


def test_get_path_and_get_all() -> None:
    mh = {
        "resourceType": "MessageHeader",
        "destination": [
            {"endpoint": "e1", "receiver": {"reference": "Organization/1"}},
            {"endpoint": "e2", "receiver": {"reference": "Organization/2"}},
        ],
        "focus": [{"reference": "Communication/1"}],
        "source": {"endpoint": "s"},
    }
    assert get_path(mh, "destination[1].receiver.reference") == "Organization/2"
    assert get_path(mh, "destination.receiver.reference") == "Organization/1"
    assert get_path(mh, "source.endpoint") == "s"
    assert get_path(mh, "source[0].endpoint") == "s"
    assert get_path(mh, "source[1].endpoint") is None
    assert get_path(mh, "destination[5].endpoint") is None
    assert get_path(mh, "nothing.here") is None
    assert get_path(mh, "source.endpoint.deeper") is None
    assert get_all(mh, "destination.receiver.reference") == ["Organization/1", "Organization/2"]
    assert get_all(mh, "destination[1].endpoint") == ["e2"]
    assert get_all(mh, "focus.reference") == ["Communication/1"]
    assert get_all(mh, "missing.reference") == []
    with pytest.raises(ValueError):
        get_path(mh, "a..b")
