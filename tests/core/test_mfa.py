"""TOTP codes (RFC 6238), the enrolment QR code, recovery codes and the sealed secret."""

import base64
import io

import pyotp
import zxingcpp
from PIL import Image

from core import mfa

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
NOW = 1_700_000_000.0


def code_at(seconds: float) -> str:
    return pyotp.TOTP(SECRET).at(seconds)


def test_the_current_code_and_its_neighbours_are_accepted_once_each_and_no_others():
    step = mfa.current_step(NOW)
    assert mfa.matching_step(SECRET, code_at(NOW), None, now=NOW) == step
    assert mfa.matching_step(SECRET, code_at(NOW - 30), None, now=NOW) == step - 1
    assert mfa.matching_step(SECRET, code_at(NOW + 30), None, now=NOW) == step + 1
    assert mfa.matching_step(SECRET, code_at(NOW - 90), None, now=NOW) is None
    # a code already used (its step, or an older one) is refused: no replay
    assert mfa.matching_step(SECRET, code_at(NOW), step, now=NOW) is None
    assert mfa.matching_step(SECRET, code_at(NOW + 30), step, now=NOW) == step + 1


def test_codes_that_are_not_six_digits_are_refused():
    for wrong in ("", "12345", "1234567", "abcdef", "12 34 5x"):
        assert mfa.matching_step(SECRET, wrong, None, now=NOW) is None
    spaced = code_at(NOW)[:3] + " " + code_at(NOW)[3:]
    assert mfa.matching_step(SECRET, spaced, None, now=NOW) is not None


def test_the_qr_code_is_a_local_png_that_decodes_to_the_provisioning_address():
    uri = mfa.provisioning_uri(SECRET, "alice", "DigiFort box")
    data_uri = mfa.qr_data_uri(uri)
    assert data_uri.startswith("data:image/png;base64,")
    image = Image.open(io.BytesIO(base64.b64decode(data_uri.split(",", 1)[1])))
    (decoded,) = zxingcpp.read_barcodes(image)
    assert decoded.text == uri
    assert pyotp.parse_uri(decoded.text).secret == SECRET


def test_recovery_codes_are_random_hashed_and_match_however_typed():
    codes = mfa.new_recovery_codes()
    assert len(codes) == len(set(codes)) == 10
    stored = mfa.hash_recovery_code(codes[0])
    assert codes[0] not in stored and stored.startswith("$argon2")
    assert mfa.recovery_code_matches(stored, codes[0].upper().replace("-", " "))
    assert not mfa.recovery_code_matches(stored, codes[1])


def test_the_sealed_secret_needs_the_apps_key():
    sealed = mfa.seal(SECRET, "the app's key")
    assert SECRET not in sealed
    assert mfa.unseal(sealed, "the app's key") == SECRET
    assert mfa.unseal(sealed, "another key") is None
