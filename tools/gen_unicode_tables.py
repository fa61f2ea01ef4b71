#!/usr/bin/env python3
"""Generates tokenizer/unicode_tables.inc: the Unicode property tables behind tokenizer/unicode.cpp.

Data source: the `unicodedata` module and the str methods of the Python running this script
(python3 3.11 here, Unicode 14.0.0). Python's own behaviour is the reference on purpose: the
SQuAD metric must match Python's str.lower()/isspace()/isalnum(), and the BERT tokenizer uses
general categories, canonical decompositions and combining classes from the same database.
No ICU, no downloaded UCD files.

The BERT normaliser's categories are a second table, of an older Unicode: Hugging Face's fast
tokenizer (the Rust `tokenizers` crate) decides what BertNormalizer deletes (Cc, Cf, Co) and
strips (Mn) and what BertPreTokenizer splits off (P*) with the `unicode_categories` crate 0.1.1,
whose tables are Unicode 8.0.0. A character that gained one of those categories later (Unicode
9 punctuation, new format characters and marks) is an ordinary letter there, and an unassigned
one is kept. Its source is CPython's generated database for Unicode 8.0.0 as the PyPI sdist
unicodedata2==8.0.0 ships it (unicodedata2/unicodedata_db.h), read here as text.

Its NFD (the `unicode-normalization-alignments` crate) has Unicode 9.0.0 data: a character
assigned later has no decomposition and combining class 0 there. Canonical decompositions and
non-zero combining classes never change once a character is assigned (Unicode's stability
policy), so the tables below serve it restricted to the characters assigned in 9.0.0
(kBertNfdAssigned, from unicodedata2==9.0.0's database the same way).

Regenerate (from the repository root):
    for v in 8.0.0 9.0.0; do
      pip download --no-deps --no-binary :all: unicodedata2==$v && tar xzf unicodedata2-$v.tar.gz
    done
    python3 tools/gen_unicode_tables.py unicodedata2-8.0.0/unicodedata2/unicodedata_db.h \
        unicodedata2-9.0.0/unicodedata2/unicodedata_db.h > tokenizer/unicode_tables.inc

Tables (all sorted by code point, searched by binary search in unicode.cpp):
  kCategoryRuns     {first, category}: a run of one general category starts at `first` and lasts
                    until the next run's first (the whole code space is covered, Cn included).
  kBertCategoryRuns the same, of Unicode 8.0.0 (the BERT normaliser's, see above).
  kBertNfdAssigned  [first, last] assigned (not Cn) in Unicode 9.0.0: what the BERT NFD knows.
  kSpaceRanges      [first, last] where str.isspace() is true.
  kAlnumRanges      [first, last] where str.isalnum() is true.
  kCaseIgnorable    [first, last] of Case_Ignorable, and
  kCased            [first, last] of Cased, as str.lower() sees them for the final-sigma rule.
                    unicodedata does not expose these properties, so they are derived from
                    str.lower()'s own behaviour around U+03A3 (see derive_sigma_properties).
  kLowerSingle      {cp, lower}: chr(cp).lower() is one code point different from cp.
  kLowerMulti       {cp, length, {cps}}: chr(cp).lower() is several code points (SpecialCasing).
  kCombiningClass   [first, last, ccc] where the canonical combining class is not 0.
  kDecompIndex      {cp, offset, length}: the full (recursive) canonical decomposition of cp is
                    kDecompData[offset, offset + length). Hangul syllables are left out: unicode.cpp
                    decomposes them arithmetically.
  kCompatDecompIndex the same for NFKD, where it differs from NFD (compatibility mappings:
                    "\ufb01" -> "fi", "\u00bd" -> "1\u20442"), into kCompatDecompData.
  kHfMarkRanges     [first, last] of the marks (Mn, Mc, Me) of Unicode 9.0.0: what the StripAccents
                    normaliser of Hugging Face's tokenizers removes after its NFKD (AlbertTokenizer
                    with keep_accents false); its `is_combining_mark` comes from the same crate as
                    the BERT NFD, with 9.0.0 data.
"""
import re
import sys
import unicodedata

# Must match bert::unicode::Category in tokenizer/unicode.h (same order).
CATEGORIES = ["Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No", "Pc", "Pd", "Ps",
              "Pe", "Pi", "Pf", "Po", "Sm", "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf", "Cs",
              "Co", "Cn"]
MAX_CP = 0x10FFFF
SIGMA = "\u03a3"
HANGUL_FIRST, HANGUL_LAST = 0xAC00, 0xD7A3


def ranges_where(pred):
    """[first, last] runs of code points where pred(cp) holds."""
    out, start = [], None
    for cp in range(MAX_CP + 2):
        ok = cp <= MAX_CP and pred(cp)
        if ok and start is None:
            start = cp
        elif not ok and start is not None:
            out.append((start, cp - 1))
            start = None
    return out


