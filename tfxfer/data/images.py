"""Images decoded in TF ops: the same ops in the tf.data pipeline and in the exported graph."""

from __future__ import annotations

import tensorflow as tf

from tfxfer.config import MAX_DECODED_PIXELS
from tfxfer.data.image_limits import ANIMATED_WEBP, TOO_LARGE

# libjpeg's DCT-domain downscaling factors.
DCT_RATIOS = (1, 2, 4, 8)
# EXIF: where a JPEG's orientation is read. Phones store pixels as the sensor saw them and a tag
# saying how to turn them; decode_jpeg ignores the tag, so a portrait photo would arrive sideways.
EXIF_HEADER = b"Exif\x00\x00"
EXIF_BYTES = 1 << 13  # APP1 comes first (after SOI, or a JFIF APP0) and its first IFD near its start
ORIENTATION_TAG = 0x0112
IFD_ENTRIES = 64  # entries of the first IFD looked at (cameras write 10 - 20)
# tf.io.decode_image reads WebP from TensorFlow 2.20 on (tf.io.decode_webp came with it).
WEBP_DECODED = hasattr(tf.io, "decode_webp")
JPEG_SEGMENTS = 64  # marker segments read up to a JPEG's frame header (files write 2 - 20: APPn, DQT, ...)
PROGRESSIVE_JPEG = (0xC2, 0xC6, 0xCA, 0xCE)  # the SOFn markers of progressive frames
GIF_BLOCKS = 64  # blocks read up to a GIF's first image, itself included (files write 1 - 4: loop, timing, image)


def undecoded_reason(path: str, reason: str) -> str:
    """Why an image was not decoded: `reason`, unless it is a WebP this TensorFlow cannot read (or an
    animated one) or it declares more pixels than are decoded."""
    if not WEBP_DECODED and str(path).lower().endswith(".webp"):
        return f"WebP images need TensorFlow 2.20 or later; this is {tf.__version__} (pip install -U tensorflow)"
    try:
        with open(path, "rb") as f:  # whole: a JPEG's frame header can come after 64 KB of EXIF and more
            data = tf.constant(f.read())
    except OSError:
        return reason
    width, height = refused_size(data).numpy()
    if width:
        return f"{TOO_LARGE} {width} x {height}"
    return ANIMATED_WEBP if _starts(data, 8, b"WEBP") and webp_layout(data)[1] else reason


def _central_crop(height, width, size: tuple[int, int]):
    """`(top, left, crop height, crop width)` of the largest central crop with the aspect ratio of `size`.

    The same integer arithmetic as Keras's `crop_to_aspect_ratio`.
    """
    h, w = size
    crop_h = tf.clip_by_value(tf.cast(tf.cast(width * h, tf.float32) / w, tf.int32), 1, height)
    crop_w = tf.clip_by_value(tf.cast(tf.cast(height * w, tf.float32) / h, tf.int32), 1, width)
    return (height - crop_h) // 2, (width - crop_w) // 2, crop_h, crop_w


def _uints(data: tf.Tensor, pos: tf.Tensor, width: int, little: tf.Tensor) -> tf.Tensor:
    """Unsigned integers of `width` bytes at positions `pos` of the scalar string `data`
    (zeros past its end), little- or big-endian."""
    pos = tf.clip_by_value(tf.cast(pos, tf.int32), 0, tf.strings.length(data))
    pieces = tf.strings.substr(tf.fill(tf.shape(pos), data), pos, tf.fill(tf.shape(pos), width))
    raw = tf.cast(tf.io.decode_raw(pieces, tf.uint8, fixed_length=width), tf.int64)
    order = tf.range(width, dtype=tf.int64)
    return tf.reduce_sum(tf.bitwise.left_shift(raw, tf.where(little, order * 8, (width - 1 - order) * 8)), -1)


