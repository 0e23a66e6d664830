"""Hostile images by the thousand, from a fixed seed, through `read_image`, the recognizer and `fer-emotion predict`.

    python tools/fuzz_benchmark.py                     # 10,500 inputs, seed 0, every stage; summary in logs/fuzz/
    python tools/fuzz_benchmark.py --n 300 --stages read
    python tools/fuzz_benchmark.py --overhead-only     # what the budget costs an ordinary photo
    python tools/fuzz_benchmark.py --stages photos --photos 300   # predict's memory over real photos of many sizes

Each input comes from one of the generator families in `FAMILIES` (bit flips, truncation, header edits, bombs, chunk
and EXIF floods, run-length bitmaps, progressive scans, polyglots, extreme shapes, every Pillow mode, random bytes),
round robin, each drawing from its own generator seeded by (seed, index): input `i` is the same on every machine
and in every run. For each stage the script reports the outcome counts, the slowest inputs and the largest (peak
memory of the decoding worker and of the calling process), and lists every crash (an exception that is not a
`FerError`, a malformed array, a `predict` entry whose error is not in words) and every input over its budget.
The generators are importable: `tests/test_fuzz.py` runs a small fixed sample of them, and the `image_input`
notebook builds its examples with them.
"""
from __future__ import annotations
import argparse, io, json, os, struct, subprocess, sys, tempfile, time, warnings, zlib
from pathlib import Path
import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MAX_FILE = 24 * 2**20        # the generators stop a little past the 20 MB cap (what lies beyond is refused by its size)


# ---------------------------------------------------------------- building blocks (used by the tests and notebook too)

def encode(img: Image.Image, fmt: str, **kw) -> bytes:
    "The bytes of `img` saved by Pillow as `fmt`."
    b = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', DeprecationWarning)        # Pillow 12 warns when saving mode I as PNG
        img.save(b, fmt, **kw)
    return b.getvalue()

def picture(rng, w: int, h: int) -> Image.Image:
    "A smooth RGB picture with a little noise (compresses like a photo, unlike pure noise)."
    y, x = np.mgrid[0:h, 0:w]
    c = rng.uniform(0, 6, 6)
    base = np.stack([np.sin(x / max(w, 1) * c[i] + y / max(h, 1) * c[i + 3]) for i in range(3)], -1) * 100 + 128
    return Image.fromarray(np.clip(base + rng.normal(0, 8, base.shape), 0, 255).astype(np.uint8))

_ASTRONAUT = None
def face_picture(rng) -> Image.Image:
    "scikit-image's astronaut (one face), at a random size: the seed that exercises detection downstream."
    global _ASTRONAUT
    if _ASTRONAUT is None:
        from skimage import data
        _ASTRONAUT = Image.fromarray(data.astronaut())
    s = int(rng.integers(96, 400))
    return _ASTRONAUT.resize((s, s))

def png_chunk(kind: bytes, data: bytes) -> bytes:
    "One PNG chunk with its length and a valid CRC."
    return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data))

def png_chunks(png: bytes) -> list[tuple[bytes, bytes]]:
    "The (kind, data) chunks of a well-formed PNG."
    out, pos = [], 8
    while pos + 8 <= len(png):
        n, kind = struct.unpack_from('>I4s', png, pos)
        out.append((kind, png[pos + 8:pos + 8 + n])); pos += 12 + n
    return out

def png_build(chunks) -> bytes:
    return b'\x89PNG\r\n\x1a\n' + b''.join(png_chunk(k, d) for k, d in chunks)

def png_claiming(w: int, h: int) -> bytes:
    "A tiny PNG whose header claims `w` x `h` pixels (valid checksums, almost no pixel data)."
    ihdr = struct.pack('>IIBBBBB', w, h, 8, 0, 0, 0, 0)
    return png_build([(b'IHDR', ihdr), (b'IDAT', zlib.compress(b'\0' * 64)), (b'IEND', b'')])

def png_insert(png: bytes, extra, after_idat: bool = False) -> bytes:
    "`png` with the chunks `extra` added after its header (or after its image data)."
    ch = png_chunks(png)
    at = max(i for i, (k, _) in enumerate(ch) if k == b'IDAT') + 1 if after_idat else 1
    return png_build(ch[:at] + list(extra) + ch[at:])

def png_chunk_flood(img: Image.Image, kind: bytes, n: int, size: int = 16, after_idat: bool = False) -> bytes:
    "`img` as a PNG carrying `n` metadata chunks of `kind` (tEXt, zTXt, iCCP, eXIf or any) of `size` bytes (once decompressed)."
    return png_insert(encode(img, 'PNG'), [(kind, _chunk_body(kind, size))] * n, after_idat)

def _chunk_body(kind: bytes, size: int) -> bytes:
    if kind == b'iCCP': return b'icc\0\0' + zlib.compress(b'\0' * size, 9)
    if kind == b'zTXt': return b'Comment\0\0' + zlib.compress(b'a' * size, 9)
    if kind == b'tEXt': return b'Comment\0' + b'a' * size
    return bytes(size)

def exif_flood(n_tags: int, region: int = 60_000, typ: int = 7, orientation: int | None = None, loop: bool = False) -> bytes:
    "A little-endian EXIF (TIFF) block of `n_tags` tags each pointing at the same `region` bytes; `loop` links the directory to itself."
    tags = [(0x0112, 3, 1, orientation)] if orientation is not None else []
    body = 8 + 2 + 12 * (n_tags + len(tags)) + 4
    tags += [(0x9000 + i % 0x6000, typ, region, body) for i in range(n_tags)]
    tags.sort(key=lambda t: t[0])
    return (b'II*\0' + struct.pack('<IH', 8, len(tags)) + b''.join(struct.pack('<HHII', *t) for t in tags)
            + struct.pack('<I', 8 if loop else 0) + bytes(region))

def jpeg_with_exif(img: Image.Image, tiff: bytes, **kw) -> bytes:
    "`img` as a JPEG with the EXIF block `tiff`, split over as many APP1 segments as it needs."
    jpg = encode(img.convert('RGB'), 'JPEG', **kw)
    step = 65_000
    segs = b''.join(b'\xff\xe1' + struct.pack('>H', len(p) + 8) + b'Exif\0\0' + p
                    for p in (tiff[i:i + step] for i in range(0, max(len(tiff), 1), step)))
    return jpg[:2] + segs + jpg[2:]