def category_runs(category=lambda cp: unicodedata.category(chr(cp))):
    runs, prev = [], None
    for cp in range(MAX_CP + 1):
        cat = category(cp)
        if cat != prev:
            runs.append((cp, CATEGORIES.index(cat)))
            prev = cat
    return runs


def ucd_db_categories(path):
    """cp -> general category from a CPython unicodedata_db.h (makeunicodedata.py's tables)."""
    text = open(path, encoding="ascii").read()
    version = re.search(r'#define UNIDATA_VERSION "([0-9.]+)"', text).group(1)

    def block(start):
        body = text[text.index(start):]
        return body[body.index("{") + 1:body.index("};")]

    records = [int(r.split(",")[0]) for r in re.findall(r"\{([0-9, ]+)\}", block("_PyUnicode_Database_Records[]"))]
    names = re.findall(r'"(\w*)"', block("_PyUnicode_CategoryNames[]"))
    shift = int(re.search(r"#define SHIFT (\d+)", text).group(1))
    index1 = [int(x) for x in re.findall(r"\d+", block("index1[]"))]
    index2 = [int(x) for x in re.findall(r"\d+", block("index2[]"))]

    def category(cp):
        i = index1[cp >> shift]
        return names[records[index2[(i << shift) + (cp & ((1 << shift) - 1))]]]
    return version, category


def derive_sigma_properties():
    """Case_Ignorable and Cased, read off str.lower()'s final-sigma rule.

    CPython lowers U+03A3 to final sigma (U+03C2) when it follows a cased character, skipping
    case-ignorable ones, and no cased character follows (again skipping case-ignorable ones).
      "A" + c + SIGMA -> final  iff  ignorable(c) or cased(c)
      "A" + SIGMA + c -> final  iff  ignorable(c) or not cased(c)
    Both final means ignorable(c). For a non-ignorable c, "1" + c + SIGMA is final iff cased(c).
    Cased is only ever consulted on non-ignorable characters, so that is all we need of it.
    """
    final = "\u03c2"
    ignorable, cased = [False] * (MAX_CP + 1), [False] * (MAX_CP + 1)
    for cp in range(MAX_CP + 1):
        c = chr(cp)
        if 0xD800 <= cp <= 0xDFFF:
            continue
        before = ("A" + c + SIGMA).lower()[-1] == final
        after = ("A" + SIGMA + c).lower()[1] == final
        if before and after:
            ignorable[cp] = True
        elif ("1" + c + SIGMA).lower()[-1] == final:
            cased[cp] = True
    return ranges_where(lambda cp: ignorable[cp]), ranges_where(lambda cp: cased[cp])


def full_decomposition(cp):
    """Recursive canonical decomposition (no compatibility mappings), or None."""
    d = unicodedata.decomposition(chr(cp))
    if not d or d.startswith("<"):
        return None
    out = []
    for part in d.split():
        sub = int(part, 16)
        out.extend(full_decomposition(sub) or [sub])
    return out


def emit_ranges(name, ranges, out):
    out.append(f"static const CodeRange {name}[] = {{")
    out.extend(wrap([f"{{0x{a:X},0x{b:X}}}" for a, b in ranges]))
    out.append("};")


def emit_decompositions(index_name, data_name, index, data, out):
    """{cp, offset, length} entries into one array of code points (offsets fit 16 bits)."""
    assert len(data) < 65536
    out.append(f"static const DecompEntry {index_name}[] = {{")
    out.extend(wrap([f"{{0x{a:X},{o},{n}}}" for a, o, n in index]))
    out.append("};")
    out.append(f"static const char32_t {data_name}[] = {{")
    out.extend(wrap([f"0x{x:X}" for x in data]))
    out.append("};")


