"""Activation codes: typable, grouped, random, hashed under the secret key."""

import re

from core.accounts import codes

SHAPE = re.compile(r"^[A-Z2-9]{4}-[A-Z2-9]{4}-[A-Z2-9]{2}$")


def test_codes_are_grouped_from_an_alphabet_without_look_alikes():
    issued = {codes.new_code() for _ in range(500)}
    assert len(issued) == 500
    for code in issued:
        assert SHAPE.match(code)
        assert not set(code) & set("01OILU")
        assert set(code.replace("-", "")) <= set(codes.ALPHABET)


def test_typing_variants_hash_alike():
    code = "ABCD-EFGH-JK"
    digest = codes.digest(code)
    for typed in ["abcd-efgh-jk", "ABCDEFGHJK", " abcd efgh jk ", "AB-CD EF-GH JK"]:
        assert codes.digest(typed) == digest
    assert codes.digest("ABCD-EFGH-JM") != digest


def test_digest_hides_the_code_and_depends_on_the_secret_key(settings):
    digest = codes.digest("ABCD-EFGH-JK")
    assert len(digest) == 64 and "ABCD" not in digest.upper()
    settings.SECRET_KEY = "another-secret"
    assert codes.digest("ABCD-EFGH-JK") != digest
