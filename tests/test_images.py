"""Decoding images as the training pipeline and the exported graph do: cropped and scaled, turned upright,
and files whose decoding would cost far more than their bytes refused first (folders and lists of image
files: test_image_files.py)."""

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from tfxfer.data.images import decode_image
from tfxfer.features.embed import load_labeled
from tfxfer.features.load import load_features


def test_images_are_cropped_to_the_aspect_ratio_not_squashed():
    # 40x20: blue | red (the central 20x20) | green.
    image = np.zeros((20, 40, 3), np.uint8)
    image[:, :10, 2] = image[:, 10:30, 0] = image[:, 30:, 1] = 255
    decoded = decode_image(tf.io.encode_png(image), (8, 8)).numpy()
    assert decoded.shape == (8, 8, 3)
    np.testing.assert_allclose(decoded[..., 0], 1.0, atol=0.02)  # all red: the side bands are cropped
    wide = decode_image(tf.io.encode_png(image), (8, 16)).numpy()
    assert wide[:, 0, 2].min() > 0.9 and wide[:, -1, 1].min() > 0.9  # same aspect: nothing cropped
    white = decode_image(tf.io.encode_png(np.full((375, 500, 3), 255, np.uint8)), (160, 160)).numpy()
    assert white.max() == 1.0  # in [0, 1] as said (matplotlib warned, drawing it in the report's mistakes)


def test_large_jpegs_are_cropped_and_scaled_while_decoded():
    import keras

    rng = np.random.default_rng(0)
    image = (rng.uniform(0, 1, (12, 18, 3)) * 255).astype(np.uint8)
    image = tf.image.resize(image, (600, 900), method="bicubic").numpy().clip(0, 255).astype(np.uint8)  # smooth
    data = tf.io.encode_jpeg(image, quality=95)
    fast = decode_image(data, (100, 100)).numpy()  # the central 600x600, decoded at 1/4
    full = tf.image.convert_image_dtype(tf.io.decode_jpeg(data, channels=3), tf.float32)
    exact = keras.ops.image.resize(full, (100, 100), antialias=True, crop_to_aspect_ratio=True).numpy()
    assert fast.shape == (100, 100, 3) and np.abs(fast - exact).mean() < 0.02
    png = decode_image(tf.io.encode_png(image), (100, 100)).numpy()  # PNGs take the plain path, same crop
    assert np.abs(png - exact).mean() < 0.01


def test_phone_photos_are_turned_upright_by_their_exif_orientation():
    import io
    import struct

    from PIL import Image

    from tfxfer.data.images import jpeg_orientation

    shown = np.zeros((60, 90, 3), np.uint8)  # as the photo is shown: four coloured quarters
    shown[:30, :45], shown[:30, 45:], shown[30:, :45], shown[30:, 45:] = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0)

    def jpeg(pixels, orientation=None):
        buf, exif = io.BytesIO(), Image.Exif()
        if orientation:
            exif[274], exif[271] = orientation, "Phone"  # the tag among others, as cameras write it
        Image.fromarray(pixels).save(buf, "JPEG", quality=95, exif=exif.tobytes())
        return buf.getvalue()

    upright = decode_image(tf.constant(jpeg(shown)), (24, 40)).numpy()
    # Stored as the sensor saw them, with the tag saying how to turn them (6: 90 degrees clockwise).
    for orientation, stored in [(6, np.rot90(shown, 1)), (8, np.rot90(shown, 3)), (3, np.rot90(shown, 2)),
                                (2, shown[:, ::-1]), (5, shown.transpose(1, 0, 2))]:
        data = jpeg(np.ascontiguousarray(stored), orientation)
        assert int(jpeg_orientation(tf.constant(data))) == orientation
        turned = decode_image(tf.constant(data), (24, 40)).numpy()
        assert np.abs(turned - upright).mean() < 0.03, orientation  # sideways it differs by about 0.4
    # Little-endian TIFF (PIL writes big-endian), no tag, and bytes that are no JPEG at all.
    little = b"\xff\xd8\xff\xe1\x00\x22Exif\x00\x00II*\x00" + struct.pack("<IHHHII", 8, 1, 0x0112, 3, 1, 6)
    assert int(jpeg_orientation(tf.constant(little))) == 6
    assert int(jpeg_orientation(tf.constant(jpeg(shown)))) == 1
    assert int(jpeg_orientation(tf.constant(b"Exif\x00\x00MM\xff"))) == 1


