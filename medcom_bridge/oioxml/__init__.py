"""Legacy OIOXML messages: XDIS91 (ClinicalEmail), XBIN01 (BinaryLetter), receipts XCTL01/02/03.

Pure codecs and validators (sans-I/O): bytes in, typed model out, and back. See `model.py` for the
model, `codec.py` for parse/serialize, `validation.py` for the rules and `receipts.py` for receipt builders.
"""
