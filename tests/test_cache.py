"""`tfxfer cache`: what the cache holds, named by what it was made from, and clearing it safely."""

import json
import os
import shutil
import subprocess

import numpy as np
import pytest

from tests.conftest import cli_error, run_cli
from tfxfer.cache_dir import cache_usage, clear_cache, default_cache_dir
from tfxfer.data.columnar import unpacked_folder
from tfxfer.data.image_files import load_image_list
from tfxfer.errors import ConfigError
from tfxfer.features.extract import extract_image_features
from tfxfer.features.load import load_features


@pytest.fixture
def filled_cache(tiny_image_module, image_folder, tmp_path, monkeypatch):
    """A cache holding features of two image sizes, a module made from word vectors, unpacked images,
    and things tfxfer did not write."""
    root = tmp_path / "cache"
    monkeypatch.setenv("TFXFER_CACHE_DIR", str(root))
    paths, labels = load_image_list(image_folder)
    for size in (16, 20):
        extract_image_features(load_features(tiny_image_module, image_size=size), paths, labels)
    vectors = tmp_path / "glove.txt"
    vectors.write_text("".join(f"w{i} {i} 1 0\n" for i in range(5)))
    load_features(vectors)
    table = tmp_path / "train.parquet"
    table.write_bytes(b"not read")
    unpacked = unpacked_folder(table)
    unpacked.mkdir(parents=True)
    (unpacked / "000000.jpg").write_bytes(b"x" * 1000)
    (root / "features" / "notes").mkdir()  # someone's own folder in a cache dir they chose
    (root / "mine.txt").write_text("keep me")
    return root, tiny_image_module, vectors, paths, labels