def _declaring(data: bytes, width: int, height: int) -> bytes:
    """A small PNG whose header declares `width` x `height` (what a decompression bomb does in a few KB)."""
    import struct

    return data[:16] + struct.pack(">II", width, height) + data[24:]


def _refused_when_decoded(data: bytes) -> str:
    """Why decoding `data` in a traced graph (as the export does) fails, as users read it."""
    from tfxfer.errors import op_error_reason

    decode = tf.function(lambda data: decode_image(data, (16, 16)), autograph=False,
                         input_signature=[tf.TensorSpec([], tf.string)])
    with pytest.raises(tf.errors.InvalidArgumentError) as e:
        decode(tf.constant(data))
    return op_error_reason(e.value.message)


def _skipped_among_photos(image_folder: Path, tmp_path: Path, name: str, data: bytes) -> list[tuple[str, str]]:
    """`(file name, why)` of the photos fit-head's extraction skips once `data` is among them as `name`."""
    from tests.conftest import save_tiny_image_module
    from tfxfer.features.extract import extract_image_features

    (image_folder / "red" / name).write_bytes(data)
    module = load_features(save_tiny_image_module(tmp_path / "tiny"), image_size=16)
    labeled = load_labeled(module, image_folder)
    features = extract_image_features(module, labeled.items, labeled.labels, cache_dir=tmp_path / "cache")
    return [(Path(p).name, reason) for p, reason in features.skipped]


def test_headers_declare_sizes_and_images_too_large_to_decode_are_refused_before_decoding(image_folder, tmp_path,
                                                                                         caplog):
    # A 280 KB PNG of 16,000 x 16,000 px took 7.6 GB to decode: a request could take `tfxfer serve` down.
    import io

    from PIL import Image

    from tfxfer.data.images import declared_size

    def encoded(fmt, size, **kw):
        out = io.BytesIO()
        Image.new("RGB", size, (200, 20, 20)).save(out, fmt, **kw)
        return out.getvalue()

    for fmt, kw in [("PNG", {}), ("GIF", {}), ("BMP", {}), ("WEBP", {"lossless": True}), ("WEBP", {"quality": 80})]:
        for size in [(300, 200), (1, 1), (16383, 3)]:
            assert declared_size(tf.constant(encoded(fmt, size, **kw))).numpy().tolist() == list(size), (fmt, kw)
    for other in (encoded("JPEG", (30, 20)), b"", b"GI", b"not an image"):
        assert declared_size(tf.constant(other)).numpy().tolist() == [0, 0]
    bomb = _declaring(encoded("PNG", (8, 8)), 16000, 16000)
    assert _refused_when_decoded(bomb) == (
        "image too large to decode (more than 89,478,485 pixels, the limit Pillow sets too); resize it first. Its "
        "width and height: 16000 16000")
    assert decode_image(tf.constant(_declaring(encoded("PNG", (8, 8)), 8, 8)), (16, 16)).shape == (16, 16, 3)
    # Among training photos: skipped, and the note says why (it was "not a decodable image").
    assert _skipped_among_photos(image_folder, tmp_path, "poster.png", bomb) == [
        ("poster.png", ("image too large to decode (more than 89,478,485 pixels, the limit Pillow sets too); resize "
                        "it first. Its width and height: 16000 x 16000"))]


def _animated_gif(frames: int, size: tuple[int, int], **save) -> bytes:
    """A GIF of `frames` frames of alternating colours (a few KB each: flat colour compresses)."""
    import io

    from PIL import Image

    images = [Image.new("RGB", size, ((40 + 10 * i) % 256, 200 - i % 100, 90)) for i in range(frames)]
    out = io.BytesIO()
    images[0].save(out, "GIF", save_all=True, append_images=images[1:], duration=40, loop=0, **save)
    return out.getvalue()