def webp_with_exif(img: Image.Image, tiff: bytes) -> bytes:
    "`img` as a WebP (extended format) carrying the EXIF block `tiff`."
    return encode(img.convert('RGB'), 'WEBP', exif=b'Exif\0\0' + tiff, lossless=True)

def jpeg_segments(jpg: bytes) -> tuple[bytes, list[bytes], bytes]:
    "A JPEG split into its header (up to the first scan), its scans (each with the tables just before it), and its end."
    pos, head, scans, pending = 2, None, [], b''
    while pos + 4 <= len(jpg):
        if jpg[pos] != 0xFF: break
        m = jpg[pos + 1]
        if m == 0xFF: pos += 1; continue
        if m == 0xD9: break
        if m == 0x01 or 0xD0 <= m <= 0xD7: pos += 2; continue
        end = pos + 2 + int.from_bytes(jpg[pos + 2:pos + 4], 'big')
        if m == 0xDA:                                # the scan's entropy-coded data runs to the next real marker
            while (end := jpg.find(b'\xff', end)) >= 0 and end + 1 < len(jpg) and (jpg[end + 1] == 0 or 0xD0 <= jpg[end + 1] <= 0xD7):
                end += 2
            end = len(jpg) if end < 0 else end
            if head is None: head = jpg[:pos]
            scans.append(pending + jpg[pos:end]); pending = b''
        elif head is not None: pending += jpg[pos:end]
        pos = end
    return (head if head is not None else jpg), scans, pending + b'\xff\xd9'

