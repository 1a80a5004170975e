"""Media helpers: the emulator's value types and their encoders.

IMAGE values are ``ImageBatch`` (a list of Pillow RGB images), MASK values are ``MaskBatch``
(a list of Pillow "L" images); LATENT and AUDIO are small dicts holding shape-only tensors.
This module also encodes preview frames (JPEG/PNG), writes PNG files with text chunks, a
minimal valid FLAC (verbatim subframes) for SaveAudio and a safetensors file for SaveLatent,
and renders torch-like ``str()`` values for ``execution_error.current_inputs``.
"""
import io
import json
import struct

from PIL import Image, ImageOps
from PIL.PngImagePlugin import PngInfo

EDGE = 3  # torch's print summarisation edge items


def _fmt_scalar(v, integral):
    return f"{v:.0f}." if integral else f"{v:.4f}"


def _summarise(n):
    """Indices torch prints for a dimension of size n (None = the '...' marker)."""
    if n > 2 * EDGE:
        return list(range(EDGE)) + [None] + list(range(n - EDGE, n))
    return list(range(n))


def torch_like_repr(shape, getter):
    """Render ``tensor([...])`` the way torch summarises a large float tensor."""
    values = []
    total = 1
    for s in shape:
        total *= s
    summarise = total > 1000

    def collect(prefix, dim):
        idx = _summarise(shape[dim]) if summarise else list(range(shape[dim]))
        for i in idx:
            if i is None:
                continue
            if dim == len(shape) - 1:
                values.append(getter(prefix + (i,)))
            else:
                collect(prefix + (i,), dim + 1)

    collect((), 0)
    integral = all(float(v).is_integer() for v in values)

    def render(prefix, dim, indent):
        idx = _summarise(shape[dim]) if summarise else list(range(shape[dim]))
        if dim == len(shape) - 1:
            parts = ["..." if i is None else _fmt_scalar(getter(prefix + (i,)), integral) for i in idx]
            return "[" + ", ".join(parts) + "]"
        sep = "," + "\n" * (len(shape) - dim - 1) + " " * (indent + 1)
        parts = ["..." if i is None else render(prefix + (i,), dim + 1, indent + 1) for i in idx]
        return "[" + sep.join(parts) + "]"

    return "tensor(" + render((), 0, 7) + ")"


class ImageBatch(list):
    """IMAGE: a batch of RGB Pillow images (ComfyUI uses a [B,H,W,C] float tensor)."""

    @property
    def shape(self):
        w, h = self[0].size
        return [len(self), h, w, 3]

    def __str__(self):
        def get(ix):
            b, y, x, c = ix
            return self[b].getpixel((x, y))[c] / 255.0
        return torch_like_repr(self.shape, get)

    __repr__ = __str__


class MaskBatch(list):
    """MASK: a batch of "L" Pillow images (ComfyUI uses a [B,H,W] float tensor)."""

    @property
    def shape(self):
        w, h = self[0].size
        return [len(self), h, w]

    def __str__(self):
        def get(ix):
            b, y, x = ix
            return self[b].getpixel((x, y)) / 255.0
        return torch_like_repr(self.shape, get)

    __repr__ = __str__


class ZeroTensor:
    """A shape-only all-zero float tensor (latents, audio waveforms)."""

    def __init__(self, shape):
        self.shape = list(shape)

    def __str__(self):
        return torch_like_repr(self.shape, lambda ix: 0.0)

    __repr__ = __str__


def encode_preview(image, fmt, max_size):
    """Encode a preview the way server.send_image does (JPEG q95 / PNG level 1)."""
    if max_size is not None:
        image = ImageOps.contain(image, (max_size, max_size), Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    image.save(buf, format=fmt, quality=95, compress_level=1)
    return buf.getvalue()


def save_png(image, path, text=None, compress_level=4):
    info = None
    if text:
        info = PngInfo()
        for k, v in text.items():
            info.add_text(k, v)
    image.save(path, pnginfo=info, compress_level=compress_level)


def _crc8(data):
    crc = 0
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
    return crc


def _crc16(data):
    crc = 0
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x8005) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


class _Bits:
    def __init__(self):
        self.acc = 0
        self.n = 0
        self.out = bytearray()

    def put(self, value, bits):
        self.acc = (self.acc << bits) | (value & ((1 << bits) - 1))
        self.n += bits
        while self.n >= 8:
            self.n -= 8
            self.out.append((self.acc >> self.n) & 0xFF)
        self.acc &= (1 << self.n) - 1

    def align(self):
        if self.n:
            self.put(0, 8 - self.n)


def _utf8_number(n):
    if n < 0x80:
        return bytes([n])
    out = []
    limit = 0x3F
    while n > limit >> 1 if out else n > 0x7F:
        out.insert(0, 0x80 | (n & 0x3F))
        n >>= 6
        limit >>= 1
    lead = (0xFF << (7 - len(out))) & 0xFF
    return bytes([lead | n] + out)


def write_flac(path, channels, sample_rate, frames, bits=16, block=4096):
    """Write a valid FLAC stream; ``frames`` is a list of per-channel lists of ints."""
    total = len(frames[0]) if frames else 0
    out = bytearray(b"fLaC")
    info = _Bits()
    info.put(block, 16)
    info.put(block, 16)
    info.put(0, 24)
    info.put(0, 24)
    info.put(sample_rate, 20)
    info.put(channels - 1, 3)
    info.put(bits - 1, 5)
    info.put(total, 36)
    streaminfo = bytes(info.out) + bytes(16)
    out += bytes([0x80]) + len(streaminfo).to_bytes(3, "big") + streaminfo
    for number, start in enumerate(range(0, total, block)):
        n = min(block, total - start)
        hdr = _Bits()
        hdr.put(0b11111111111110, 14)
        hdr.put(0, 1)
        hdr.put(0, 1)
        hdr.put(0b0111, 4)      # block size: 16-bit (n-1) at end of header
        hdr.put(0b0000, 4)      # sample rate from STREAMINFO
        hdr.put(channels - 1, 4)
        hdr.put(0b000, 3)       # sample size from STREAMINFO
        hdr.put(0, 1)
        head = bytes(hdr.out) + _utf8_number(number) + (n - 1).to_bytes(2, "big")
        head += bytes([_crc8(head)])
        body = _Bits()
        for ch in range(channels):
            body.put(0, 1)
            body.put(0b000001, 6)  # VERBATIM
            body.put(0, 1)
            for s in frames[ch][start:start + n]:
                body.put(s, bits)
        body.align()
        frame = head + bytes(body.out)
        out += frame + _crc16(frame).to_bytes(2, "big")
    with open(path, "wb") as f:
        f.write(out)


def write_safetensors(path, tensors, metadata=None):
    """tensors: name -> (dtype, shape, raw bytes)."""
    header = {}
    offset = 0
    blobs = []
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    if metadata:
        header["__metadata__"] = metadata
    hjson = json.dumps(header, separators=(",", ":")).encode()
    hjson += b" " * ((8 - len(hjson) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hjson)))
        f.write(hjson)
        for b in blobs:
            f.write(b)
