"""A reader for the small subset of YAML that the deploy/ manifests use.

CI has python3 but not necessarily PyYAML, and the manifest check must run there without pip.
Supported: block mappings and sequences (including "- key: value" items and sequences at the
same indentation as their parent key), plain / single- / double-quoted scalars, literal block
scalars (|, |-, |+), flow sequences of scalars ([a, "b"]), the empty flow mapping {}, comments,
and "---" between documents. Scalars are typed as PyYAML types them for this subset: ints,
floats with a dot, true/false, null/~; everything else is a string. Anything outside the subset
(anchors, tags, folded scalars, multi-line flow collections, ...) raises YamlError naming the
file and line rather than being read wrongly; check_manifests.py compares the result with
PyYAML's whenever PyYAML is installed.
"""
import re

_INT = re.compile(r"^[-+]?[0-9]+$")
_FLOAT = re.compile(r"^[-+]?([0-9]*\.[0-9]+|[0-9]+\.[0-9]*)([eE][-+]?[0-9]+)?$")
_KEY = re.compile(r"""^("(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^'"#\[\]{},:][^#]*?)\s*:(?:\s|$)""")


class YamlError(ValueError):
    pass


def _indent_of(line):
    return len(line) - len(line.lstrip(" "))


def _strip_comment(text):
    """Drops a trailing comment (" #..." outside quotes) and trailing blanks."""
    quote = None
    for pos, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'" and (pos == 0 or text[pos - 1] in " [,:"):
            quote = ch
        elif ch == "#" and (pos == 0 or text[pos - 1] in " \t"):
            return text[:pos].rstrip()
    return text.rstrip()


