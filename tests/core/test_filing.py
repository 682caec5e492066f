"""The filing rule: file only when identifiers agree; every doubt goes to review with a reason
that names what was read and the candidate patient(s).

The rule is pure: patients come from a register the caller injects (here, a list in memory).
"""

import datetime as dt
from types import SimpleNamespace

import pytest

from core.ingest.extract import extract
from core.ingest.filing import Reading, Rules, check_digit_ok, decide, mrn_near
from core.ingest.separators import Separator


class Register:
    def __init__(self):
        self.people = []

    def add(self, mrn, last_name, first_name, dob):
        patient = SimpleNamespace(mrn=mrn, last_name=last_name, first_name=first_name, dob=dob)
        self.people.append(patient)
        return patient

    def by_mrn(self, mrn):
        return next((p for p in self.people if p.mrn == mrn), None)

    def by_dobs(self, dobs):
        return [p for p in self.people if p.dob in dobs]

    def index(self):
        return [(i, p.mrn, p.last_name, p.first_name) for i, p in enumerate(self.people)]

    def by_ids(self, ids):
        return [self.people[i] for i in ids]


@pytest.fixture
def register():
    return Register()


@pytest.fixture
def smith(register):
    return register.add("00123456", "Smith", "John", dt.date(1975, 3, 14))


def run(register, text, separator=None, words=None, rules=Rules(), **reading):
    return decide(Reading(extract(text, rules.order, words=words), separator, **reading), register, rules)


def low(text, *spans):
    """OCR words for `text`: every word read at 95, those starting at `spans` at 40."""
    words, offset = [], 0
    for word in text.split():
        start = text.index(word, offset)
        words.append((start, start + len(word), 40 if any(s == start for s in spans) else 95, 0, 0, 1, 1))
        offset = start + len(word)
    return words


def test_files_when_mrn_name_and_dob_agree(register, smith):
    decision = run(register, "MRN: 00123456\nPatient Name: SMITH, John\nDOB: 14/03/1975")
    assert decision.status == "filed" and decision.patient is smith
    assert "confirmed by name Smith, John (labelled 'Patient Name')" in decision.notes[0]


def test_files_with_mrn_and_one_agreeing_identifier(register, smith):
    assert run(register, "MRN: 00123456\nName: John Smith").status == "filed"
    assert run(register, "MRN: 00123456\nDate of Birth: 1975-03-14").status == "filed"


@pytest.mark.parametrize(
    "text,reason",
    [
        ("MRN: 00123456", "but no name and date of birth on the document confirms it"),
        ("MRN: 00123456\nName: Jane Smith", "name Smith, Jane (labelled 'Name') does not match the record"),
        ("MRN: 00123456\nName: John Smith\nDOB: 15/03/1975", "date of birth 1975-03-15 (labelled 'DOB') does not"),
        ("Name: John Smith\nDOB: 14/03/1975", "no MRN found; read: name Smith, John; date of birth 1975-03-14"),
        ("MRN: 00123456\nPatient ID: 999999\nName: John Smith", "conflicting MRNs"),
        ("MRN: 00123456\nName: John Smith\nPatient: Jim Smith", "name Smith, Jim (labelled 'Patient') does not"),
        ("Nothing useful here", "no MRN found; nothing identifying was read"),
    ],
)
def test_doubt_goes_to_review_with_the_reason(register, smith, text, reason):
    decision = run(register, text)
    assert decision.status == "needs_review"
    assert reason in decision.reason
    assert decision.patient is None and decision.new_patient is None


def test_a_review_names_the_candidate_patient(register, smith):
    decision = run(register, "MRN: 00123456")
    assert decision.candidates == [smith]
    assert "candidate patient(s): Smith, John (MRN 00123456, born 1975-03-14)" in decision.reason
    assert decision.read["mrns"] == [{"value": "00123456", "how": "labelled 'MRN'"}]


def test_new_mrn_creates_patient_only_with_name_and_dob_when_allowed(register):
    decision = run(register, "MRN: 777\nName: DOE, Jane\nDOB: 1980-01-02")
    assert decision.status == "filed"
    assert decision.new_patient == {"mrn": "777", "last_name": "Doe", "first_name": "Jane", "dob": dt.date(1980, 1, 2)}
    missing = run(register, "MRN: 777\nName: DOE, Jane")
    assert missing.status == "needs_review" and "no clear date of birth" in missing.reason
    never = run(register, "MRN: 777\nName: DOE, Jane\nDOB: 1980-01-02", rules=Rules(new_patients="never"))
    assert never.status == "needs_review" and "not on the patient register" in never.reason


def test_new_mrn_for_a_known_name_and_dob_is_suspicious(register, smith):
    decision = run(register, "MRN: 99887766\nName: SMITH, John\nDOB: 14/03/1975")
    assert decision.status == "needs_review" and decision.candidates == [smith]


def test_cover_sheet_mrn_assigns_unless_the_page_contradicts(register, smith):
    sheet = Separator(mrn="00123456", payload="MRN:00123456")
    assert run(register, "Progress note, no identifiers", sheet).status == "filed"
    clash = run(register, "MRN: 55555\nName: John Smith", sheet)
    assert clash.status == "needs_review" and "conflicting MRNs" in clash.reason
    assert run(register, "Name: Jane Smith", sheet).status == "needs_review"


