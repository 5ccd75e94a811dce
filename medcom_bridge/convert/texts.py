"""Every literal Danish text and default value the converter writes, in one place.

Texts quoted by MedCom (use cases 3.1.0, mapping sheets v5.0.0) are reproduced exactly; texts MedCom asks for but
does not spell out (the reply/forward remark, the author lines, the attachment notes) are our wording and are
marked as such, so a reviewer can tell a MedCom literal from a local choice.
"""

from __future__ import annotations

from typing import Final

from medcom_bridge.oioxml import receipts

# --- MedCom literals -----------------------------------------------------------------------------------------

#: Sheet "XDIS91 -> CareCommunication", row Subject: topic when the XDIS91 Subject is empty.
UNKNOWN_TOPIC: Final = "Ukendt emne"

#: Sheet row Priority: a high-priority XDIS91 without a referral category gets this sentence in the text.
HIGH_PRIORITY_SENTENCE: Final = "Denne meddelelse har høj prioritet."

#: Sheet row Sender telephone / use case S1 remark 3: phone when neither the letter nor SOR has one.
PHONE_FALLBACK: Final = "0000 0000"

#: Use case S2 remark 2: explanation written before the (e)CPR numbers that did not fit the Patient segment.
EXTRA_CPR_SENTENCE: Final = (
    "Der er modtaget flere end et CPR-nummer i korrespondancemeddelelsen. "
    "Derfor er de resterende medsendte CPR-numre indsat her"
)

#: Use cases §4.4 table 5: the hub's own reason added to negative receipts caused by conversion problems (the
#: literal lives with the OIOXML receipts, which the hub also sends without converting anything).
CONVERSION_FAILED_TEXT: Final = receipts.CONVERSION_FAILED_TEXT

#: Sheet "XDIS91 -> CareCommunication", row Author role: "Skal sættes som default til 'ukendt'".
UNKNOWN_AUTHOR_ROLE: Final = "ukendt"

# --- Our wording (MedCom asks for the content, not the words) ------------------------------------------------

#: Use case S2.A2 step 3: "a remark in the text that this message is a reply or a forward".
REPLY_REMARK: Final = "Denne meddelelse er en besvarelse af en tidligere meddelelse."
FORWARD_REMARK: Final = "Denne meddelelse er en videresendelse af en tidligere meddelelse."

#: Author lines written into Text01 (sheet "CareCommunication -> XDIS91", rows Author name/role); the
#: labels follow MedCom's worked example Flow3 ("Forfatter: Michael Burns", "Stilling: Sygeplejerske").
AUTHOR_LABEL: Final = "Forfatter"
ROLE_LABEL: Final = "Stilling"
PHONE_LABEL: Final = "Telefon"
SPECIFIC_SENDER_LABEL: Final = "Specifik afsender"
SPECIFIC_RECIPIENT_LABEL: Final = "Specifik modtager"

#: Header before each earlier segment of a thread (newest segment first).
EARLIER_SEGMENT_HEADER: Final = "--- Tidligere meddelelse fra {sender}, {when} ---"

#: Attachments that cannot travel as an XBIN01 object are named in the text instead of being dropped.
ATTACHMENT_SENT_EARLIER: Final = "Bilag sendt tidligere: {title} (id {identifier})"
ATTACHMENT_OVERFLOW: Final = (
    "Bilag nr. {number} ud over de 10, XDIS91 kan henvise til: {title} (id {identifier})"
)
SUPPLEMENT_SENT_OTHERWISE: Final = "Supplerende materiale sendes på anden vis: {description}"

#: A CareCommunication needs a non-empty text segment; an XDIS91 whose Text01 is blank gets this one.
EMPTY_TEXT: Final = "(Den modtagne meddelelse indeholder ingen tekst.)"

#: Sender OrganisationName is mandatory in XDIS91; used only when neither FHIR nor SOR names the sender.
UNKNOWN_ORGANISATION: Final = "Lokationsnummer {ean}"

#: PersonSurnameName is mandatory in XDIS91; MedCom's replacement-CPR test patients may lack a family name.
UNKNOWN_SURNAME: Final = "Ukendt"
