"""Tokenization shared by BLEU and ROUGE.

Text holding any CJK ideograph (every CJK block, not only U+4E00..U+9FA5 as EvalScope tests)
is segmented with jieba, exactly as EvalScope does (`jieba.cut`, default mode, whitespace
pieces kept as tokens). Other text uses NLTK's Treebank word tokenizer, which needs no
NLTK data download: EvalScope's `word_tokenize` needs `punkt_tab`, raises LookupError
offline, and then records 0.0 for every English BLEU. jieba's dictionary loads once per process.

>>> bleu_tokens("The cat sat.")
['The', 'cat', 'sat', '.']
>>> bleu_tokens("北京是中国的首都")
['北京', '是', '中国', '的', '首都']
"""

from __future__ import annotations

import functools
import logging
import re
from typing import Any

__all__ = ["CJK_PATTERN", "bleu_tokens", "has_cjk", "jieba_tokens", "rouge_score_tokens"]

CJK_PATTERN = re.compile(
    "[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002a6df\U0002a700-\U0002ebef"
    "\U0002ebf0-\U0002ee5f\U0002f800-\U0002fa1f\U00030000-\U000323af]"
)
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def has_cjk(text: str) -> bool:
    """True when `text` holds a CJK ideograph from any CJK block.

    >>> has_cjk("abc"), has_cjk("x 中"), has_cjk("\U00020000")
    (False, True, True)
    """
    return CJK_PATTERN.search(text) is not None


@functools.cache
def _jieba() -> Any:
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


@functools.cache
def _treebank() -> Any:
    from nltk.tokenize import NLTKWordTokenizer

    return NLTKWordTokenizer()


def jieba_tokens(text: str) -> list[str]:
    """Jieba's default segmentation (`jieba.lcut`), whitespace pieces included as EvalScope keeps them."""
    return list(_jieba().lcut(text))


def bleu_tokens(text: str) -> list[str]:
    """Tokens for BLEU: jieba for text with CJK ideographs, Treebank otherwise."""
    if has_cjk(text):
        return jieba_tokens(text)
    return list(_treebank().tokenize(text))


def rouge_score_tokens(text: str) -> list[str]:
    """Google rouge-score's default tokenizer: lowercase, runs of [a-z0-9], no stemming.

    >>> rouge_score_tokens("The Cat sat on the mat.")
    ['the', 'cat', 'sat', 'on', 'the', 'mat']
    """
    return _NON_ALNUM.sub(" ", text.lower()).split()