def jpeg_orientation(data: tf.Tensor) -> tf.Tensor:
    """The EXIF orientation of JPEG bytes: int64 1 - 8, 1 when there is none (or it cannot be read).

    Reads the TIFF structure after the `Exif` header: its byte order, the
    first IFD's entries, the value of tag 0x0112. Plain string ops, so it runs
    in the exported graph and in stock TF Serving.
    """
    head = tf.strings.substr(data, 0, tf.minimum(tf.strings.length(data), EXIF_BYTES))
    parts = tf.strings.split(head, sep=EXIF_HEADER, maxsplit=1)
    tiff = parts[-1]
    order = tf.strings.substr(tiff, 0, tf.minimum(2, tf.strings.length(tiff)))
    little = tf.equal(order, b"II")
    ifd = _uints(tiff, 4, 4, little)
    at = ifd + 2 + 12 * tf.range(IFD_ENTRIES, dtype=tf.int64)
    listed = tf.range(IFD_ENTRIES, dtype=tf.int64) < _uints(tiff, ifd, 2, little)
    tagged = listed & tf.equal(_uints(tiff, at, 2, little), ORIENTATION_TAG)
    value = tf.reduce_max(tf.where(tagged, _uints(tiff, at + 8, 2, little), 0))
    readable = (tf.size(parts) > 1) & (little | tf.equal(order, b"MM")) & (value >= 1) & (value <= 8)
    return tf.where(readable, value, tf.constant(1, tf.int64))


def _orient(image: tf.Tensor, orientation: tf.Tensor) -> tf.Tensor:
    """Pixels stored with EXIF `orientation` turned the way the photo is shown."""
    turns = [  # what makes orientation N upright
        lambda: image,                                         # 1: nothing
        lambda: tf.image.flip_left_right(image),               # 2: mirror
        lambda: tf.image.rot90(image, 2),                      # 3: turn 180 degrees
        lambda: tf.image.flip_up_down(image),                  # 4: mirror top to bottom
        lambda: tf.image.transpose(image),                     # 5: mirror across the main diagonal
        lambda: tf.image.rot90(image, 3),                      # 6: turn 90 degrees clockwise
        lambda: tf.image.rot90(tf.image.transpose(image), 2),  # 7: mirror across the other diagonal
        lambda: tf.image.rot90(image, 1),                      # 8: turn 90 degrees counterclockwise
    ]
    return tf.switch_case(tf.cast(orientation - 1, tf.int32), turns)


def _decode_jpeg(data: tf.Tensor, size: tuple[int, int]) -> tf.Tensor:
    """A JPEG decoded (`_decode_jpeg_stored`) and turned upright by its EXIF orientation; the crop and
    size are those of the photo as shown, so a stored image on its side is cropped to (width, height)."""
    orientation = jpeg_orientation(data)
    stored = tf.cond(orientation >= 5, lambda: _decode_jpeg_stored(data, (size[1], size[0])),
                     lambda: _decode_jpeg_stored(data, size))
    return _orient(stored, orientation)


