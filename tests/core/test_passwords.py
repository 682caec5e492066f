"""The one password policy of box and hub: long enough, and not easy to guess (zxcvbn, offline)."""

import pytest

from core.passwords import MIN_LENGTH, password_problem


@pytest.mark.parametrize(
    "password",
    ["Password123!", "qwertyuiop1", "1234567890", "letmein2024", "iloveyou12345", "DigiFort2024!"],
)
def test_common_and_guessable_passwords_are_refused(password):
    assert "too easy to guess" in password_problem(password)


def test_a_password_made_of_the_users_own_name_is_refused_though_it_looks_long():
    assert password_problem("jane.doe.2024", ["jane.doe@clinic.example"]) is not None
    # strong enough for anyone else, but not for the user called pelicanbrass
    assert password_problem("pelicanbrass9") is None
    assert password_problem("pelicanbrass9", ["pelicanbrass@clinic.example"]) is not None


def test_short_and_overlong_passwords_are_refused_with_the_rule():
    assert MIN_LENGTH == 10
    assert password_problem("xK9#vq2!") == "password must be at least 10 characters"
    assert password_problem("a" * 201).startswith("password must be at most")


@pytest.mark.parametrize("password", ["correct horse battery staple", "otter-violin-cobalt", "Tr0ub4dor&3x-9"])
def test_passphrases_and_random_passwords_are_accepted(password):
    assert password_problem(password, ["alice"]) is None


def test_the_answer_says_what_to_do():
    assert password_problem("Password123!").endswith("try a few uncommon words")