def test_name_comparison_ignores_case_and_accents(register):
    register.add("4242", "Müller", "Zoë", dt.date(1990, 5, 6))
    assert run(register, "MRN: 4242\nName: MULLER, Zoe").status == "filed"


@pytest.mark.parametrize(
    "reading,reason",
    [
        ({"page_problems": ("page 2: OCR timed out",)}, "page 2: OCR timed out"),
        ({"has_text": False}, "no text could be read from the document"),
    ],
)
def test_an_unreadable_page_or_no_text_sends_even_agreeing_identifiers_to_review(register, smith, reading, reason):
    decision = run(register, "MRN: 00123456\nPatient Name: SMITH, John\nDOB: 14/03/1975", **reading)
    assert decision.status == "needs_review" and reason in decision.reason
    assert decision.patient is None and decision.new_patient is None


# -- the fax that made a phantom patient, and its relatives ----------------------------------------


def test_three_misread_identifiers_never_make_a_phantom_patient(register):
    allen = register.add("29701664", "Allen", "Mary", dt.date(1961, 11, 23))
    text = "MRN: 29701684\nPatient Name: ALLEN, Marv\nDate of Birth: 28/11/1961"
    decision = run(register, text)
    assert decision.status == "needs_review" and decision.new_patient is None
    assert decision.candidates == [allen] and "one character away" in decision.reason
    empty = Register()
    unsure = run(empty, text, words=low(text, 5, 27, 50))
    assert unsure.status == "needs_review" and "low OCR confidence" in unsure.reason


def test_an_uncertain_identifier_confirms_but_never_contradicts_or_creates(register, smith):
    text = "MRN: 00123456\nName: John Smith\nDOB: 15/03/1975"
    assert run(register, text, words=low(text, text.index("15/03"))).status == "filed"
    assert run(register, text).status == "needs_review"
    new = "MRN: 555\nName: DOE, Jane\nDOB: 1980-01-02"
    assert run(register, new, words=low(new, 5)).status == "needs_review"


def test_confusable_mrn_readings_are_one_candidate(register):
    allen = register.add("29701664", "Allen", "Mary", dt.date(1961, 11, 23))
    text = "MRN: 29701G64\nName: Mary Allen\nDOB: 23/11/1961\nHosp No: 29701664"
    decision = run(register, text)
    assert decision.status == "filed" and decision.patient is allen
    folded_only = run(register, "MRN: 29701G64\nName: Mary Allen\nDOB: 23/11/1961")
    assert folded_only.status == "filed" and "letter/digit confusions" in folded_only.notes[0]
    unique = run(register, "MRN: 29701G64\nName: Mary Allen")
    assert unique.status == "filed" and "no other patient on the register has this name" in unique.notes[0]
    register.add("55550000", "Allen", "Mary", dt.date(1970, 1, 1))
    shared = run(register, "MRN: 29701G64\nName: Mary Allen")
    assert shared.status == "needs_review" and "must both confirm" in shared.reason


def test_an_ocr_error_in_a_name_still_confirms(register):
    allen = register.add("29701664", "Allen", "Mary", dt.date(1961, 11, 23))
    assert run(register, "MRN: 29701664\nName: ALIEN, Mary").patient is allen


def test_the_record_confirms_from_anywhere_in_the_text(register, smith):
    decision = run(register, "MRN 00123456\nDear colleague, I saw john smith today, born 14 March 1975.")
    assert decision.status == "filed" and "(found in the text)" in decision.notes[0]


def test_same_name_patients_one_digit_apart_need_the_date_of_birth(register, smith):
    twin = register.add("00123457", "Smith", "John", dt.date(1982, 7, 9))
    only_name = run(register, "MRN: 00123457\nName: John Smith")
    assert only_name.status == "needs_review" and set(map(id, only_name.candidates)) == {id(twin), id(smith)}
    assert run(register, "MRN: 00123457\nName: John Smith\nDOB: 09/07/1982").patient is twin


def test_a_new_near_twin_name_and_date_of_birth_goes_to_review(register):
    david = register.add("80455120", "Williams", "David", dt.date(2001, 2, 28))
    decision = run(register, "MRN: 11112222\nName: Williams, Davina\nDOB: 2001-02-28")
    assert decision.status == "needs_review" and decision.candidates == [david]
    swapped = run(register, "MRN: 11112222\nName: Williams, David\nDOB: 2001-02-18")
    assert swapped.status == "needs_review"


def test_a_check_digit_rejects_a_misread_mrn(register):
    assert check_digit_ok("79927398713", "luhn") and not check_digit_ok("79927398710", "luhn")
    assert check_digit_ok("9434765919", "mod11") and not check_digit_ok("9434765918", "mod11")
    decision = run(register, "MRN: 79927398710\nName: DOE, Jane\nDOB: 1980-01-02", rules=Rules(mrn_check="luhn"))
    assert decision.status == "needs_review" and "no MRN found" in decision.reason


def test_near_mrns():
    assert mrn_near("29701664", "29701G64") and mrn_near("40012345", "40012354") and mrn_near("123", "1234")
    assert not mrn_near("29701664", "29701664") and not mrn_near("40012345", "40013354x")
