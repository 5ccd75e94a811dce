"""Realistic CareCommunications for the benches: made by our builder from a fixed seed, so every run measures
the same bytes. Real letters are bigger than MedCom's small examples: several text segments, threads that
carry earlier segments (replies and forwards), and attachments (PDF scans, pictures) as base64. The mix is
tuned to the sizes seen in real correspondence (about 60 kB JSON on average).

    from bench.realistic import carecommunications
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from medcom_bridge.fhir.builder import forward, new_message, reply
from medcom_bridge.fhir.content import Attachment, Classification, TextSegment
from medcom_bridge.fhir.parties import Author, Organization, Patient

SEED = 14
START = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
_WORDS = [
    "patienten",
    "borger",
    "hjemmeplejen",
    "sygeplejerske",
    "medicin",
    "dosis",
    "ændret",
    "kontrol",
    "blodtryk",
    "måling",
    "vægt",
    "uge",
    "aftale",
    "udskrivelse",
    "indlæggelse",
    "træning",
    "genoptræning",
    "hjælpemidler",
    "rollator",
    "bad",
    "mad",
    "søvn",
    "smerter",
    "behandling",
    "laboratoriesvar",
    "prøve",
    "henvisning",
    "opfølgning",
    "pårørende",
    "datter",
    "søn",
    "telefon",
    "besøg",
    "dag",
    "nat",
    "morgen",
    "aften",
    "i",
    "og",
    "er",
    "har",
    "ikke",
    "skal",
    "bedes",
    "venligst",
    "tak",
    "for",
    "hilsen",
    "med",
    "til",
    "fra",
    "om",
    "på",
    "at",
    "det",
    "den",
]
_CATEGORIES = ("examination-results", "carecoordination", "medicine", "nursing", "training", "other")
_MUNICIPALITY = Organization(sor="1144561000016002", ean="5790001348120", name="Hjemmeplejen Odense")
_HOSPITAL = Organization(sor="1105781000016007", ean="5790000121441", name="OUH Medicinsk Afdeling")
_GP = Organization(sor="1017421000016003", ean="5790002408496", name="2100 Lægehuset Østerbro")
_AUTHORS = (
    Author(family="Jensen", given=("Kim",), role_code="sygeplejerske", phone="87875455"),
    Author(family="Hansen", given=("Mette",), role_code="laege", phone="66113333"),
    Author(family="Nielsen", given=("Ole",), role_code="fysioterapeut", phone="38683868"),
)


def _text(rng: random.Random, words: int) -> str:
    lines = []
    while words > 0:
        n = min(words, rng.randint(8, 18))
        lines.append(" ".join(rng.choice(_WORDS) for _ in range(n)).capitalize() + ".")
        words -= n
    return "\n".join(lines)


def _attachment(rng: random.Random, i: int) -> Attachment:
    kind = rng.random()
    if kind < 0.6:
        size = rng.randint(4_000, 36_000)
        return Attachment(
            title=f"Epikrise {i}", content_type="application/pdf", data=b"%PDF-1.4\n" + rng.randbytes(size)
        )
    size = rng.randint(3_000, 24_000)
    return Attachment(
        title=f"Foto {i}", content_type="image/jpeg", data=b"\xff\xd8\xff\xe0" + rng.randbytes(size)
    )


def carecommunications(count: int = 40, seed: int = SEED) -> list[dict[str, Any]]:
    """`count` CareCommunication bundles: new letters, replies and forwards, with 0-3 attachments each."""
    rng = random.Random(seed)
    counter = iter(range(1, 1 << 30))

    def new_id() -> str:
        return f"{rng.getrandbits(32):08x}-0000-4000-8000-{next(counter):012x}"

    out: list[dict[str, Any]] = []
    now = START
    while len(out) < count:
        now += timedelta(minutes=rng.randint(5, 600))
        patient = Patient(cpr="2509479989", family="Elmer", given=("Bruno",))

        def segments() -> list[TextSegment]:
            return [
                TextSegment(text=_text(rng, rng.randint(60, 600)), author=rng.choice(_AUTHORS))
                for _ in range(rng.randint(1, 3))
            ]

        def attachments() -> list[Attachment]:
            return [_attachment(rng, i) for i in range(rng.choice((0, 0, 1, 1, 1, 2)))]

        bundle = new_message(
            sender=_MUNICIPALITY,
            receiver=_HOSPITAL,
            patient=patient,
            classification=Classification(category=rng.choice(_CATEGORIES), topic="Vedr. borger"),
            text=segments(),
            attachments=attachments(),
            now=now,
            new_id=new_id,
        )
        out.append(bundle)
        # A thread goes on for a few messages: replies back and forth, now and then a forward to the GP.
        for turn in range(rng.randint(0, 3)):
            if len(out) >= count:
                break
            now += timedelta(minutes=rng.randint(5, 300))
            # Forward the first letter only: later ones carry earlier attachments as stubs (content sent before).
            if turn == 0 and rng.random() < 0.25:
                bundle = forward(
                    bundle, to=_GP, text=segments(), attachments=attachments(), now=now, new_id=new_id
                )
            else:
                bundle = reply(bundle, text=segments(), attachments=attachments(), now=now, new_id=new_id)
            out.append(bundle)
    return out
