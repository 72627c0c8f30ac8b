"""TF-Hub handles: as users copy them, read from tensorflow_hub's cache, and downloaded over loopback as
tfhub.dev and Kaggle serve them (HTTP, and HTTPS behind a proxy that re-signs it)."""

import contextlib
import functools
import hashlib
import http.server
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from tfxfer.cli import main
from tfxfer.errors import DataError, TfxferError
from tfxfer.features.load import load_features


@contextlib.contextmanager
def serving(module: Path, tmp_path: Path, context=None):
    """`module` as a .tar.gz served over loopback, as tfhub.dev serves one (HTTPS with an SSL `context`);
    yields the server's address, and shuts it when the block ends."""
    served = tmp_path / "served"
    served.mkdir()
    with tarfile.open(served / "tiny.tar.gz", "w:gz") as tar:
        tar.add(module, arcname=".")
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served)))
    if context:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"{'https' if context else 'http'}://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def embed(images: Path, handle: str, out: Path, env: dict, timeout: int = 300) -> subprocess.CompletedProcess:
    """`tfxfer embed` of `images` with the module at `handle`, in a process of its own."""
    return subprocess.run([sys.executable, "-m", "tfxfer", "embed", str(images), "--features", handle, "--out",
                           str(out), "--overwrite"], capture_output=True, text=True, env=env, timeout=timeout,
                          check=False)


def test_hub_handles_load_from_the_tfhub_cache(tiny_image_module, tmp_path, monkeypatch):
    # tensorflow_hub caches a handle under sha1(handle); a cached handle loads offline.
    handle = "https://tfhub.dev/tfxfer-tests/tiny/1"
    hub_cache = tmp_path / "hub"
    shutil.copytree(tiny_image_module, hub_cache / hashlib.sha1(handle.encode()).hexdigest())
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(hub_cache))
    module = load_features(handle)
    assert module.output_dim == 11 and str(module.path).startswith(str(hub_cache))
    # The handle as users copy it: the address without https:// (tensorflow_hub read it as a local path),
    # and kagglehub's OWNER/MODEL/FRAMEWORK/VARIATION/VERSION from a Kaggle model page.
    assert load_features("tfhub.dev/tfxfer-tests/tiny/1").path == module.path
    # ... and as its page's address (a trailing /) or its download link: one cached copy, not three downloads.
    for copied in (f"{handle}/", f"{handle}?tf-hub-format=compressed"):
        assert load_features(copied).path == module.path
    kaggle = "tfxfer/tiny/tensorFlow2/feature-vector/1"
    shutil.copytree(tiny_image_module,
                    hub_cache / hashlib.sha1(f"https://www.kaggle.com/models/{kaggle}".encode()).hexdigest())
    assert load_features(kaggle).output_dim == 11
    # A classification handle taken for a feature vector one: the note names its twin.
    classifier = "https://tfhub.dev/google/imagenet/tiny/classification/5"
    shutil.copytree(tiny_image_module, hub_cache / hashlib.sha1(classifier.encode()).hexdigest())
    twin = "its feature vector twin, https://tfhub.dev/google/imagenet/tiny/feature_vector/5, usually transfers better."
    assert any(twin in note for note in load_features(classifier).notes)
    assert not any("twin" in note for note in module.notes)
    with pytest.raises(DataError, match=r"a Kaggle model handle without its version: add it, e\.g\. "
                                         r"tfxfer/tiny/tensorFlow2/feature-vector/1 "):
        load_features(kaggle.rsplit("/", 1)[0])
    # Where setuptools 82 took pkg_resources away, tensorflow_hub does not import
    # (tensorflow/hub#934): the error names the fix instead of a traceback.
    monkeypatch.delitem(sys.modules, "tensorflow_hub")
    monkeypatch.setitem(sys.modules, "pkg_resources", None)
    with pytest.raises(TfxferError, match=r"tensorflow_hub does not import .*pip install 'setuptools<82'"):
        load_features(handle)
    # Any other reason (tensorflow_hub 0.16.0 wants tf_keras; or it is missing) is not blamed on setuptools.
    monkeypatch.setitem(sys.modules, "tensorflow_hub", None)
    with pytest.raises(TfxferError, match=r"does not import \(.*\)\. pip install -U 'tensorflow-hub>=0.16.1'\."):
        load_features(handle)


