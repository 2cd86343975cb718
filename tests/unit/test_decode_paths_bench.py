"""The decode benchmark's rate when a streamed piece of text holds several tokens."""

import pytest

from eval.bench.decode_paths import _rate, _streamed_rate

pytestmark = pytest.mark.unit


def test_pieces_of_several_tokens_are_counted_by_their_share_of_the_text():
    # 4 pieces, 40 characters, 20 tokens: the 30 characters after the first piece are 15 tokens, over 1.5 s
    pieces = [(10.0, 10), (10.5, 10), (11.0, 10), (11.5, 10)]
    assert _streamed_rate(pieces, 20) == 10.0
    # counting pieces as tokens would say 2.0 tokens/s
    assert _rate([t for t, _ in pieces]) == 2.0


def test_one_token_per_piece_gives_the_per_delta_rate():
    pieces = [(float(i) / 20, 3) for i in range(21)]
    assert _streamed_rate(pieces, 21) == _rate([t for t, _ in pieces]) == 20.0


@pytest.mark.parametrize("pieces,tokens", [([], 10), ([(1.0, 5), (2.0, 5)], 10), ([(1.0, 5)] * 3, 10), ([(1.0, 5), (2.0, 5), (3.0, 5)], 0)])
def test_too_little_to_measure_is_no_rate(pieces, tokens):
    assert _streamed_rate(pieces, tokens) is None