def wrap(items, width=100):
    lines, line = [], " "
    for item in items:
        if len(line) + len(item) + 2 > width:
            lines.append(line)
            line = " "
        line += " " + item + ","
    if line.strip():
        lines.append(line)
    return lines


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    bert_version, bert_category = ucd_db_categories(sys.argv[1])
    assert bert_version == "8.0.0", bert_version
    nfd_version, nfd_category = ucd_db_categories(sys.argv[2])
    assert nfd_version == "9.0.0", nfd_version
    out = [
        "// Generated by tools/gen_unicode_tables.py -- do not edit; rerun the script instead.",
        f"// Source: Python {sys.version.split()[0]} unicodedata, Unicode {unicodedata.unidata_version};",
        "// kBertCategoryRuns: unicodedata2 8.0.0's unicodedata_db.h, Unicode 8.0.0;",
        "// kBertNfdAssigned, kHfMarkRanges: unicodedata2 9.0.0's unicodedata_db.h, Unicode 9.0.0.",
        "// Included by tokenizer/unicode.cpp only, which declares the element types.",
        f'static constexpr const char kTablesUnicodeVersion[] = "{unicodedata.unidata_version}";',
    ]

    runs = category_runs()
    out.append("static const CategoryRun kCategoryRuns[] = {")
    out.extend(wrap([f"{{0x{a:X},{c}}}" for a, c in runs]))
    out.append("};")
    # Checks the reader of the 8.0.0 database on characters whose category has not changed.
    for ch in "Aa\u0301\u200b\x00\u3000\u2014\u00ab$\ue000":
        assert bert_category(ord(ch)) == unicodedata.category(ch), hex(ord(ch))
    out.append(f'static constexpr const char kBertTablesUnicodeVersion[] = "{bert_version}";')
    out.append("static const CategoryRun kBertCategoryRuns[] = {")
    out.extend(wrap([f"{{0x{a:X},{c}}}" for a, c in category_runs(bert_category)]))
    out.append("};")
    # Stability, checked: what 9.0.0 assigned, today's data still assigns.
    nfd_assigned = ranges_where(lambda cp: nfd_category(cp) != "Cn")
    for a, b in nfd_assigned:
        assert unicodedata.category(chr(a)) != "Cn" and unicodedata.category(chr(b)) != "Cn", hex(a)
    out.append(f'static constexpr const char kBertNfdUnicodeVersion[] = "{nfd_version}";')
    emit_ranges("kBertNfdAssigned", nfd_assigned, out)

    emit_ranges("kSpaceRanges", ranges_where(lambda cp: chr(cp).isspace()), out)
    emit_ranges("kAlnumRanges", ranges_where(lambda cp: chr(cp).isalnum()), out)
    ignorable, cased = derive_sigma_properties()
    emit_ranges("kCaseIgnorable", ignorable, out)
    emit_ranges("kCased", cased, out)

    single, multi = [], []
    for cp in range(MAX_CP + 1):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        low = chr(cp).lower()
        if low == chr(cp):
            continue
        if len(low) == 1:
            single.append((cp, ord(low)))
        else:
            assert len(low) <= 3, hex(cp)
            multi.append((cp, [ord(x) for x in low]))
    out.append("static const LowerSingle kLowerSingle[] = {")
    out.extend(wrap([f"{{0x{a:X},0x{b:X}}}" for a, b in single]))
    out.append("};")
    out.append("static const LowerMulti kLowerMulti[] = {")
    out.extend(wrap(["{0x%X,%d,{%s}}" % (a, len(s), ",".join("0x%X" % x for x in s))
                     for a, s in multi]))
    out.append("};")

    ccc_ranges, start, prev = [], None, 0
    for cp in range(MAX_CP + 2):
        ccc = unicodedata.combining(chr(cp)) if cp <= MAX_CP else 0
        if ccc != prev:
            if prev:
                ccc_ranges.append((start, cp - 1, prev))
            start, prev = cp, ccc
    out.append("static const CombiningRange kCombiningClass[] = {")
    out.extend(wrap([f"{{0x{a:X},0x{b:X},{c}}}" for a, b, c in ccc_ranges]))
    out.append("};")

    index, data = [], []
    for cp in range(MAX_CP + 1):
        if HANGUL_FIRST <= cp <= HANGUL_LAST:
            continue
        d = full_decomposition(cp)
        if d is None:
            continue
        # The stored sequence is already in canonical order: check rather than trust.
        assert unicodedata.normalize("NFD", chr(cp)) == "".join(map(chr, d)), hex(cp)
        index.append((cp, len(data), len(d)))
        data.extend(d)
    emit_decompositions("kDecompIndex", "kDecompData", index, data, out)

    index, data = [], []
    for cp in range(MAX_CP + 1):
        if HANGUL_FIRST <= cp <= HANGUL_LAST or 0xD800 <= cp <= 0xDFFF:
            continue
        nfkd = unicodedata.normalize("NFKD", chr(cp))
        if nfkd == unicodedata.normalize("NFD", chr(cp)):
            continue
        index.append((cp, len(data), len(nfkd)))
        data.extend(ord(x) for x in nfkd)
    emit_decompositions("kCompatDecompIndex", "kCompatDecompData", index, data, out)

    # StripAccents removes every mark, so the canonical reordering inside NFKD never shows in its
    # output when every character with a non-zero combining class is a mark: unicode.cpp relies on
    # that to normalise character by character. Checked here on what 9.0.0 assigned.
    hf_mark = lambda cp: nfd_category(cp) in ("Mn", "Mc", "Me")
    for cp in range(MAX_CP + 1):
        if nfd_category(cp) != "Cn" and unicodedata.combining(chr(cp)):
            assert hf_mark(cp), hex(cp)
    emit_ranges("kHfMarkRanges", ranges_where(hf_mark), out)
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