def _decode_jpeg_stored(data: tf.Tensor, size: tuple[int, int]) -> tf.Tensor:
    """Decode only the central crop of a JPEG, scaled down in the DCT domain when it is
    at least twice the target size (libjpeg's 1/2, 1/4, 1/8 scaling costs a fraction
    of a full decode), then resized to `size`: by less than 2x, where plain bilinear
    interpolation does not alias and costs half of an antialiased one."""
    shape = tf.image.extract_jpeg_shape(data)
    top, left, crop_h, crop_w = _central_crop(shape[0], shape[1], size)
    fits = [tf.logical_and(crop_h // r >= size[0], crop_w // r >= size[1]) for r in DCT_RATIOS]
    index = tf.reduce_sum(tf.cast(tf.stack(fits), tf.int32)) - 1  # the largest ratio that still fits

    def branch(r):
        # The crop window is in the coordinates of the scaled image.
        return lambda: tf.io.decode_and_crop_jpeg(
            data, tf.stack([top // r, left // r, crop_h // r, crop_w // r]), channels=3, ratio=r)

    image = tf.switch_case(tf.maximum(index, 0), [branch(r) for r in DCT_RATIOS])
    return tf.image.resize(tf.image.convert_image_dtype(image, tf.float32), size, method="bilinear")


def _starts(data: tf.Tensor, at: int, magic: bytes) -> tf.Tensor:
    return tf.equal(tf.strings.substr(data, tf.minimum(at, tf.strings.length(data)), len(magic)), magic)


def _uint(data: tf.Tensor, pos: tf.Tensor, width: int, little: bool = False) -> tf.Tensor:
    """The unsigned integer of `width` bytes at scalar `pos` of `data` (zero past its end), big-endian
    unless `little`. It reads those bytes alone (`_uints` copies `data` for each position)."""
    piece = tf.strings.substr(data, tf.clip_by_value(tf.cast(pos, tf.int32), 0, tf.strings.length(data)), width)
    raw = tf.cast(tf.io.decode_raw(piece, tf.uint8, fixed_length=width), tf.int64)
    order = tf.range(width, dtype=tf.int64) if little else tf.range(width - 1, -1, -1, dtype=tf.int64)
    return tf.reduce_sum(raw * 256 ** order)


def jpeg_frame(data: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """`(marker, width, height)` int64 of a JPEG's frame header (SOF0 - SOF15), found by walking the
    marker segments before it (APPn, DQT, ...); marker 0 where none is among the first `JPEG_SEGMENTS`."""

    def is_frame(pos):  # SOFn, but DHT, JPG and DAC, which share the range
        marker = _uint(data, pos + 1, 1)
        return (_uint(data, pos, 1) == 0xFF) & (marker >= 0xC0) & (marker <= 0xCF) & tf.reduce_all(
            marker != [0xC4, 0xC8, 0xCC])

    pos = tf.while_loop(lambda pos: (_uint(data, pos, 1) == 0xFF) & ~is_frame(pos),
                        lambda pos: [pos + 2 + _uint(data, pos + 2, 2)], [tf.constant(2, tf.int64)],
                        maximum_iterations=JPEG_SEGMENTS)[0]
    # After the marker: the segment's length, the sample precision, then height and width.
    marker = tf.where(is_frame(pos), _uint(data, pos + 1, 1), 0)
    return marker, _uint(data, pos + 7, 2), _uint(data, pos + 5, 2)


def refused_size(data: tf.Tensor) -> tf.Tensor:
    """int64 `[width, height]` of image bytes that would take more than `MAX_DECODED_PIXELS` pixels of
    memory to decode; `[0, 0]` for others.

    PNG, GIF, BMP and WebP decode whole, and so do progressive JPEGs: every
    coefficient is held until the last scan (a 1.5 MB one of 20,000 x 20,000
    took 0.8 GB). A baseline JPEG is decoded at 1/8 scale a block row at a
    time, so it is never refused.
    """
    marker, jpeg_width, jpeg_height = jpeg_frame(data)
    progressive = tf.io.is_jpeg(data) & tf.reduce_any(marker == PROGRESSIVE_JPEG)
    declared = tf.where(progressive, tf.stack([jpeg_width, jpeg_height]), declared_size(data))
    return tf.where(declared[0] * declared[1] > MAX_DECODED_PIXELS, declared, tf.zeros_like(declared))


def declared_size(data: tf.Tensor) -> tf.Tensor:
    """int64 `[width, height]` a PNG, GIF, BMP or WebP header declares; `[0, 0]` for other bytes."""
    little, big = tf.constant(True), tf.constant(False)
    data = tf.strings.substr(data, 0, tf.minimum(tf.strings.length(data), 32))  # each read copies its input

    def u(at: int, n: int, order: tf.Tensor = little) -> tf.Tensor:  # zero past the end of `data`
        return _uints(data, tf.constant([at], tf.int64), n, order)[0]

    def bits(value: tf.Tensor, shift: int) -> tf.Tensor:  # 14 bits, as WebP stores sizes
        return tf.bitwise.bitwise_and(tf.bitwise.right_shift(value, shift), 0x3FFF)

    webp = _starts(data, 0, b"RIFF") & _starts(data, 8, b"WEBP")
    bmp_height = u(22, 4)  # signed: negative for rows stored top-down
    headers = [  # (is it, width, height), from each format's specification
        (_starts(data, 0, b"\x89PNG\r\n\x1a\n"), u(16, 4, big), u(20, 4, big)),
        (_starts(data, 0, b"GIF"), u(6, 2), u(8, 2)),
        (_starts(data, 0, b"BM"), u(18, 4), tf.where(bmp_height >= 1 << 31, (1 << 32) - bmp_height, bmp_height)),
        (webp & _starts(data, 12, b"VP8X"), u(24, 3) + 1, u(27, 3) + 1),
        (webp & _starts(data, 12, b"VP8L"), bits(u(21, 4), 0) + 1, bits(u(21, 4), 14) + 1),
        (webp & _starts(data, 12, b"VP8 "), bits(u(26, 2), 0), bits(u(28, 2), 0)),
    ]
    width = height = tf.constant(0, tf.int64)
    for matches, w, h in headers:
        width, height = tf.where(matches, w, width), tf.where(matches, h, height)
    return tf.stack([width, height])


def _sub_blocks_end(raw: tf.Tensor) -> tf.Tensor:
    """For each position of GIF bytes `raw` `[n]`: where a chain of data sub-blocks starting there ends (past
    its zero-length block; `n + 1` if it runs off the end). Each sub-block is a length byte and that many bytes,
    so the chain is followed by pointer doubling: log2(n) gathers rather than a step per sub-block, which
    a file of one-byte sub-blocks would make millions of."""
    n = tf.size(raw)
    length = tf.cast(raw, tf.int32)
    # Index n is a fixed point that chains which have ended, or run off the end, jump to.
    jump = tf.concat([tf.where(length == 0, n, tf.minimum(tf.range(n) + length + 1, n)), [n]], 0)
    end = tf.concat([tf.where(length == 0, tf.range(n) + 1, n + 1), [n + 1]], 0)  # known where the chain stops
    rounds = tf.cast(tf.math.ceil(tf.math.log(tf.cast(n + 2, tf.float32)) / tf.math.log(2.0)), tf.int32) + 1

    def double(round_, jump, end):  # `end`: a position's own if its chain stops there, else where it jumps to's
        return round_ + 1, tf.gather(jump, jump), tf.where(jump == n, end, tf.gather(end, jump))

    _, jump, end = tf.while_loop(lambda round_, *_: round_ < rounds, double, [0, jump, end])
    return end


def first_gif_image(data: tf.Tensor) -> tf.Tensor:
    """GIF bytes cut after their first image, with the trailer; other bytes as they are.

    Decoders read every frame of an animation before returning the first
    (`expand_animations=False`): 80 flat frames of 2000 x 2000 in 320 KB take
    0.24 GB and 2 s, so a few MB could take a server down. Cut, the first
    frame decodes the same. Bytes cut where no image is among the first
    `GIF_BLOCKS` blocks fail to decode ("No Image Descriptor"), as they would
    uncut (no block there) or could take that server down (many blocks);
    a file that ends mid-image is left whole to the decoder.
    """

    def cut():
        raw = tf.io.decode_raw(data, tf.uint8)
        n = tf.size(raw)
        at = lambda i: tf.cast(tf.gather(raw, tf.minimum(i, n - 1)), tf.int32)
        palette = lambda flags: tf.where(flags >= 128, 3 * tf.bitwise.left_shift(2, flags % 8), 0)
        end = _sub_blocks_end(raw)
        chain_end = lambda i: tf.gather(end, tf.minimum(i, n))

        def block(i, found):
            kind = at(i)
            image = i + 10 + palette(at(i + 9)) + 1  # descriptor, colour table, LZW code size
            return [tf.where(kind == 0x2C, chain_end(image), chain_end(i + 2)), kind == 0x2C]

        start = 13 + palette(at(10))  # header, screen descriptor, global colour table
        i, _ = tf.while_loop(lambda i, found: ~found & (i < n) & tf.reduce_any(at(i) == [0x21, 0x2C]),
                             block, [start, tf.constant(False)], maximum_iterations=GIF_BLOCKS)
        return tf.cond(i <= n, lambda: tf.strings.join([tf.strings.substr(data, 0, i), b";"]), lambda: data)

    return tf.cond(_starts(data, 0, b"GIF") & (tf.strings.length(data) > 13), cut, lambda: data)


def webp_layout(data: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """`(has alpha, animated)` of WebP bytes, from the header: an extended file's flags (VP8X), or a
    lossless one's alpha bit (VP8L)."""
    flags = _uint(data, 20, 1)
    extended = _starts(data, 12, b"VP8X")
    lossless_alpha = _starts(data, 12, b"VP8L") & (_uint(data, 21, 4, little=True) // (1 << 28) % 2 == 1)
    return (extended & (flags // 0x10 % 2 == 1)) | lossless_alpha, extended & (flags // 0x02 % 2 == 1)


def _decode_webp(data: tf.Tensor) -> tf.Tensor:
    """uint8 `[H, W, 3]` of still WebP bytes.

    TensorFlow decodes a WebP only with the channels it has: one with alpha
    (product photos cut out on a transparent ground) is decoded with 4 and
    its alpha dropped, as `decode_png` drops a PNG's. An animated one is
    refused (`ANIMATED_WEBP`): asked for 3 or 4 channels TensorFlow refuses
    it, and asked for those it has (`channels=0`) it writes past its buffer
    and corrupts the process's memory (TensorFlow 2.21).
    """
    alpha, animated = webp_layout(data)
    with tf.control_dependencies([tf.debugging.Assert(~animated, [ANIMATED_WEBP])]):
        return tf.cond(alpha, lambda: tf.io.decode_image(data, channels=4, expand_animations=False)[:, :, :3],
                       lambda: tf.io.decode_image(data, channels=3, expand_animations=False))


def _bmp_colours(data: tf.Tensor, indices: tf.Tensor) -> tf.Tensor:
    """uint8 `[H, W, 3]`: the colours of an 8-bit BMP, which TensorFlow decodes as its palette `indices`
    (uint8 `[H, W, 3]`, shown as gray). The palette follows the header: blue, green, red and a spare byte."""
    start = 14 + _uint(data, 14, 4, little=True)  # after the file and DIB headers
    entries = tf.strings.substr(data, tf.cast(tf.minimum(start, tf.cast(tf.strings.length(data), tf.int64)),
                                              tf.int32), 4 * 256)
    palette = tf.reshape(tf.io.decode_raw(entries, tf.uint8, fixed_length=4 * 256), [256, 4])
    return tf.gather(tf.reverse(palette[:, :3], axis=[1]), tf.cast(indices[:, :, 0], tf.int32))


def _decode_other(data: tf.Tensor, size: tuple[int, int]) -> tf.Tensor:
    webp = _starts(data, 0, b"RIFF") & _starts(data, 8, b"WEBP")
    image = tf.cond(webp, lambda: _decode_webp(data),
                    lambda: tf.io.decode_image(first_gif_image(data), channels=3, expand_animations=False))
    palette_bmp = _starts(data, 0, b"BM") & tf.equal(_uint(data, 28, 2, little=True), 8)  # bits per pixel
    image = tf.cond(palette_bmp, lambda: _bmp_colours(data, image), lambda: image)
    shape = tf.shape(image)
    top, left, crop_h, crop_w = _central_crop(shape[0], shape[1], size)
    image = tf.image.convert_image_dtype(image[top : top + crop_h, left : left + crop_w], tf.float32)
    # Clipped: the antialiasing filter's weights overshoot by a rounding error (1.0000002 on white).
    return tf.clip_by_value(tf.image.resize(image, size, method="bilinear", antialias=True), 0.0, 1.0)


def decode_image(data: tf.Tensor, size: tuple[int, int]) -> tf.Tensor:
    """Decode JPEG/PNG/GIF (first frame)/BMP/WebP bytes to float32 `[H, W, 3]` in [0, 1].

    A JPEG is first turned as its EXIF orientation says (phone photos are
    stored sideways with a tag). The image is cropped centrally to the
    aspect ratio of `size`, then resized
    (bilinear; antialiased for other formats than JPEG). Squashing instead
    distorts shapes the module learned: on hymenoptera with 8 photos per
    class the crop is worth +3 points. A JPEG is cropped while it is decoded,
    and decoded at 1/2, 1/4 or 1/8 scale when that still leaves the target
    size: decoding and resizing are the costly steps of the pipeline on small
    modules. These are plain TensorFlow ops: the same run in exported image
    models, so training and serving agree.
    """
    refused = refused_size(data)
    with tf.control_dependencies([tf.debugging.Assert(refused[0] == 0, [TOO_LARGE, refused])]):
        image = tf.cond(tf.io.is_jpeg(data), lambda: _decode_jpeg(data, size), lambda: _decode_other(data, size))
    return tf.ensure_shape(image, (*size, 3))


def augment_image(image: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """A random view: flip, crop to 80-100% and brightness, determined by `seed` `[2]`."""
    size = tf.shape(image)[:2]
    image = tf.image.stateless_random_flip_left_right(image, seed)
    scale = tf.random.stateless_uniform([], seed + 1, 0.8, 1.0)
    crop = tf.cast(tf.cast(size, tf.float32) * scale, tf.int32)
    image = tf.image.stateless_random_crop(image, tf.concat([crop, [3]], 0), seed + 2)
    image = tf.image.resize(image, size)
    image = tf.image.stateless_random_brightness(image, 0.15, seed + 3)
    return tf.clip_by_value(image, 0.0, 1.0)