class _Reader:
    def __init__(self, lines, source, first_line):
        self.lines = list(lines)
        self.source = source
        self.first_line = first_line

    def error(self, index, what):
        raise YamlError(f"{self.source}:{self.first_line + index + 1}: {what}")

    def content(self, i):
        """Index of the first line at or after i that holds something other than a comment."""
        while i < len(self.lines) and _strip_comment(self.lines[i]).strip() == "":
            i += 1
        return i

    def node(self, i, parent_indent):
        """Parses the node starting at line i, which must be indented deeper than its parent."""
        i = self.content(i)
        if i >= len(self.lines):
            return None, i
        indent = _indent_of(self.lines[i])
        if indent <= parent_indent:
            return None, i
        return self.collection(i, indent)

    def collection(self, i, indent):
        text = self.lines[i].strip()
        if "\t" in self.lines[i][:indent + 1]:
            self.error(i, "tab in indentation")
        if text == "-" or text.startswith("- "):
            return self.sequence(i, indent)
        return self.mapping(i, indent)

    def sequence(self, i, indent):
        items = []
        while True:
            i = self.content(i)
            if i >= len(self.lines) or _indent_of(self.lines[i]) < indent:
                return items, i
            line = self.lines[i]
            text = _strip_comment(line).strip()
            if _indent_of(line) > indent:
                self.error(i, f"unexpected indentation inside a sequence (expected column {indent + 1})")
            if not (text == "-" or text.startswith("- ")):
                return items, i
            rest = line[indent + 1:].lstrip(" ")
            if _strip_comment(rest) == "":
                value, i = self.node(i + 1, indent)
            elif _KEY.match(rest) or rest.rstrip() == "-" or rest.startswith("- "):
                # "- key: value" or "- - item": a collection whose first line starts after
                # the dash, continued on the following lines at that column.
                item_indent = len(line) - len(rest)
                self.lines[i] = " " * item_indent + rest
                value, i = self.collection(i, item_indent)
            else:
                value, i = self.inline_value(rest, i, indent)
            items.append(value)

    def mapping(self, i, indent):
        result = {}
        while True:
            i = self.content(i)
            if i >= len(self.lines):
                return result, i
            line = self.lines[i]
            line_indent = _indent_of(line)
            if line_indent < indent:
                return result, i
            if line_indent > indent:
                self.error(i, f"unexpected indentation (expected column {indent + 1})")
            text = line[indent:]
            if text == "-" or text.startswith("- "):
                return result, i
            match = _KEY.match(text)
            if not match:
                self.error(i, f"expected 'key: value', found '{text.strip()}'")
            key = self.scalar(match.group(1), i)
            if key in result:
                self.error(i, f"duplicate key '{key}'")
            rest = text[match.end():].strip()
            if _strip_comment(rest) == "":
                nxt = self.content(i + 1)
                if nxt < len(self.lines) and _indent_of(self.lines[nxt]) == indent and \
                        self.lines[nxt].strip().startswith("-"):
                    value, i = self.sequence(nxt, indent)  # sequence at the key's own indentation
                else:
                    value, i = self.node(i + 1, indent)
            else:
                value, i = self.inline_value(rest, i, indent)
            result[key] = value

    def inline_value(self, rest, i, indent):
        """A value written after 'key:' or '- ' on line i; returns (value, next line index)."""
        text = _strip_comment(rest)
        if text[:1] in "|>":
            return self.block_scalar(text, i, indent)
        if text[:1] in "&*!":
            self.error(i, "anchors, aliases and tags are outside the supported YAML subset")
        if text.startswith("["):
            if not text.endswith("]"):
                self.error(i, "a flow sequence must open and close on one line")
            return [self.scalar(part.strip(), i) for part in _split_flow(text[1:-1], self, i)], i + 1
        if text.startswith("{"):
            if text.replace(" ", "") != "{}":
                self.error(i, "only the empty flow mapping {} is supported")
            return {}, i + 1
        return self.scalar(text, i), i + 1

    def block_scalar(self, header, i, indent):
        if header[0] == ">":
            self.error(i, "folded block scalars (>) are outside the supported YAML subset")
        chomp = header[1:].strip()
        if chomp not in ("", "-", "+"):
            self.error(i, f"unsupported block scalar header '{header}'")
        body, j, block_indent = [], i + 1, None
        while j < len(self.lines):
            line = self.lines[j]
            if line.strip() == "":
                body.append("")
            else:
                if _indent_of(line) <= indent:
                    break
                if block_indent is None:
                    block_indent = _indent_of(line)
                if _indent_of(line) < block_indent:
                    self.error(j, "block scalar line indented less than its first line")
                body.append(line[block_indent:])
            j += 1
        # Trailing blank lines belong to the chomping, not to the content.
        trailing = 0
        while body and body[-1] == "":
            body.pop()
            trailing += 1
        text = "\n".join(body)
        if chomp == "" and body:
            text += "\n"
        elif chomp == "+":
            text += "\n" * (trailing + (1 if body else 0))
        return text, j

    def scalar(self, text, i):
        if text.startswith('"'):
            if len(text) < 2 or not text.endswith('"'):
                self.error(i, f"unterminated double-quoted string {text}")
            escapes = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "/": "/", "0": "\0"}
            return re.sub(r"\\(.)", lambda m: escapes.get(m.group(1)) or self.error(i, f"unsupported escape \\{m.group(1)}"),
                          text[1:-1])
        if text.startswith("'"):
            if len(text) < 2 or not text.endswith("'"):
                self.error(i, f"unterminated single-quoted string {text}")
            return text[1:-1].replace("''", "'")
        if text in ("", "~", "null", "Null", "NULL"):
            return None
        if text in ("true", "True", "TRUE"):
            return True
        if text in ("false", "False", "FALSE"):
            return False
        if _INT.match(text):
            return int(text)
        if _FLOAT.match(text):
            return float(text)
        if text[:1] in "&*!%@`":
            self.error(i, f"'{text}': anchors, aliases, tags and reserved indicators are unsupported")
        return text


def _split_flow(text, reader, i):
    parts, current, quote = [], "", None
    for ch in text:
        if quote:
            current += ch
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
            current += ch
        elif ch in "[]{}":
            reader.error(i, "nested flow collections are outside the supported YAML subset")
        elif ch == ",":
            parts.append(current)
            current = ""
        else:
            current += ch
    if current.strip():
        parts.append(current)
    return parts


def load_all(text, source="<yaml>"):
    """Every document of text, in order (a document that holds only comments is skipped)."""
    documents, start = [], 0
    lines = text.split("\n")
    bounds = [n for n, line in enumerate(lines) if line.rstrip() == "---"] + [len(lines)]
    for end in bounds:
        chunk = lines[start:end]
        reader = _Reader(chunk, source, start)
        first = reader.content(0)
        if first < len(chunk):
            if _indent_of(chunk[first]) != 0:
                reader.error(first, "a document's top level must start in column 1")
            value, stop = reader.collection(first, 0)
            stop = reader.content(stop)
            if stop < len(chunk):
                reader.error(stop, f"unexpected content '{chunk[stop].strip()}'")
            documents.append(value)
        start = end + 1
    return documents