def test_an_animated_gif_decodes_its_first_frame_alone():
    # Decoders read every frame before giving the first: a 320 KB GIF of 80 frames of 2000 x 2000 took
    # 0.3 GB and 2 s, so a few MB of GIF could take a server down. Now the bytes are cut after the first image.
    from tests.conftest import memory_growth_kb
    from tfxfer.data.images import first_gif_image

    def first_frame(data: bytes):
        return tf.io.decode_image(data, channels=3, expand_animations=False).numpy()

    for data in (_animated_gif(3, (40, 30)), _animated_gif(2, (40, 30), comment=b"made by hand", interlace=True),
                 _animated_gif(1, (7, 5)), _animated_gif(4, (64, 64), optimize=False, disposal=2)):
        cut = first_gif_image(tf.constant(data)).numpy()
        assert len(cut) < len(data) or data.count(b"\x2c") == 1
        np.testing.assert_array_equal(first_frame(cut), first_frame(data))
    mid_image = data[:data.index(b"\x21\xf9\x04") + 8 + 15]  # its timing block, then 15 bytes of image
    for other in (b"GIF89a", b"not a GIF", mid_image):  # not GIF, or cut mid-image: left to the decoder
        assert first_gif_image(tf.constant(other)).numpy() == other
    blocks = data.index(b"\x21\xff\x0bNETSCAPE2.0")  # the first block, after the colour table
    # With its loop and timing blocks, the image is the 64th block, then the 65th: too far.
    comments = [data[:blocks] + b"\x21\xfe\x01x\x00" * k + data[blocks:] for k in (61, 62)]
    np.testing.assert_array_equal(first_frame(first_gif_image(tf.constant(comments[0])).numpy()), first_frame(data))
    for no_image in (data[:blocks] + b"\x99garbage", comments[1]):
        with pytest.raises(tf.errors.InvalidArgumentError, match="No Image Descriptor"):
            first_frame(first_gif_image(tf.constant(no_image)).numpy())
    two = _animated_gif(2, (2000, 2000))  # its second frame's blocks, repeated: Pillow would hold every frame
    second = two.rindex(b"\x21\xf9\x04")
    bomb = two[:second] + two[second:-1] * 80 + b";"
    assert len(bomb) < 400_000
    setup = """
        import tensorflow as tf
        from tfxfer.data.images import decode_image
        decode_image(tf.constant(DATA[:-1]), (16, 16))  # the ops' first run (cut mid-image, decoded whole)
        """
    grew = memory_growth_kb(setup, "image = decode_image(tf.constant(DATA), (16, 16))", bomb)
    assert grew < 60_000  # KB: 240 MB before; a frame is 12 MB as RGB
    np.testing.assert_allclose(decode_image(tf.constant(bomb), (16, 16))[0, 0], np.array([40, 200, 90]) / 255,
                               atol=0.01)


def _jpeg(size: tuple[int, int], **save) -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", size, (30, 120, 200)).save(out, "JPEG", **save)
    return out.getvalue()


def _declaring_jpeg(data: bytes, width: int, height: int) -> bytes:
    """JPEG bytes whose frame header (SOFn) declares `width` x `height`."""
    import re
    import struct

    sof = re.search(rb"\xff[\xc0-\xc3]", data).start()
    return data[:sof + 5] + struct.pack(">HH", height, width) + data[sof + 9:]


def test_progressive_jpegs_too_large_to_decode_are_refused_before_decoding(image_folder, tmp_path):
    # A progressive JPEG is decoded whole into memory before any scaling: a 1.5 MB one of 20,000 x 20,000
    # took 0.8 GB and 3 s, and 32 MB (a request's limit) could declare 65,000 x 40,000: 8 GB.
    # Baseline JPEGs decode at 1/8 scale a block at a time, and stay accepted at any size.
    from tfxfer.data.images import refused_size

    exif = b"\xff\xe1" + (2 + 6 + 60_000).to_bytes(2, "big") + b"Exif\x00\x00" + b"\x00" * 60_000  # 60 KB before
    progressive, baseline = _jpeg((16, 16), progressive=True), _jpeg((16, 16))
    progressive = progressive[:2] + exif + progressive[2:]
    big = _declaring_jpeg(progressive, 10_000, 9_000)  # 90M pixels
    assert refused_size(tf.constant(big)).numpy().tolist() == [10_000, 9_000]
    for accepted in (_declaring_jpeg(progressive, 9_000, 9_000), _declaring_jpeg(baseline, 10_000, 9_000),
                     progressive, baseline, b"\xff\xd8\xff", b""):
        assert refused_size(tf.constant(accepted)).numpy().tolist() == [0, 0]
    assert _refused_when_decoded(big) == (
        "image too large to decode (more than 89,478,485 pixels, the limit Pillow sets too); resize it first. Its "
        "width and height: 10000 9000")
    assert decode_image(tf.constant(progressive), (16, 16)).shape == (16, 16, 3)
    assert _skipped_among_photos(image_folder, tmp_path, "panorama.jpg", big) == [
        ("panorama.jpg", ("image too large to decode (more than 89,478,485 pixels, the limit Pillow sets too); "
                          "resize it first. Its width and height: 10000 x 9000"))]


