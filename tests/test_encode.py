"""Reading a corpus for pretraining: counting within memory, and what the counts tell of the text."""

import dataclasses
import re

import numpy as np

from tests.test_pretrain import FAST
from tfxfer import config, pretrain_text


def test_text_without_spaces_between_words_gets_a_warning(tmp_path, caplog):
    corpus = tmp_path / "zh.txt"
    corpus.write_text("我喜欢这部电影，非常好看。\n他们明天去北京，我们也去。\n" * 20, encoding="utf-8")
    pretrain_text(corpus, tmp_path / "out", dataclasses.replace(FAST, negatives=2))
    assert "50% of the corpus's tokens are Chinese or Japanese, written without spaces" in caplog.text
    assert "jieba" in caplog.text


def test_counting_drops_the_rarest_tokens_when_its_table_is_full(tmp_path, monkeypatch, caplog):
    # Each distinct token costs ~210 bytes until --min-count applies, and a web crawl has tens of
    # millions (numbers, URLs, typos). Past config.COUNT_MAX_DISTINCT the rarest are dropped, as word2vec does.
    from tfxfer.text import encode
    from tfxfer.text.vocab import Vocabulary

    rng = np.random.default_rng(0)
    common = [f"w{i}" for i in range(20)]
    lines = [" ".join([*rng.choice(common, 8), *(f"typo{n}{c}" for c in "abcdefghijklmnop")]) for n in range(5000)]
    def make_vocab(counter, dropped):
        return Vocabulary.from_counter(counter, min_count=5)

    whole = encode.encode_corpus(lines, tmp_path / "whole.ids", make_vocab)
    monkeypatch.setattr(config, "COUNT_MAX_DISTINCT", 1000)
    monkeypatch.setattr(config, "TOKENIZE_BATCH_LINES", 256)
    sizes, prune = [], encode._Pruning.prune

    def counted_prune(self, ids, counts, *args):
        sizes.append((len(ids), len(counts)))
        return prune(self, ids, counts, *args)

    monkeypatch.setattr(encode._Pruning, "prune", counted_prune)
    pruned = encode.encode_corpus(lines, tmp_path / "pruned.ids", make_vocab)
    assert len(sizes) >= 5 and max(n for n, _ in sizes) <= 1000 + 16 * 256 + 20  # a batch's new tokens past the limit
    # The counts stay as small as the table: they grew with every token ever seen (80,000 typos here).
    assert max(n for _, n in sizes) <= 1 << 16
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pruned.ids", "whole.ids"]  # nothing left on the way
    assert pruned.vocab.words == whole.vocab.words and pruned.vocab.counts.tolist() == whole.vocab.counts.tolist()
    assert (np.fromfile(tmp_path / "pruned.ids", np.int32) == np.fromfile(tmp_path / "whole.ids", np.int32)).all()
    assert "more than 1,000 distinct tokens" in caplog.text and "as word2vec does" in caplog.text
    assert re.search(r"[0-9,]+ seen at most [0-9]+ times? when the table filled were dropped", caplog.text)


def test_a_corpus_without_spaces_is_named_when_counting_drops_its_clauses(tmp_path, monkeypatch, caplog):
    # Unsegmented Chinese is mostly clauses seen once, the first tokens pruning drops: a warning that
    # read only the counts kept would miss it on the large corpora that prune, and train on clauses.
    rng = np.random.default_rng(0)
    hanzi = [chr(c) for c in range(0x4E00, 0x4E00 + 500)]
    common = [f"w{i}" for i in range(30)]
    corpus = tmp_path / "zh.txt"
    corpus.write_text("".join(" ".join(rng.choice(common, 4)) + " " + "，".join("".join(rng.choice(hanzi, 6))
                                                                            for _ in range(4)) + "。\n"
                              for _ in range(3000)), encoding="utf-8")
    monkeypatch.setattr(config, "COUNT_MAX_DISTINCT", 1000)
    monkeypatch.setattr(config, "TOKENIZE_BATCH_LINES", 256)
    pretrain_text(corpus, tmp_path / "out", dataclasses.replace(FAST, epochs=1, min_count=2))
    assert "distinct tokens" in caplog.text  # it did prune
    found = re.search(r"([0-9]+)% of the corpus's tokens are Chinese or Japanese, written without spaces", caplog.text)
    assert found and 30 <= int(found.group(1)) <= 36  # 4 clauses of 12 tokens a line


def test_each_epoch_reads_the_lines_in_a_random_order_within_bounded_chunks(tmp_path):
    # A corpus of general text followed by a data set's own, read in order, fed every batch one source and
    # the last steps of each epoch only the second: vectors 3 - 8 points worse for fit-head (config.SHUFFLE_BLOCKS).
    from tfxfer.text.encode import shuffled_chunks
    from tfxfer.text.skipgram import SENTENCE_END

    rng = np.random.default_rng(0)
    lines = [rng.integers(0, 500, rng.integers(1, 30)) for _ in range(4000)]
    lines += [rng.integers(500, 1000, rng.integers(1, 30)) for _ in range(4000)]  # the second source
    ids = np.concatenate([np.append(line, SENTENCE_END) for line in lines]).astype(np.int32)
    ids.tofile(tmp_path / "corpus.ids")

    def epoch(seed):
        return list(shuffled_chunks(tmp_path / "corpus.ids", np.random.default_rng(seed), chunk_tokens=20_000))

    chunks = epoch(1)
    assert all(len(c) < 2 * 20_000 and c[-1] == SENTENCE_END for c in chunks)  # memory bounded by the chunk

    def split(a):
        return [tuple(x) for x in np.split(a, np.flatnonzero(a == SENTENCE_END) + 1) if len(x)]

    read = split(np.concatenate(chunks))
    assert sorted(read) == sorted(map(tuple, split(ids)))  # every line once, whole
    # Both sources in every chunk, each in about its share: no batch is one source's.
    second = [np.mean([line[0] >= 500 for line in split(c) if len(line) > 1]) for c in chunks]
    assert all(0.3 < share < 0.7 for share in second[:-1]), second
    assert [len(c) for c in epoch(1)] == [len(c) for c in chunks] and not np.array_equal(epoch(2)[0], chunks[0])
