"""The sample of earlier text that `pretrain-text --update` rehearses."""

import json
import shutil

import numpy as np
from click.testing import CliRunner

from tests.conftest import topic_sentences
from tfxfer import config, pretrain_text
from tfxfer.cli import main
from tfxfer.text.replay import REPLAY_FILE, mix_in, sample_lines
from tfxfer.text.skipgram import SENTENCE_END
from tfxfer.text.vocab import Vocabulary

FAST = config.PretrainConfig(dim=16, window=3, epochs=2, batch_size=128, noise_group=64, min_count=1, sample=0,
                             learning_rate=0.025)


def _encoded(lines: list[list[int]]) -> np.ndarray:
    return np.concatenate([np.array([*line, SENTENCE_END], np.int32) for line in lines])


def _split(ids: np.ndarray) -> list[tuple[int, ...]]:
    ends = np.flatnonzero(ids == SENTENCE_END)
    return [tuple(part[:-1].tolist()) for part in np.split(ids, ends + 1)[:-1]]


def test_sample_keeps_whole_lines_within_its_cap(tmp_path):
    rng = np.random.default_rng(0)
    lines = [tuple(rng.integers(0, 50, rng.integers(1, 9)).tolist()) for _ in range(3000)]
    path = tmp_path / "corpus.ids"
    _encoded([list(line) for line in lines]).tofile(path)
    size = path.stat().st_size // 4
    everything = sample_lines(path, max_tokens=size + 1)
    assert _split(everything) == lines  # under the cap: every line, in order
    sample = sample_lines(path, max_tokens=size // 4)
    kept = _split(sample)
    assert 0.2 * size < len(sample) < 0.3 * size
    rest = iter(lines)
    assert all(any(line == other for other in rest) for line in kept)  # whole lines, in corpus order


def test_mix_in_keeps_the_new_text_in_order_and_adds_whole_earlier_lines(tmp_path):
    new = [[i, i + 1] for i in range(0, 2000, 2)]
    old = [[5000 + i] * 3 for i in range(400)]
    path = tmp_path / "corpus.ids"
    _encoded(new).tofile(path)
    added = mix_in(path, len(new), _encoded(old), ids=600, seed=3)
    mixed = _split(np.fromfile(path, np.int32))
    assert [line for line in mixed if line[0] < 5000] == [tuple(line) for line in new]
    replayed = [line for line in mixed if line[0] >= 5000]
    assert replayed == _split(added) and 150 <= len(replayed) <= 151  # 600 ids: 150 lines of 3 + an end each
    assert len(set(replayed)) == len(replayed)
    positions = [i for i, line in enumerate(mixed) if line[0] >= 5000]
    assert positions[0] < 0.1 * len(mixed) and positions[-1] > 0.9 * len(mixed)  # spread over the text


def test_update_rehearses_the_earlier_text(tmp_path):
    first = tmp_path / "first.txt"
    first.write_text("\n".join(topic_sentences(800, seed=1)) + "\n")
    pretrain_text(first, tmp_path / "v1", FAST)
    # The sample reloads as the first corpus's lines.
    vocab = Vocabulary.load_tsv(tmp_path / "v1" / "vocab.tsv")
    sample = _split(np.fromfile(tmp_path / "v1" / REPLAY_FILE, np.int32))
    texts = {" ".join(vocab.words[i] for i in line) for line in sample}
    assert len(sample) == 800 and texts <= {s.lower() for s in topic_sentences(800, seed=1)}

    second = tmp_path / "second.txt"
    second.write_text("\n".join(s.replace("cow", "llama") for s in topic_sentences(400, seed=2)) + "\n")
    args = ["pretrain-text", str(second), "--update", str(tmp_path / "v1"), "--epochs", "2"]
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "v2")])
    assert result.exit_code == 0, result.output
    corpus = json.loads((tmp_path / "v2" / "config.json").read_text())["corpus"]
    assert corpus["new_words"] == 1  # llama
    assert f"Updated from {tmp_path / 'v1'}: 1 new word, {corpus['replayed_words']:,} words (" in result.output
    share = corpus["replayed_words"] / corpus["in_vocab_words"]
    assert abs(share - config.UPDATE_REPLAY) < 0.05, corpus

    # An output from before replay samples still updates, on the new text alone, and says so.
    shutil.copytree(tmp_path / "v1", tmp_path / "old")
    (tmp_path / "old" / REPLAY_FILE).unlink()
    result = CliRunner().invoke(main, [*args[:3], str(tmp_path / "old"), *args[4:], "--out", str(tmp_path / "v3")])
    assert result.exit_code == 0, result.output
    assert "keeps no sample of its text (made by an older tfxfer)" in result.output
    assert "1 new word, no earlier text rehearsed." in result.output
    (tmp_path / "old" / REPLAY_FILE).write_bytes(b"abc")  # damaged: one warning that says so
    result = CliRunner().invoke(main, [*args[:3], str(tmp_path / "old"), *args[4:], "--out", str(tmp_path / "v4")])
    assert result.exit_code == 0 and "replay.ids is damaged or does not match its vocabulary" in result.output
    assert "keeps no sample" not in result.output
    assert "replayed_words" not in json.loads((tmp_path / "v3" / "config.json").read_text())["corpus"]
