#!/usr/bin/python3
"""check_safetensors.py — an independent reader of safetensors files, to cross-check locus' writer and
reader (src/io/safetensors.c) without the safetensors package (not in Debian).

Uses only json + struct. Validates the layout (spec data-formats.md §7: header length, JSON object,
dtype/shape/data_offsets per entry, byte counts, no overlaps or holes) and prints, tab-separated:
    meta<TAB>KEY<TAB>"VALUE"                  for each __metadata__ pair (value as a JSON string)
    NAME<TAB>DTYPE<TAB>[d0, d1]<TAB>SUM         for each tensor, in header order
SUM is the sum of the elements accumulated left to right in double precision (a plain loop, not
math.fsum or sum(), so C code accumulating the same way gets the identical double), printed with repr();
"n/a" for dtypes struct cannot decode (F16 is decoded; BF16 and F8 are not).
Exit status 0 when the file is valid, 1 (message on stderr) when it is not.
With --status FILE..., checks many files in one run (one Python start-up) and prints one line per file,
"PATH<TAB>ok" or "PATH<TAB>bad: reason"; exit status 0.

Usage: /usr/bin/python3 tools/ref/check_safetensors.py FILE.safetensors
       /usr/bin/python3 tools/ref/check_safetensors.py --status FILE...
"""
import json
import struct
import sys

SIZES = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
         "I32": 4, "U32": 4, "F32": 4, "F64": 8, "I64": 8, "U64": 8}
CODES = {"BOOL": "?", "U8": "B", "I8": "b", "I16": "h", "U16": "H", "F16": "e", "I32": "i", "U32": "I",
         "F32": "f", "F64": "d", "I64": "q", "U64": "Q"}


class Invalid(Exception):
    pass


def fail(msg):
    raise Invalid(msg)


def check(path):
    """The report lines for a valid file; raises Invalid (or a json/unicode/type error) otherwise."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        fail("file shorter than 8 bytes")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > 100000000 or n > len(blob) - 8:
        fail("bad header length %d" % n)
    raw = blob[8:8 + n]
    if not raw.startswith(b"{"):
        fail("header does not start with '{'")
    header = json.loads(raw.decode("utf-8"), object_pairs_hook=lambda pairs: pairs)
    buf = blob[8 + n:]
    names = set()
    spans = []
    out = []
    for name, entry in header:
        if name == "__metadata__":
            for k, v in entry:
                if not isinstance(v, str):
                    fail("metadata value of %r is not a string" % k)
                out.append("meta\t%s\t%s" % (k, json.dumps(v)))
            continue
        if name in names:
            fail("duplicate name %r" % name)
        names.add(name)
        e = dict(entry)
        if set(e) != {"dtype", "shape", "data_offsets"}:
            fail("entry %r has fields %s" % (name, sorted(e)))
        dtype, shape, (begin, end) = e["dtype"], e["shape"], e["data_offsets"]
        if dtype not in SIZES:
            fail("entry %r has unknown dtype %r" % (name, dtype))
        numel = 1
        for d in shape:
            if not isinstance(d, int) or d < 0:
                fail("entry %r has a bad shape" % name)
            numel *= d
        if not (0 <= begin <= end <= len(buf)) or end - begin != numel * SIZES[dtype]:
            fail("entry %r has bad data_offsets" % name)
        spans.append((begin, end, name))
        if dtype in CODES:
            vals = struct.unpack("<%d%s" % (numel, CODES[dtype]), buf[begin:end])
            s = 0.0
            for v in vals:
                s += float(v)
            total = repr(s)
        else:
            total = "n/a"
        out.append("%s\t%s\t[%s]\t%s" % (name, dtype, ", ".join(str(d) for d in shape), total))
    pos = 0
    for begin, end, name in sorted(spans):
        if begin != pos:
            fail("tensor %r starts at %d, expected %d (overlap or hole)" % (name, begin, pos))
        pos = end
    if pos != len(buf):
        fail("%d bytes at the end of the buffer belong to no tensor" % (len(buf) - pos))
    return out


def main():
    args = sys.argv[1:]
    if args and args[0] == "--status":
        for path in args[1:]:
            try:
                check(path)
                print("%s\tok" % path)
            except Exception as e:  # any failure to read the file counts as "invalid"
                print("%s\tbad: %s" % (path, e))
        return 0
    if len(args) != 1:
        sys.stderr.write("usage: check_safetensors.py FILE | --status FILE...\n")
        return 2
    try:
        out = check(args[0])
    except Exception as e:
        sys.stderr.write("check_safetensors: %s: %s\n" % (args[0], e))
        return 1
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