def test_setuptools_81s_pkg_resources_warning_is_not_shown(tiny_image_module, tmp_path, monkeypatch):
    # Python 3.12+ venvs get setuptools 81 from `setuptools<82`; its pkg_resources warns on import, and
    # tensorflow_hub imports it: every TF-Hub handle printed "UserWarning: pkg_resources is deprecated...".
    # This machine's setuptools is older, so a pkg_resources that warns as 81's does stands in for it.
    (tmp_path / "pkg_resources.py").write_text(
        "import warnings\n"
        "warnings.warn('pkg_resources is deprecated as an API. See https://setuptools.pypa.io/en/latest/"
        "pkg_resources.html. The pkg_resources package is slated for removal as early as 2025-11-30. Refrain "
        "from using this package or pin to Setuptools<81.', UserWarning, stacklevel=2)\n"
        "from packaging.version import parse as parse_version\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "pkg_resources", raising=False)
    monkeypatch.delitem(sys.modules, "tensorflow_hub", raising=False)
    handle = "https://tfhub.dev/tfxfer-tests/tiny/1"
    shutil.copytree(tiny_image_module, tmp_path / "hub" / hashlib.sha1(handle.encode()).hexdigest())
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(tmp_path / "hub"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_features(handle).output_dim == 11
    assert sys.modules["pkg_resources"].__file__ == str(tmp_path / "pkg_resources.py")  # the stand-in was imported


def test_a_hub_handle_is_downloaded_once_and_the_download_is_told(tiny_image_module, image_folder, tmp_path):
    # A real download, over loopback: tensorflow_hub's HTTP resolver, as for tfhub.dev and Kaggle handles.
    # A large module takes minutes, and tensorflow_hub tells of it only in absl's INFO log, which tfxfer
    # keeps quiet: the CLI shows those lines.
    # Not in tensorflow_hub's default, the temporary folder, which reboots and temp-file cleaners empty:
    # in tfxfer's cache, where TFHUB_CACHE_DIR does not say otherwise.
    env = {**{k: v for k, v in os.environ.items() if k != "TFHUB_CACHE_DIR"}, "TFXFER_CACHE_DIR": str(tmp_path)}

    def embed_as(handle, out, timeout=300, **more_env):
        return embed(image_folder, handle, tmp_path / out, {**env, **more_env}, timeout)

    def clean_temp_files():  # as systemd-tmpfiles does to files unread for 10 days: the folders stay
        for file in [f for f in downloaded.rglob("*") if f.is_file()]:
            file.unlink()

    with serving(tiny_image_module, tmp_path) as url:
        downloaded = tmp_path / "tfhub_modules" / hashlib.sha1(f"{url}/tiny.tar.gz".encode()).hexdigest()
        # A download killed outright (out of memory, a notebook's restart) leaves tensorflow_hub's lock, for which
        # the next one waited 10 minutes, silently: a lock of a process that no longer runs here is removed.
        dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                              text=True, check=True).stdout.strip()
        downloaded.parent.mkdir()
        Path(f"{downloaded}.lock").write_text(f"{socket.gethostname()}.{dead}.0123abcd")
        Path(f"{downloaded}.0123abcd.tmp").mkdir()
        first = embed_as(f"{url}/tiny.tar.gz", "a.npz", timeout=120)
        assert first.returncode == 0, first.stderr[-2000:]
        assert not Path(f"{downloaded}.lock").exists() and not Path(f"{downloaded}.0123abcd.tmp").exists()
        assert f"Using {tmp_path / 'tfhub_modules'} to cache modules." in first.stderr  # where, with a download
        assert (downloaded / "saved_model.pb").is_file()
        assert f"Downloading TF-Hub Module '{url}/tiny.tar.gz'." in first.stderr
        assert "Total size:" in first.stderr and f"Downloaded TF-Hub Module '{url}/tiny.tar.gz'." in first.stderr
        assert np.load(tmp_path / "a.npz")["features"].shape[1] == 11
        again = embed_as(f"{url}/tiny.tar.gz", "b.npz")  # from the cache: nothing to tell
        assert again.returncode == 0 and again.stderr == "Extracting\n", again.stderr[-2000:]
        missing = embed_as(f"{url}/gone.tar.gz", "c.npz")
        assert missing.returncode == 1 and "Traceback" not in missing.stderr
        assert missing.stderr.strip().splitlines()[-1].startswith(
            f"Error: Cannot resolve the TF-Hub handle '{url}/gone.tar.gz': HTTP Error 404"), missing.stderr[-2000:]
        # A copy that lost its files, which tensorflow_hub takes for a download (tensorflow/hub#896), is
        # downloaded again, with a warning.
        clean_temp_files()
        repaired = embed_as(f"{url}/tiny.tar.gz", "d.npz")
        assert repaired.returncode == 0, repaired.stderr[-2000:]
        assert "had lost files (a temp-file cleaner's doing" in repaired.stderr
        assert f"Downloaded TF-Hub Module '{url}/tiny.tar.gz'." in repaired.stderr
        assert np.array_equal(np.load(tmp_path / "d.npz")["features"], np.load(tmp_path / "a.npz")["features"])
        # tfxfer cache lists it by its handle, and clears it with its descriptor.
        cache_env = {"TFXFER_CACHE_DIR": str(tmp_path), "TFHUB_CACHE_DIR": None}
        listed = CliRunner().invoke(main, ["cache", "--part", "tfhub"], env=cache_env)
        assert f"{url}/tiny.tar.gz ({downloaded.name})" in listed.output, listed.output
        cleared = CliRunner().invoke(main, ["cache", "--clear", "--part", "tfhub"], env=cache_env)
        assert cleared.exit_code == 0 and not list((tmp_path / "tfhub_modules").iterdir()), cleared.output
        # A whole copy in tensorflow_hub's default, the temporary folder (a notebook's download), is used.
        shutil.copytree(tiny_image_module, tmp_path / "tmp" / "tfhub_modules" / downloaded.name)
        from_notebook = embed_as(f"{url}/tiny.tar.gz", "g.npz", TMPDIR=str(tmp_path / "tmp"))
        assert from_notebook.returncode == 0 and "Download" not in from_notebook.stderr, from_notebook.stderr[-2000:]
        assert not downloaded.exists()
        assert embed_as(f"{url}/tiny.tar.gz", "e.npz").returncode == 0
    # Offline, the error says what happened to the copy, and nothing of it is left.
    clean_temp_files()
    offline = embed_as(f"{url}/tiny.tar.gz", "f.npz")
    assert offline.returncode == 1 and "Traceback" not in offline.stderr, offline.stderr[-2000:]
    assert f"Its cached copy in {downloaded} had lost files and was deleted. Check the handle and your network" \
        in offline.stderr.strip().splitlines()[-1], offline.stderr[-2000:]
    assert not list((tmp_path / "tfhub_modules").iterdir())


def test_a_download_through_a_proxy_that_re_signs_https_is_told_how_to_trust_it(tiny_image_module, image_folder,
                                                                                tmp_path):
    # Company proxies re-sign HTTPS with their own certificate: the download failed with Python's
    # CERTIFICATE_VERIFY_FAILED alone. An HTTPS server on loopback with a certificate of its own stands in.
    import ssl

    if not shutil.which("openssl"):
        pytest.skip("needs the openssl command to make a certificate")
    cert, key = tmp_path / "proxy.pem", tmp_path / "proxy.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                    "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out",
                    str(cert)], capture_output=True, check=True, timeout=60)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    env = {**os.environ, "TFHUB_CACHE_DIR": str(tmp_path / "hub"), "TFXFER_CACHE_DIR": str(tmp_path / "cache")}
    with serving(tiny_image_module, tmp_path, context) as url:
        untrusted = embed(image_folder, f"{url}/tiny.tar.gz", tmp_path / "features.npz", env)
        assert untrusted.returncode == 1 and "CERTIFICATE_VERIFY_FAILED" in untrusted.stderr, untrusted.stderr[-2000:]
        assert ("A proxy that re-signs HTTPS needs its certificate trusted: set SSL_CERT_FILE to a bundle of "
                "certificates that holds it.") in untrusted.stderr
        trusted = embed(image_folder, f"{url}/tiny.tar.gz", tmp_path / "features.npz",
                        {**env, "SSL_CERT_FILE": str(cert)})  # as the message says
        assert trusted.returncode == 0, trusted.stderr[-2000:]