@pytest.mark.skipif(not hasattr(tf.io, "decode_webp"), reason="TensorFlow reads WebP from 2.20 on")
def test_webps_with_transparency_decode_and_animated_ones_are_refused_before_decoding(image_folder, tmp_path):
    # Asked for 3 channels, TensorFlow refuses a WebP with alpha ("Number of channels requested does not
    # match input": product photos cut out on a transparent ground): skipped as not decodable, answered 400.
    # An animated one it can decode only with the channels it has, and then overruns its buffer: the process
    # dies ("corrupted double-linked list"), so it is refused before TensorFlow sees it.
    import io

    from PIL import Image

    from tfxfer.data.images import webp_layout

    colour = (200, 40, 90)
    stills = {}
    for mode, kw in [("RGBA", {"quality": 90}), ("RGBA", {"lossless": True}), ("RGB", {"quality": 90}),
                     ("RGB", {"lossless": True})]:
        out = io.BytesIO()
        Image.new(mode, (40, 30), (*colour, 128)[:len(mode)]).save(out, "WEBP", **kw)
        stills[mode, kw.get("lossless", False)] = out.getvalue()
    out = io.BytesIO()
    frames = [Image.new("RGB", (40, 30), c) for c in (colour, (0, 0, 255), (0, 255, 0))]
    frames[0].save(out, "WEBP", save_all=True, append_images=frames[1:], duration=50, lossless=True)
    animated = out.getvalue()
    assert [tuple(bool(t) for t in webp_layout(tf.constant(d))) for d in (*stills.values(), animated)] == [
        (True, False), (True, False), (False, False), (False, False), (False, True)]
    for data in stills.values():
        image = decode_image(tf.constant(data), (16, 16)).numpy()
        np.testing.assert_allclose(image.mean(axis=(0, 1)), np.array(colour) / 255, atol=0.03)
    reason = "animated WebP, which TensorFlow cannot decode (its frames overrun its buffer); save a frame of it as "
    assert _refused_when_decoded(animated).startswith(reason)
    assert _skipped_among_photos(image_folder, tmp_path, "sticker.webp", animated) == [
        ("sticker.webp", reason + "PNG or JPEG first")]
    (image_folder / "red" / "sticker.webp").unlink()
    assert _skipped_among_photos(image_folder, tmp_path, "cut-out.webp", stills["RGBA", False]) == []


def test_bmps_of_256_colours_decode_to_their_colours_not_their_palette_indices():
    # TensorFlow decodes an 8-bit BMP as its palette indices, shown as gray: a red image read as 1 / 255.
    import io

    from PIL import Image

    image = Image.new("P", (40, 30))
    image.putpalette([0, 0, 0, 200, 40, 90, 10, 220, 30] + [0] * 759)
    image.paste(1, (0, 0, 40, 30))
    image.paste(2, (0, 0, 20, 30))  # left half green, right half red
    for mode in ("P", "L"):  # a gray one has a palette too: its ramp
        shown = image if mode == "P" else image.convert("L")
        out = io.BytesIO()
        shown.save(out, "BMP")
        decoded = decode_image(tf.constant(out.getvalue()), (30, 40)).numpy()
        expected = np.asarray(shown.convert("RGB"), np.float32) / 255
        assert np.abs(decoded - expected).mean() < 0.02, mode
