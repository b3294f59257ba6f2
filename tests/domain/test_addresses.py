import pytest

from service.domain.addresses import canonical_address, canonical_or_none, masked_address, _full_canonical
from service.domain.errors import InvalidAddress


@pytest.mark.parametrize(
    "given, expected",
    [
        ("jan@example.be", "jan@example.be"),
        ("  Jan.Peeters@Example.BE\t", "jan.peeters@example.be"),
        ("Jan+News@CETIT.be", "jan+news@cetit.be"),
        ("j.a.n@gmail.com", "j.a.n@gmail.com"),
        ("info@bücher.be", "info@xn--bcher-kva.be"),
        ("info@XN--BCHER-KVA.be", "info@xn--bcher-kva.be"),
        ("Zoë@café.fr", "zoë@xn--caf-dma.fr"),
    ],
)
def test_canonical_form_trims_lowercases_and_encodes_the_domain(given, expected):
    assert canonical_address(given) == expected


@pytest.mark.parametrize(
    "given",
    ["", "   ", "nope", "a@b", "@example.be", "jan@", "jan@@example.be", "a..b@example.be",
     "jan@-example.be", "jan@example..be", "jan example@example.be", "jan@localhost",
     "x" * 65 + "@example.be", "jan@" + "a" * 250 + ".be", None, 42, ["a@b.be"]],
)
def test_invalid_addresses_are_reported_never_dropped(given):
    with pytest.raises(InvalidAddress):
        canonical_address(given)
    assert canonical_or_none(given) is None


@pytest.mark.parametrize(
    "given",
    ["a@example.be", "first.last+tag@sub.example.co.uk", "o'neil@example.ie", "x_y-z@ex-ample.be",
     "UPPER@EXAMPLE.COM", "a!#$%&*/=?^`{|}~@example.org"],
)
def test_fast_path_agrees_with_the_full_validator(given):
    assert canonical_address(given) == _full_canonical(given)


def test_masked_address_keeps_first_letter_and_domain():
    assert masked_address("jan@example.be") == "j…@example.be"


def test_the_batch_path_agrees_with_one_address_at_a_time():
    import random

    from service.domain.addresses import BATCH, canonical_batch

    tricky = ["a@example.be", " B.C+d@Example.BE ", "nope", "x@localhost.test", "a--b@example.be",
              "info@bücher.be", "x@xn--bcher-kva.be", "a@b", "two\nlines@example.be", None, 7,
              "x" * 64 + "@example.be", "x" * 65 + "@example.be", "a@" + "b" * 63 + ".be", "a@b.local",
              "a@b.localhost", "a..b@example.be", ".a@example.be", "a.@example.be", "a@-b.be", "a@b-.be",
              "a@b.c0m", "a@b.1com", "", "  ", "a@" + ".".join(["abcdefghij"] * 24) + ".be"]
    rng = random.Random(5)
    items = [rng.choice(tricky) for _ in range(3 * BATCH)] + ["plain.person@example.be"] * BATCH
    assert canonical_batch(items) == [canonical_or_none(item) for item in items]
    for item in tricky:
        assert canonical_batch([item] * 3) == [canonical_or_none(item)] * 3, item
