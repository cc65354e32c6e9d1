"""Masking secrets in messages replaces whole secret values and nothing else."""

from __future__ import annotations

from joliba.domain.masking import mask_secrets

MASK = "********"


def test_a_short_password_does_not_garble_words() -> None:
    # The review's example: the password "x" turned "exist" into "e********ist".
    assert mask_secrets("the file does not exist", ["x"]) == "the file does not exist"
    assert mask_secrets("password x was refused", ["x"]) == f"password {MASK} was refused"


def test_whole_values_are_masked_where_they_stand() -> None:
    message = "could not connect to postgresql://joliba:s3cr@db:5432/x (user joliba)"
    masked = mask_secrets(message, ["s3cr"])
    assert masked == f"could not connect to postgresql://joliba:{MASK}@db:5432/x (user joliba)"
    assert mask_secrets("pass=abc; passabc", ["abc"]) == f"pass={MASK}; passabc"


def test_long_secrets_are_masked_even_inside_longer_text() -> None:
    token = "d2pat_0123456789abcdef"
    assert mask_secrets(f"Authorization: ApiToken{token}xyz", [token]) == (
        f"Authorization: ApiToken{MASK}xyz"
    )


def test_url_encoded_forms_and_overlapping_secrets() -> None:
    assert mask_secrets("GET /x?p=p%40ss%21 failed", ["p@ss!"]) == f"GET /x?p={MASK} failed"
    # The longer secret is masked whole, not as a mask around the shorter one's remains.
    assert mask_secrets("key abcdefghij", ["abc", "abcdefghij"]) == f"key {MASK}"


def test_nothing_to_mask_and_masks_are_not_masked_again() -> None:
    assert mask_secrets("nothing here", ["", "absent"]) == "nothing here"
    assert mask_secrets("a * b", ["*"]) == f"a {MASK} b"