def test_cache_lists_each_folder_by_what_it_was_made_from(filled_cache):
    root, module, vectors, paths, _ = filled_cache
    usage = cache_usage()
    assert usage.root == root and [e.part for e in usage.entries] == ["features"] * 2 + ["modules", "images"]
    features = usage.part("features")
    assert {e.source for e in features} == {f"{module} at 16x16 px", f"{module} at 20x20 px"}
    assert all(e.files == len(paths) + 1 for e in features)  # a vector per image, and what they are of
    assert usage.part("modules")[0].source == str(vectors.resolve())
    assert (usage.part("images")[0].source, usage.part("images")[0].size) == ("train.parquet", 1000)
    assert usage.size == sum(e.size for e in usage.entries) > 1000
    result = run_cli(["cache"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"Cache: {root}"
    assert lines[1].startswith("features: ") and f"in {2 * len(paths) + 2} files" in lines[1]
    assert any(line.endswith(tuple(f"{module} at 20x20 px ({e.path.name})" for e in features)) for line in lines)
    assert lines[-1].startswith("Total ") and lines[-1].endswith("; tfxfer cache --clear deletes it.")
    # The memo of file hashes is readable as the vectors are (a cache shared by a team), not 0600.
    entry = next(features[0].path.rglob("*.npy"))
    assert (root / "features" / "file-hashes.json").stat().st_mode & 0o777 == entry.stat().st_mode & 0o777
    listed = json.loads(run_cli(["cache", "--json"]).output)
    assert listed["size"] == usage.size and len(listed["entries"]) == 4


def test_clearing_deletes_only_what_tfxfer_made_and_it_is_made_again(filled_cache):
    root, module, vectors, paths, labels = filled_cache
    result = run_cli(["cache", "--clear", "--part", "features"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1].startswith("Deleted ")
    assert [e.part for e in cache_usage().entries] == ["modules", "images"]
    assert (root / "features" / "notes").is_dir() and (root / "mine.txt").read_text() == "keep me"
    assert not list((root / "features").glob(".*"))  # nothing half-deleted left behind
    again = extract_image_features(load_features(module, image_size=16), paths, labels)
    assert (again.extracted, again.cached) == (len(paths), 0)
    assert np.isfinite(again.features).all()
    deleted = clear_cache()
    assert [e.part for e in deleted.entries] == ["features", "modules", "images"]
    assert cache_usage().entries == [] and (root / "mine.txt").is_file()
    assert load_features(vectors).output_dim == 3  # the module is made again from its file


def test_tfhub_downloads_are_listed_and_a_users_own_tfhub_cache_is_cleared_only_when_asked(filled_cache, tmp_path,
                                                                                           monkeypatch):
    # tfxfer's TF-Hub downloads are a part of its cache; where the user set TFHUB_CACHE_DIR (shared with their
    # notebooks), a plain --clear keeps it and says how to delete it.
    import hashlib

    root, module, *_ = filled_cache
    monkeypatch.delenv("TFHUB_CACHE_DIR", raising=False)
    handle = "https://tfhub.dev/google/tiny/1"
    for hub in (root / "tfhub_modules", tmp_path / "users-hub"):
        shutil.copytree(module, hub / hashlib.sha1(handle.encode()).hexdigest())
        (hub / f"{hashlib.sha1(handle.encode()).hexdigest()}.descriptor.txt").write_text(f"Module: {handle}\n")
    listed = run_cli(["cache", "--part", "tfhub"])
    assert listed.exit_code == 0 and f"  {handle} (" in listed.output, listed.output
    run_cli(["cache", "--clear"])
    assert not list((root / "tfhub_modules").iterdir())  # its own: deleted with the rest
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "users-hub"))
    kept = run_cli(["cache", "--clear"])
    assert kept.exit_code == 0 and len(list((tmp_path / "users-hub").iterdir())) == 2, kept.output
    assert f"Kept the TF-Hub downloads in $TFHUB_CACHE_DIR ({tmp_path / 'users-hub'})" in kept.output
    run_cli(["cache", "--clear", "--part", "tfhub"])
    assert not list((tmp_path / "users-hub").iterdir())


def test_a_feature_cache_given_as_cache_dir_is_its_own_root(tiny_image_module, image_folder, tmp_path, monkeypatch):
    monkeypatch.setenv("TFXFER_CACHE_DIR", str(tmp_path / "default"))
    paths, labels = load_image_list(image_folder)
    extract_image_features(load_features(tiny_image_module, image_size=16), paths, labels,
                           cache_dir=tmp_path / "mine")
    assert cache_usage().entries == []
    result = run_cli(["cache", "--cache-dir", tmp_path / "mine", "--clear"])
    assert result.exit_code == 0, result.output
    assert f"(features: {tmp_path / 'mine'})" in result.output.splitlines()[0]
    assert not (tmp_path / "mine" / "file-hashes.json").exists()
    assert cache_usage(features_dir=tmp_path / "mine").entries == []
    assert "Invalid value for '--part'" in run_cli(["cache", "--part", "everything"]).output
    with pytest.raises(ConfigError, match=r"Unknown cache part 'everything'\. Choose from features, modules, images, "
                                          r"tfhub\."):
        clear_cache(parts=("everything",))


def test_a_cache_that_cannot_be_cleared_says_so(filled_cache):
    modules = filled_cache[0] / "modules"
    # A folder nobody may change, root included (chattr +i for root, chmod otherwise).
    if os.geteuid() == 0:
        if not shutil.which("chattr") or subprocess.run(["chattr", "+i", modules], capture_output=True,
                                                            check=False).returncode:
            pytest.skip("running as root and chattr +i is not available")
        undo = ["chattr", "-i", modules]
    else:
        modules.chmod(0o555)
        undo = ["chmod", "755", modules]
    try:
        error = cli_error(["cache", "--clear", "--part", "modules"])
    finally:
        subprocess.run(undo, check=False)
    assert error.startswith(f"Error: Cannot delete '{modules}/vectors-") and "Delete it yourself" in error
    assert len(cache_usage().part("modules")) == 1


def test_what_was_made_from_a_module_or_file_since_deleted_is_marked_and_cleared_alone(filled_cache, tmp_path):
    # Each deleted module (a test's temporary one, an old download) left its features in the cache for good.
    root, _, vectors, paths, labels = filled_cache
    from tests.conftest import save_tiny_image_module

    other = save_tiny_image_module(tmp_path / "other", wants_255=True)  # another module, another folder
    extract_image_features(load_features(other, image_size=16), paths, labels)
    shutil.rmtree(other)
    vectors.unlink()
    gone = {e.path.name for e in cache_usage().entries if e.gone}
    assert len(gone) == 2 and {e.source for e in cache_usage().entries if e.gone} == {
        f"{other} at 16x16 px", str(vectors.resolve())}
    lines = run_cli(["cache"]).output.splitlines()
    assert sum(line.endswith(", gone)") for line in lines) == 2
    assert lines[-1].endswith("(2 marked gone) was made from modules or files that no longer exist: tfxfer cache "
                              "--clear --gone deletes that alone.")
    assert "--gone chooses what --clear deletes" in run_cli(["cache", "--gone"]).output
    result = run_cli(["cache", "--clear", "--gone"])
    assert result.exit_code == 0, result.output
    left = cache_usage().entries
    assert len(left) == 3 and not {e.path.name for e in left} & gone and not any(e.gone for e in left)
    assert (root / "features" / "file-hashes.json").is_file()  # the memo of the photos, which remain


def test_without_a_home_folder_the_cache_is_in_the_temporary_folder(tiny_image_module, image_folder, tmp_path,
                                                                     monkeypatch):
    # HOME unset and a user id with no passwd entry (a container run with --user): Path.home() raises,
    # which was a traceback from `tfxfer cache` and from every image command. Path.home stands in for that user.
    import tempfile
    from pathlib import Path

    def no_home(cls):
        raise RuntimeError("Could not determine home directory.")

    for name in ("HOME", "XDG_CACHE_HOME", "TFXFER_CACHE_DIR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setattr(Path, "home", classmethod(no_home))
    root = default_cache_dir()
    assert root == tmp_path / "tmp" / f"tfxfer-cache-{os.getuid()}"
    paths, labels = load_image_list(image_folder)
    extract_image_features(load_features(tiny_image_module, image_size=16), paths, labels)
    assert cache_usage().size > 0 and (root / "features").is_dir()
    result = run_cli(["cache"])
    assert result.exit_code == 0 and "features:" in result.output, result.output