def progressive_scans(img: Image.Image, n: int, progressive: bool = True) -> bytes:
    "`img` as a JPEG of `n` scans: its own, then its smallest one repeated (each repeat is one more pass over the whole picture)."
    head, scans, end = jpeg_segments(encode(img.convert('RGB'), 'JPEG', progressive=progressive, quality=80))
    small = min(scans, key=len)
    n = min(n, len(scans) + MAX_FILE // len(small))              # never much past the byte cap: the file would be refused anyway
    return head + b''.join(scans) + small * max(0, n - len(scans)) + end

def bmp_rle(w: int, h: int, ops, bits: int = 8) -> bytes:
    "A run-length-coded BMP (RLE8, or RLE4 with `bits=4`) of `w` x `h` pixels made of the opcodes `ops` (tuples of bytes)."
    body = b''.join(bytes(o) for o in ops) + b'\0\1'
    colours = 1 << bits
    offset = 14 + 40 + 4 * colours
    info = struct.pack('<IiiHHIIiiII', 40, w, h, 1, bits, 1 if bits == 8 else 2, len(body), 2835, 2835, colours, 0)
    palette = b''.join(struct.pack('<BBBB', c % 256, (c * 7) % 256, (c * 13) % 256, 0) for c in range(colours))
    return b'BM' + struct.pack('<IHHI', offset + len(body), 0, 0, offset) + info + palette + body

def mode_image(img: Image.Image, mode: str) -> Image.Image:
    "`img` in Pillow mode `mode` (the 16-bit, 32-bit and float modes made from its grey levels)."
    grey = np.asarray(img.convert('L'))
    if mode == 'I;16': return Image.fromarray(grey.astype(np.uint16) * 257)
    if mode == 'I;16B': return Image.fromarray((grey.astype(np.uint16) * 257).astype('>u2'))
    if mode == 'I;16L': return Image.fromarray(grey.astype(np.uint16) * 257).convert('I;16L')
    if mode == 'I': return Image.fromarray(grey.astype(np.int32) * 1000)
    if mode == 'F': return Image.fromarray(grey.astype(np.float32) / 255)
    if mode == 'PA': return img.convert('P').convert('PA')
    return img.convert(mode)

MODES = ('1', 'L', 'LA', 'La', 'P', 'PA', 'RGB', 'RGBA', 'RGBa', 'RGBX', 'CMYK', 'YCbCr', 'LAB', 'HSV',
         'I', 'I;16', 'I;16B', 'I;16L', 'F')


# ---------------------------------------------------------------- generator families: rng -> bytes

def _seed_image(rng, max_side: int = 160) -> Image.Image:
    if rng.random() < 0.25: return face_picture(rng)
    return picture(rng, int(rng.integers(1, max_side)), int(rng.integers(1, max_side)))

def _seed_file(rng) -> bytes:
    "An ordinary file of a random format, mode and option set: what the mutations start from."
    img = _seed_image(rng)
    fmt = ('JPEG', 'PNG', 'WEBP', 'BMP')[int(rng.integers(4))]
    mode = {'JPEG': ('RGB', 'L', 'CMYK'), 'PNG': ('RGB', 'RGBA', 'L', 'LA', 'P', 'I;16', '1'),
            'WEBP': ('RGB', 'RGBA'), 'BMP': ('RGB', 'L', 'P', '1', 'RGBA')}[fmt]
    img = mode_image(img, mode[int(rng.integers(len(mode)))])
    kw = {}
    if fmt == 'JPEG': kw = dict(quality=int(rng.integers(5, 100)), progressive=bool(rng.random() < 0.4))
    if fmt == 'WEBP': kw = dict(lossless=bool(rng.random() < 0.5))
    if fmt == 'PNG' and rng.random() < 0.3: kw = dict(optimize=True)
    return encode(img, fmt, **kw)

def _value(rng) -> int:
    return int(rng.choice([0, 1, 2, 3, 7, 8, 15, 16, 255, 256, 4095, 65535, 65536, 2**31 - 1, 2**31, 2**32 - 1,
                           int(rng.integers(0, 2**32))]))

def gen_bitflip(rng) -> bytes:
    d = bytearray(_seed_file(rng))
    for _ in range(int(rng.integers(1, 24))):
        i = int(rng.integers(min(len(d), 256))) if rng.random() < 0.5 else int(rng.integers(len(d)))
        d[i] ^= 1 << int(rng.integers(8))
    return bytes(d)

def gen_truncate(rng) -> bytes:
    d = _seed_file(rng)
    cut = int(rng.integers(1, 64)) if rng.random() < 0.3 else int(rng.integers(1, len(d)))
    return d[:cut]

def gen_header_edit(rng) -> bytes:
    "A field of the header set to a boundary value: dimensions, depth, colour type, compression, offsets, chunk sizes."
    img = _seed_image(rng)
    fmt = ('JPEG', 'PNG', 'WEBP', 'BMP')[int(rng.integers(4))]
    if fmt == 'PNG':
        ch = png_chunks(encode(img, 'PNG'))
        ihdr = bytearray(ch[0][1])
        field = int(rng.integers(6))
        if field < 2: struct.pack_into('>I', ihdr, 4 * field, _value(rng))
        else: ihdr[6 + field] = int(rng.choice([0, 1, 2, 3, 4, 6, 7, 8, 16, 255]))
        ch[0] = (b'IHDR', bytes(ihdr))
        return png_build(ch)
    d = bytearray(encode(img.convert('RGB'), fmt))
    if fmt == 'BMP':
        pos, size = [(18, 4), (22, 4), (28, 2), (30, 4), (10, 4), (46, 4), (2, 4), (34, 4)][int(rng.integers(8))]
        d[pos:pos + size] = (_value(rng) % (1 << (8 * size))).to_bytes(size, 'little')
    elif fmt == 'JPEG':
        sof = d.find(b'\xff\xc0')
        pos, size = [(sof + 5, 2), (sof + 7, 2), (sof + 9, 1), (sof + 11, 1), (sof + 4, 1), (4, 2)][int(rng.integers(6))]
        d[pos:pos + size] = (_value(rng) % (1 << (8 * size))).to_bytes(size, 'big')
    else:
        pos, size = [(4, 4), (16, 4), (20, 4), (24, 2), (26, 2), (30, 4)][int(rng.integers(6))]
        d[pos:pos + size] = (_value(rng) % (1 << (8 * size))).to_bytes(size, 'little')
    return bytes(d)

def gen_bomb(rng) -> bytes:
    "Files that claim, or really hold, far more pixels than bytes."
    k = int(rng.integers(6))
    if k == 0: return png_claiming(int(rng.choice([10**5, 60_000, 2**31 - 1, 7000, 6400])), int(rng.choice([10**5, 60_000, 1, 7000, 6400])))
    if k == 1:                                                          # a real zlib bomb: all-zero rows
        w, h = int(rng.choice([4000, 6000, 6400, 7000, 20_000])), int(rng.choice([4000, 6000, 6400, 2000]))
        ihdr = struct.pack('>IIBBBBB', w, h, 8, 0, 0, 0, 0)
        return png_build([(b'IHDR', ihdr), (b'IDAT', zlib.compress(bytes((w + 1) * h), 9)), (b'IEND', b'')])
    if k == 2:                                                          # a JPEG header claiming 65,500 x 65,500
        d = bytearray(encode(picture(rng, 16, 16), 'JPEG')); sof = d.find(b'\xff\xc0')
        d[sof + 5:sof + 9] = struct.pack('>HH', int(rng.choice([65500, 30000, 8000])), int(rng.choice([65500, 30000, 5000])))
        return bytes(d)
    if k == 3:                                                          # a BMP header claiming a huge bitmap
        d = bytearray(encode(picture(rng, 8, 8), 'BMP'))
        d[18:26] = struct.pack('<ii', int(rng.choice([50_000, 7000, 2**31 - 1])), int(rng.choice([50_000, -7000, 6000])))
        return bytes(d)
    if k == 4:                                                          # a WebP canvas claiming up to 16,384 x 16,384
        d = bytearray(webp_with_exif(picture(rng, 16, 16), b'II*\0' + struct.pack('<IH', 8, 0) + bytes(4)))
        d[24:30] = (int(rng.choice([16383, 8191, 6999])) - 1).to_bytes(3, 'little') + (int(rng.choice([16383, 5999, 2])) - 1).to_bytes(3, 'little')
        return bytes(d)
    w, h = int(rng.choice([6000, 6400])), int(rng.choice([6000, 6200]))   # real but large: 36 to 40 MP of one colour
    return encode(Image.new('L', (w, h), int(rng.integers(256))), ('PNG', 'BMP', 'JPEG')[int(rng.integers(3))])

def gen_chunk_flood(rng) -> bytes:
    "PNGs with up to 18 MB of metadata chunks: compressed ones (colour profiles, text) each inflating to up to 1 MB."
    img = picture(rng, int(rng.integers(8, 96)), int(rng.integers(8, 96)))
    kind = [b'tEXt', b'zTXt', b'iCCP', b'eXIf', b'abCd', b'iTXt', b'sPLT'][int(rng.integers(7))]
    size = int(np.exp(rng.uniform(0, np.log(2_000_000))))
    if kind in (b'iCCP', b'zTXt') and rng.random() < 0.5: size = 1_000_000
    body = _chunk_body(kind, size)
    n = max(1, min(int(np.exp(rng.uniform(np.log(2), np.log(40_000)))), 18_000_000 // (len(body) + 12)))
    return png_insert(encode(img, 'PNG'), [(kind, body)] * n, after_idat=bool(rng.random() < 0.3))

def gen_exif_flood(rng) -> bytes:
    img = picture(rng, int(rng.integers(8, 96)), int(rng.integers(8, 96)))
    n = int(np.exp(rng.uniform(0, np.log(20_000))))
    region = int(np.exp(rng.uniform(0, np.log(4_000_000))))
    region = min(region, 18_000_000 // 2)
    tiff = exif_flood(n, region, typ=int(rng.choice([1, 2, 3, 4, 5, 7, 10, 12])),
                      orientation=int(rng.choice([1, 3, 6, 8, 0, 9, 65535])) if rng.random() < 0.5 else None,
                      loop=bool(rng.random() < 0.3))
    where = int(rng.integers(3))
    if where == 0 and len(tiff) < 4_000_000: return jpeg_with_exif(img, tiff)
    if where == 1: return encode(img, 'PNG', exif=b'Exif\0\0' + tiff)
    return webp_with_exif(img, tiff)

def _rle_absolute(rng, bits: int) -> tuple:
    "An absolute-mode RLE opcode: `n` literal pixels, padded to a 16-bit boundary."
    n = int(rng.integers(3, 256))
    k = n if bits == 8 else (n + 1) // 2
    return (0, n) + tuple(rng.integers(0, 256, k + (k & 1)).tolist())

def gen_rle(rng) -> bytes:
    "Run-length-coded bitmaps, up to 40 million pixels wide, of runs, end-of-line and delta codes and literals."
    bits = int(rng.choice([8, 4]))
    h = int(rng.choice([1, 2, 16, 100, 1000]))
    w = max(1, int(rng.choice([1, 7, 64, 1000, 4000, 100_000, 4_000_000, 40_000_000])) // (h if rng.random() < 0.5 else 1))
    ops = []
    for _ in range(int(rng.integers(1, 3000))):
        k = int(rng.integers(5))
        if k == 0: ops.append((int(rng.integers(1, 256)), int(rng.integers(256))))      # a run
        elif k == 1: ops.append((0, 0))                                               # end of line
        elif k == 2: ops.append((0, 2, int(rng.integers(256)), int(rng.integers(256))))  # delta: jump right and up
        elif k == 3: ops.append(_rle_absolute(rng, bits))
        else: ops.append((1, int(rng.integers(256)), 0, 0))                          # one pixel, then end of line
    if rng.random() < 0.3: ops = [(1, 5, 0, 0)] * int(rng.integers(1000, 200_000))    # an end-of-line flood
    return bmp_rle(w, h if rng.random() < 0.8 else -h, ops, bits)

def gen_progressive(rng) -> bytes:
    "JPEGs of up to 20,000 scans; half of them large pictures in one flat colour, whose scans are a few bytes each."
    n = int(np.exp(rng.uniform(np.log(5), np.log(20_000))))
    if rng.random() < 0.5:
        img = Image.new('RGB', (int(rng.integers(500, 6500)), int(rng.integers(500, 6500))), tuple(rng.integers(0, 256, 3).tolist()))
    else: img = picture(rng, int(rng.integers(16, 512)), int(rng.integers(16, 512)))
    return progressive_scans(img, n, progressive=bool(rng.random() < 0.85))

def gen_polyglot(rng) -> bytes:
    img = _seed_image(rng, 96)
    a, b = _seed_file(rng), encode(img.convert('RGB'), ('JPEG', 'PNG', 'WEBP', 'BMP')[int(rng.integers(4))])
    html = b'<html><script>alert(1)</script></html>'
    zipf = b'PK\x03\x04' + bytes(rng.integers(0, 256, 200, np.uint8))
    k = int(rng.integers(8))
    if k == 0: return a + zipf                                       # image, then an archive
    if k == 1: return a + html
    if k == 2: return html + a                                       # text, then an image: not an image
    if k == 3: return a + b                                          # two images end to end
    if k == 4: return png_insert(encode(img.convert('RGB'), 'PNG'), [(b'jpEg', b)])   # a file inside a chunk
    if k == 5: return b'GIF89a' + a[6:]                              # a GIF header on another format
    if k == 6: return jpeg_with_exif(img, b'II*\0' + struct.pack('<I', 8) + b)  # an image inside the EXIF
    return b'RIFF' + struct.pack('<I', len(a) + 4) + b'WEBP' + a     # a RIFF wrapper round another format

def gen_shape(rng) -> bytes:
    "Valid images of extreme shapes: 1 pixel wide, 1 pixel tall, or both."
    fmt = ('JPEG', 'PNG', 'WEBP', 'BMP')[int(rng.integers(4))]
    top = {'JPEG': 65500, 'WEBP': 16383, 'PNG': 4_000_000, 'BMP': 1_000_000}[fmt]
    short = int(rng.choice([1, 1, 2, 3, 7, 16]))
    long = min(int(np.exp(rng.uniform(0, np.log(top)))), 48_000_000 // short)   # up to a little past the pixel cap
    w, h = (long, short) if rng.random() < 0.5 else (short, long)
    if rng.random() < 0.2: w = h = int(rng.choice([1, 2, 3]))
    arr = np.full((h, w, 3), rng.integers(0, 256, 3), np.uint8)
    if w * h < 2_000_000: arr = (arr + rng.integers(0, 16, arr.shape)).astype(np.uint8)
    return encode(Image.fromarray(arr), fmt)

def gen_modes(rng) -> bytes:
    "Every Pillow mode in every format that will save it, and the formats' own variants."
    img = _seed_image(rng, 120)
    mode = MODES[int(rng.integers(len(MODES)))]
    for fmt in [('JPEG', 'PNG', 'WEBP', 'BMP')[int(i)] for i in rng.permutation(4)]:
        kw = {}
        if fmt == 'PNG' and mode == 'P' and rng.random() < 0.5: kw = dict(transparency=int(rng.integers(256)))
        if fmt == 'BMP' and rng.random() < 0.3 and mode in ('RGB', 'RGBA'): kw = {}
        if fmt == 'JPEG': kw = dict(subsampling=int(rng.integers(3)), quality=int(rng.integers(1, 101)), progressive=bool(rng.random() < 0.5))
        if fmt == 'WEBP': kw = dict(lossless=bool(rng.random() < 0.5), quality=int(rng.integers(0, 101)))
        try: return encode(mode_image(img, mode), fmt, **kw)
        except Exception: continue
    return encode(img, 'PNG')

def gen_random(rng) -> bytes:
    n = int(np.exp(rng.uniform(0, np.log(100_000))))
    junk = rng.integers(0, 256, n, np.uint8).tobytes()
    magic = [b'', b'\xff\xd8\xff', b'\x89PNG\r\n\x1a\n', b'BM', b'RIFF\0\0\0\0WEBPVP8 ', b'GIF89a', b'II*\0'][int(rng.integers(7))]
    return magic + junk

def gen_mix(rng) -> bytes:
    "Several mutations at once: a header edit, bit flips, chunks duplicated or dropped, a cut."
    d = gen_header_edit(rng) if rng.random() < 0.5 else _seed_file(rng)
    if d[:8] == b'\x89PNG\r\n\x1a\n' and rng.random() < 0.5:
        ch = png_chunks(d)
        i = int(rng.integers(len(ch)))
        ch = ch[:i] + [ch[i]] * int(rng.integers(0, 50)) + ch[i + 1:]
        d = png_build(ch)
    d = bytearray(d)
    for _ in range(int(rng.integers(0, 6))): d[int(rng.integers(len(d)))] = int(rng.integers(256))
    if rng.random() < 0.3: d = d[:int(rng.integers(1, len(d) + 1))]
    return bytes(d) or b'\0'

FAMILIES = dict(bitflip=gen_bitflip, truncate=gen_truncate, header_edit=gen_header_edit, bomb=gen_bomb,
                chunk_flood=gen_chunk_flood, exif_flood=gen_exif_flood, rle=gen_rle, progressive=gen_progressive,
                polyglot=gen_polyglot, shape=gen_shape, modes=gen_modes, random=gen_random, mix=gen_mix)

def case(i: int, seed: int = 0) -> tuple[str, bytes]:
    "Input number `i` of the run with `seed`: its family (round robin) and its bytes, the same on every machine."
    name = list(FAMILIES)[i % len(FAMILIES)]
    rng = np.random.default_rng([seed, i])
    try: return name, FAMILIES[name](rng)
    except Exception as e:                      # a generator's own failure is a bug of this script: make it loud
        raise RuntimeError(f'generator {name} failed on case {i}: {e!r}') from e


# ---------------------------------------------------------------- measuring

def _status(pid: int | str = 'self') -> dict[str, int]:
    "VmRSS and VmHWM (peak) of a process, in bytes (empty if it is gone)."
    try:
        with open(f'/proc/{pid}/status') as f:
            return {k: int(v.split()[0]) * 1024 for k, v in (l.split(':', 1) for l in f) if k in ('VmRSS', 'VmHWM')}
    except OSError: return {}

def _reset_peak(pid: int | str = 'self') -> None:
    "Start a new peak-memory measurement for a process."
    try:
        with open(f'/proc/{pid}/clear_refs', 'w') as f: f.write('5')
    except OSError: pass

_caps: dict[int, int] = {}
def _cap(pid: int) -> int:
    "A worker's address-space cap (its own size when it started plus `MEMORY_LIMIT`), in bytes."
    if pid not in _caps:
        try: _caps[pid] = int(next(l for l in open(f'/proc/{pid}/limits') if l.startswith('Max address space')).split()[3])
        except (OSError, StopIteration, ValueError): return 2**63
    return _caps[pid]

def category(e: BaseException) -> str:
    "An outcome name for an error: what kind of refusal it is, or 'crash' for anything that is not a `FerError`."
    from fer_emotion.core import FerError
    if not isinstance(e, FerError): return 'crash'
    m = str(e)
    for key, name in (('takes over', 'too_complex_time'), ('GB of memory', 'too_complex_memory'), ('too complex', 'too_complex_structure'),
                      ('too many pixels', 'too_many_pixels'), ('megapixels', 'too_many_pixels'), ('over the limit', 'too_large'),
                      ('not an image', 'not_an_image'), ('truncated or corrupt', 'corrupt'), ('no pixels', 'no_pixels'),
                      ('empty', 'empty'), ('not a regular file', 'not_a_regular_file')):
        if key in m: return name
    return 'other_error'

def _summary(rows: list[dict], budget_key: str = 'over_budget') -> dict:
    "Outcome counts, the slowest and largest inputs, and every crash and input over budget, of one stage's rows."
    from collections import Counter
    def brief(r, *keys): return {k: r[k] for k in ('case', 'family', 'bytes', *keys) if k in r}
    slow = sorted(rows, key=lambda r: -r['wall'])[:5]
    big = sorted(rows, key=lambda r: -r.get('peak', 0))[:5]
    return dict(inputs=len(rows), outcomes=dict(Counter(r['outcome'] for r in rows).most_common()),
                by_family={f: dict(Counter(r['outcome'] for r in rows if r['family'] == f).most_common()) for f in FAMILIES},
                crashes=[brief(r, 'detail') for r in rows if r['outcome'] in ('crash', 'malformed')],
                over_budget=[brief(r, 'wall', 'cpu', 'peak', 'why') for r in rows if r.get(budget_key)],
                wall_s=dict(median=float(np.median([r['wall'] for r in rows])) if rows else 0.,
                            p99=float(np.percentile([r['wall'] for r in rows], 99)) if rows else 0.),
                slowest=[brief(r, 'outcome', 'wall', 'cpu') for r in slow],
                largest=[brief(r, 'outcome', 'peak') for r in big])

def run_read(n: int, seed: int, log, checks: bool = True) -> dict:
    "Every input through `read_image`: outcome, wall time, the worker's CPU time, peak memory of the worker and of this process; without the structural `checks`, straight to the workers."
    from fer_emotion.image_input import read_image, pool, time_budget, MAX_PIXELS, MAX_BYTES, WALL_FACTOR, MEMORY_LIMIT
    if not checks:
        def read_image(data):                                   # noqa: F811: the same gate minus the structural checks
            if len(data) > MAX_BYTES: from fer_emotion.image_input import ImageError; raise ImageError('over the limit')
            return pool().decode(data, MAX_PIXELS)
    p = pool(); read_image(encode(picture(np.random.default_rng(0), 8, 8), 'PNG'))   # warm
    base = {pid: _status(pid).get('VmRSS', 0) for pid in p.pids()}
    rows = []
    for i in range(n):
        fam, data = case(i, seed)
        pids = p.pids()
        for pid in pids: _reset_peak(pid)
        _reset_peak(); mine = _status().get('VmRSS', 0)
        t = time.perf_counter(); pixels = MAX_PIXELS
        try:
            rgb = read_image(data); pixels = rgb.shape[0] * rgb.shape[1]
            out = 'ok' if rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.size and rgb.flags.c_contiguous else 'malformed'
            detail = f'{rgb.dtype} {rgb.shape}'
        except Exception as e: out, detail = category(e), f'{type(e).__name__}: {e}'
        wall = time.perf_counter() - t
        alive = [pid for pid in pids if pid in p.pids()]
        worker_peak = max([_status(pid).get('VmHWM', 0) - base.get(pid, 0) for pid in alive] or [0])
        over_cap = any(_status(pid).get('VmHWM', 0) > _cap(pid) for pid in alive)   # the cap: address space at start + 1 GB
        own_peak = _status().get('VmHWM', 0) - mine
        for pid in p.pids(): base.setdefault(pid, _status(pid).get('VmRSS', 0))
        b = time_budget(pixels)
        why = [w for w, bad in (('cpu', p.last_cpu > b + 0.3), ('wall', wall > WALL_FACTOR * b + 1.0),
                                ('memory', over_cap or own_peak > MEMORY_LIMIT)) if bad]
        rows.append(dict(case=i, family=fam, bytes=len(data), outcome=out, wall=wall, cpu=p.last_cpu,
                         peak=max(worker_peak, own_peak), over_budget=bool(why), why=why, detail=detail[:300]))
        if log and (i + 1) % 500 == 0: print(f'read_image{"" if checks else " (no checks)"}: {i + 1}/{n}', file=log, flush=True)
    return _summary(rows)

DOWNSTREAM_LIMIT = 2.0   # seconds of wall clock for detection and classification of one decoded image

def run_recognizer(n: int, seed: int, detector: str, log) -> dict:
    "Every input through the recognizer: decoding (bounded by `read_image`) and then detection and classification."
    from fer_emotion.image_input import read_image, pool, time_budget, MAX_PIXELS, WALL_FACTOR, MEMORY_LIMIT
    from fer_emotion.pipeline import get_recognizer
    rec = get_recognizer(detector)
    rows = []
    for i in range(n):
        fam, data = case(i, seed)
        _reset_peak(); mine = _status().get('VmRSS', 0)
        t = time.perf_counter(); t_read = 0.; pixels = MAX_PIXELS
        try:
            rgb = read_image(data); t_read = time.perf_counter() - t; pixels = rgb.shape[0] * rgb.shape[1]
            faces = rec(rgb)
            out, detail = 'ok', f'{len(faces)} faces in {rgb.shape}'
        except Exception as e:
            out, detail = category(e), f'{type(e).__name__}: {e}'
            if not t_read: t_read = time.perf_counter() - t
        wall = time.perf_counter() - t
        peak = _status().get('VmHWM', 0) - mine
        b = time_budget(pixels)
        why = [w for w, bad in (('decode', t_read > WALL_FACTOR * b + 1.0), ('downstream', wall - t_read > DOWNSTREAM_LIMIT),
                                ('memory', peak > MEMORY_LIMIT)) if bad]
        rows.append(dict(case=i, family=fam, bytes=len(data), outcome=out, wall=wall, cpu=pool().last_cpu,
                         downstream=wall - t_read, peak=peak, over_budget=bool(why), why=why, detail=detail[:300]))
        if log and (i + 1) % 500 == 0: print(f'recognizer: {i + 1}/{n}', file=log, flush=True)
    s = _summary(rows)
    s['slowest_downstream'] = [dict(case=r['case'], family=r['family'], downstream=r['downstream'], detail=r['detail'])
                               for r in sorted(rows, key=lambda r: -r['downstream'])[:5]]
    return s

def _special_files(d: Path) -> list[str]:
    "Inputs `predict` must answer in words: a named pipe, a device, a 2 GB sparse file, a name that is not UTF-8, an empty folder."
    os.mkfifo(d/'fifo.jpg')
    os.symlink('/dev/zero', d/'zero.png')
    with open(d/'sparse.jpg', 'wb') as f: f.truncate(2**31)
    with open(os.fsencode(d) + b'/odd_\xff\xfe.png', 'wb') as f: f.write(encode(picture(np.random.default_rng(0), 32, 32), 'PNG'))
    (d/'empty_folder').mkdir()
    return [str(d/'empty_folder')]

def run_predict(n: int, seed: int, detector: str | None, batch: int, log) -> dict:
    "All inputs as files, in folders of `batch` with two real photos each, through `fer-emotion predict --json`."
    from skimage import data as skdata
    rows, runs = [], []
    photo = encode(Image.fromarray(skdata.astronaut()), 'JPEG', quality=92)
    for start in range(0, n, batch):
        with tempfile.TemporaryDirectory(prefix='fuzz_predict_') as d:
            d = Path(d); fam_of = {}
            for i in range(start, min(n, start + batch)):
                fam, data = case(i, seed)
                ext = ('.jpg', '.png', '.webp', '.bmp', '.JPEG')[i % 5]
                name = f'{i:05d}_{fam}{ext}'; fam_of[name] = (i, fam, len(data))
                (d/name).write_bytes(data)
            (d/'photo_a.jpg').write_bytes(photo); (d/'zz_photo_b.jpg').write_bytes(photo)
            extra = _special_files(d) if start == 0 else []
            cmd = [sys.executable, '-c', 'import sys; from fer_emotion.cli import main; sys.exit(main())', 'predict', str(d), *extra, '--json'] + (['--detector', detector] if detector else [])
            t0 = time.perf_counter()
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
            import threading
            err = []; threading.Thread(target=lambda: err.append(proc.stderr.read()), daemon=True).start()
            lines, stamps, rss = [], [], []
            last_sample = 0.
            for line in iter(proc.stdout.readline, b''):
                lines.append(line)
                if line.startswith(b'  "image": '): stamps.append(time.perf_counter())
                if time.perf_counter() - last_sample > 1: rss.append(_status(proc.pid).get('VmRSS', 0)); last_sample = time.perf_counter()
            _, status, usage = os.wait4(proc.pid, 0)
            code = os.waitstatus_to_exitcode(status)
            text = b''.join(lines)
            try: res = json.loads(text)
            except ValueError as e:
                runs.append(dict(start=start, exit=code, json=False, detail=str(e), stderr=(err or [b''])[0][-2000:].decode('utf-8', 'replace')))
                print(f'predict batch {start}: NO JSON (exit {code})', file=log, flush=True); continue
            runs.append(dict(start=start, exit=code, json=True, entries=len(res), expected=len(fam_of) + 2 + (5 if extra else 0),
                             seconds=time.perf_counter() - t0, peak_rss_with_workers=usage.ru_maxrss * 1024,
                             rss_first=rss[0] if rss else 0, rss_last=rss[-1] if rss else 0, rss_max=max(rss or [0]),
                             photo_faces=[len(r['faces']) for r in res if os.path.basename(r['image']) in ('photo_a.jpg', 'zz_photo_b.jpg')],
                             specials={os.path.basename(r['image']): r['error'] for r in res if not os.path.basename(r['image'])[:5].isdigit()
                                       and 'photo' not in r['image']}))
            for k, r in enumerate(res):
                name = os.path.basename(r['image'])
                if name not in fam_of: continue
                i, fam, size = fam_of[name]
                err_text = r['error'] or ''
                out = 'ok' if r['error'] is None else ('crash' if 'Internal error' in err_text or not err_text.strip() else category(_as_fer(err_text)))
                wall = stamps[k] - stamps[k - 1] if 0 < k < len(stamps) else 0.
                rows.append(dict(case=i, family=fam, bytes=size, outcome=out, wall=wall, over_budget=wall > 3 * 4.0 + DOWNSTREAM_LIMIT,
                                 why=['wall'] if wall > 3 * 4.0 + DOWNSTREAM_LIMIT else [], detail=err_text[:300]))
            print(f'predict: {min(n, start + batch)}/{n} (exit {code})', file=log, flush=True)
    s = _summary(rows)
    s['runs'] = runs
    s['runs_without_json'] = sum(not r['json'] for r in runs)
    s['entries_missing'] = sum(r['expected'] - r['entries'] for r in runs if r['json'])
    s['photos'] = sum(len(r['photo_faces']) for r in runs if r['json'])
    s['photos_with_their_face'] = sum(f == 1 for r in runs if r['json'] for f in r['photo_faces'])
    return s

def _as_fer(message: str):
    from fer_emotion.core import FerError
    return FerError(message)

def _cpu_ns() -> int:
    "CPU time, in nanoseconds, of this process and of its decoding workers together."
    from fer_emotion.image_input import pool
    total = time.process_time_ns()
    for pid in pool().pids():                                   # idle workers: their counters are up to date
        try:
            with open(f'/proc/{pid}/schedstat') as f: total += int(f.read().split()[0])
        except OSError: pass
    return total

def run_overhead(reps: int = 40) -> dict:
    "What the budget costs an ordinary photo: `read_image` against Pillow decoding in this process (what `read_image` did before), interleaved; medians."
    from fer_emotion.image_input import read_image, check_structure, decode
    from fer_emotion.core import data_dir
    from PIL import ImageOps
    def plain(f):                                               # the old read_image: decode and orient here, no checks
        img = Image.open(io.BytesIO(f)); img.load(); return np.asarray(ImageOps.exif_transpose(img).convert('RGB'))
    rng = np.random.default_rng(0)
    photos = {'48x48 PNG (a FER-2013 face)': [encode(picture(rng, 48, 48).convert('L'), 'PNG')],
              '640x480 JPEG': [encode(face_picture(rng).resize((640, 480)), 'JPEG', quality=90)],
              '4000x3000 JPEG (12 MP)': [encode(face_picture(rng).resize((4000, 3000)), 'JPEG', quality=90)],
              '4000x3000 progressive JPEG (12 MP)': [encode(face_picture(rng).resize((4000, 3000)), 'JPEG', quality=90, progressive=True)]}
    fddb = data_dir()/'face_detection'/'fddb_folds_1-4'/'images'
    if fddb.is_dir(): photos['FDDB photos (20 JPEGs, 450 px on the long side)'] = [p.read_bytes() for p in sorted(fddb.glob('*.jpg'))[:20]]
    out = {}
    for name, files in photos.items():
        for f in files: read_image(f)
        big = len(files[0]) > 5e5
        iso, old, chk, iso_cpu, old_cpu = [], [], [], [], []
        for _ in range(max(5, reps // 4) if big else max(3, reps // len(files))):
            for f in files:
                c = _cpu_ns(); t = time.perf_counter(); read_image(f); iso.append(time.perf_counter() - t); iso_cpu.append(_cpu_ns() - c)
                c = _cpu_ns(); t = time.perf_counter(); plain(f); old.append(time.perf_counter() - t); old_cpu.append(_cpu_ns() - c)
                t = time.perf_counter(); check_structure(f); chk.append(time.perf_counter() - t)
        iso, old, chk = np.array(iso) * 1e3, np.array(old) * 1e3, np.array(chk) * 1e3
        iso_cpu, old_cpu = np.array(iso_cpu) / 1e6, np.array(old_cpu) / 1e6
        out[name] = dict(calls=len(iso), read_image_ms=float(np.median(iso)), in_process_ms=float(np.median(old)),
                         checks_ms=float(np.median(chk)), overhead_ms=float(np.median(iso - old)),
                         overhead_p90_ms=float(np.percentile(iso - old, 90)),
                         cpu_read_image_ms=float(np.median(iso_cpu)), cpu_in_process_ms=float(np.median(old_cpu)),
                         cpu_overhead_ms=float(np.median(iso_cpu - old_cpu)))
    return out


def run_legit(log) -> dict:
    "Ordinary images at the pixel cap (40 megapixels), in every format and the costly modes (byte cap lifted): all must decode within the budget."
    from fer_emotion.image_input import read_image, pool
    base = face_picture(np.random.default_rng(0)).resize((7300, 5470))
    alpha = np.asarray(base.convert('RGBA')).copy(); alpha[..., 3] = np.random.default_rng(0).integers(150, 256, alpha.shape[:2])
    alpha = Image.fromarray(alpha)
    cases = {'JPEG': lambda: encode(base, 'JPEG', quality=95), 'JPEG progressive': lambda: encode(base, 'JPEG', quality=95, progressive=True),
             'JPEG CMYK': lambda: encode(base.convert('CMYK'), 'JPEG', quality=90), 'PNG RGB': lambda: encode(base, 'PNG'),
             'PNG RGBA': lambda: encode(alpha, 'PNG'), 'PNG 16-bit grey': lambda: encode(mode_image(base, 'I;16'), 'PNG'),
             'PNG palette': lambda: encode(base.convert('P'), 'PNG'), 'WebP 16383x2441': lambda: encode(base.resize((16383, 2441)), 'WEBP', quality=90),
             'WebP lossless with alpha 16383x2441': lambda: encode(alpha.resize((16383, 2441)), 'WEBP', lossless=True, quality=100, method=4),
             'BMP 24-bit 4000x1740 (20 MB)': lambda: encode(base.resize((4000, 1740)), 'BMP')}
    out = {}
    for name, make in cases.items():
        data = make(); t = time.perf_counter()
        try: rgb = read_image(data, max_bytes=max(len(data), 20 * 2**20)); res = f'ok {rgb.shape[1]}x{rgb.shape[0]}'
        except Exception as e: res = f'{type(e).__name__}: {e}'
        out[name] = dict(bytes=len(data), outcome=res, wall=time.perf_counter() - t, cpu=pool().last_cpu)
        print(f'legit {name}: {res}', file=log, flush=True)
    return out


def run_photos(n: int, detector: str | None, log) -> dict:
    "`n` real photos of many sizes (FDDB) through one `fer-emotion predict --json`: the process's memory as it goes (VmRSS, VmHWM) and its time per photo."
    from fer_emotion.core import data_dir
    fddb = data_dir()/'face_detection'/'fddb_folds_1-4'/'images'
    if not fddb.is_dir(): return dict(skipped=f'no FDDB photos at {fddb}')
    files = sorted(fddb.glob('*.jpg'))[:n]
    with tempfile.TemporaryDirectory(prefix='fuzz_photos_') as d:
        for f in files: (Path(d)/f.name).write_bytes(f.read_bytes())
        cmd = [sys.executable, '-c', 'import sys; from fer_emotion.cli import main; sys.exit(main())', 'predict', d, '--json'] + (['--detector', detector] if detector else [])
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT)
        rss, stamps, lines, hwm = [], [], [], 0
        for line in iter(proc.stdout.readline, b''):
            lines.append(line)
            if line.startswith(b'  "image": '):
                m = _status(proc.pid); stamps.append(time.perf_counter()); rss.append(m.get('VmRSS', 0)); hwm = max(hwm, m.get('VmHWM', 0))
        code = proc.wait()
    res = json.loads(b''.join(lines))
    sizes = {Image.open(f).size for f in files}
    mb = lambda b: round(b / 2**20)
    out = dict(photos=len(res), exit=code, distinct_sizes=len(sizes), faces=sum(len(r['faces']) for r in res),
               errors=sum(r['error'] is not None for r in res), rss_mb_after=[mb(r) for r in rss[::max(1, len(rss) // 10)]],
               rss_mb_last=mb(rss[-1]) if rss else 0, peak_rss_mb=mb(hwm),
               seconds_per_photo=float(np.median(np.diff(stamps))) if len(stamps) > 1 else 0.)
    print(f'photos: {out}', file=log, flush=True)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--n', type=int, default=800 * len(FAMILIES), help='inputs (default: 800 per family)')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--stages', default='read,budget,recognizer,predict,legit,overhead,photos',
                    help='read: read_image; budget: the workers alone, without the structural checks; recognizer; predict; '
                         'legit: ordinary images at the pixel cap; overhead: the cost to an ordinary photo; '
                         'photos: predict\'s memory over real photos of many sizes')
    ap.add_argument('--photos', type=int, default=50, help='real photos for the photos stage')
    ap.add_argument('--detector', default=None, help='recognizer and predict detector (default: the package default)')
    ap.add_argument('--batch', type=int, default=1000, help='inputs per predict run')
    ap.add_argument('--out', default=str(ROOT/'logs'/'fuzz'))
    ap.add_argument('--overhead-only', action='store_true')
    a = ap.parse_args(argv)
    from fer_emotion.detect import DEFAULT_DETECTOR
    stages = ['overhead'] if a.overhead_only else a.stages.split(',')
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    report = dict(n=a.n, seed=a.seed, detector=a.detector or DEFAULT_DETECTOR, families=list(FAMILIES), machine=f'{os.cpu_count()} cores')
    log = sys.stderr
    for st in stages:
        t = time.perf_counter()
        if st == 'read': report['read_image'] = run_read(a.n, a.seed, log)
        elif st == 'budget': report['budget_only'] = run_read(a.n, a.seed, log, checks=False)
        elif st == 'recognizer': report['recognizer'] = run_recognizer(a.n, a.seed, a.detector or DEFAULT_DETECTOR, log)
        elif st == 'predict': report['predict'] = run_predict(a.n, a.seed, a.detector, a.batch, log)
        elif st == 'overhead': report['overhead'] = run_overhead()
        elif st == 'legit': report['legit'] = run_legit(log)
        elif st == 'photos': report['photos'] = run_photos(a.photos, a.detector, log)
        report.setdefault('stage_seconds', {})[st] = time.perf_counter() - t
        (out/'summary.json').write_text(json.dumps(report, indent=1))
        print(f'{st}: done in {time.perf_counter() - t:.0f} s', file=log, flush=True)
    print(json.dumps({k: (v['outcomes'] if isinstance(v, dict) and 'outcomes' in v else v) for k, v in report.items()
                      if k in ('read_image', 'budget_only', 'recognizer', 'predict', 'legit', 'overhead', 'photos')}, indent=1))
    bad = sum(len(report[k]['crashes']) + len(report[k]['over_budget']) for k in ('read_image', 'budget_only', 'recognizer', 'predict') if k in report)
    if 'predict' in report:
        p = report['predict']
        bad += p['runs_without_json'] + p['entries_missing'] + p['photos'] - p['photos_with_their_face']
    return 1 if bad else 0

if __name__ == '__main__':
    sys.exit(main())
