"""Why an image is refused before TensorFlow decodes it, in the words of the exported graph (its 400
answers), fit-head's notes and inspect-data alike. Plain strings: inspect-data imports no TensorFlow."""

from tfxfer.config import MAX_DECODED_PIXELS

# The graph's assertion prints the width and height after it.
TOO_LARGE = (f"image too large to decode (more than {MAX_DECODED_PIXELS:,} pixels, the limit Pillow sets too); resize "
             "it first. Its width and height:")
ANIMATED_WEBP = ("animated WebP, which TensorFlow cannot decode (its frames overrun its buffer); save a frame of it as "
                 "PNG or JPEG first")
