"""The one JSON acceptance rule for config.json, on the node and on the host.

MicroPython's json takes what CPython's refuses (trailing commas, leading zeros, "[1 2]",
raw tabs in strings, unknown escapes) and CPython's takes what MicroPython's refuses
(NaN, Infinity); deep nesting exhausts either. This pass over the raw bytes accepts
strict RFC 8259 JSON within the limits below, so that what passes parses alike on both
sides; it stops at the first problem and says where it is. It reads the file through a
small buffer, keeps a bracket stack of MAX_DEPTH bytes and never recurses: it runs at
boot on the node's heap whatever the file holds.
"""

try:
    from micropython import const
except ImportError:  # CPython: the host checker runs this same code
    def const(x):
        return x

# The largest config the validator accepts (64 sensors, each with a 64-character slug,
# a UUID and a 16-point table, every optional section filled, indented) is about 26 KB.
MAX_BYTES = const(32768)
# A valid config nests 5 deep (sensors[].table[][]); the rest is margin.
MAX_DEPTH = const(16)

# where the scan is: between tokens (what may come next), or inside one
_TOP = const(0)     # the top-level value is due
_VALUE = const(1)   # a value is due, after ':'
_ITEM = const(2)    # a value is due, after ',' in an array
_FIRST = const(3)   # after '[': a value or ']'
_KEY = const(4)     # after ',' in an object: a key
_KEY1 = const(5)    # after '{': a key or '}'
_COLON = const(6)   # after a key
_AFTER = const(7)   # after a value: ',' or the closing bracket (the end, at the top)
_STR = const(8)
_ESC = const(9)     # after a backslash in a string
_HEX = const(10)    # in the four digits of \uXXXX
_NUM = const(11)
_WORD = const(12)   # in true, false or null

# where a number is: after '-', a leading 0, integer digits, '.', fraction digits,
# 'e', the exponent's sign, exponent digits
_N_SIGN = const(0)
_N_ZERO = const(1)
_N_INT = const(2)
_N_DOT = const(3)
_N_FRAC = const(4)
_N_E = const(5)
_N_ESIGN = const(6)
_N_EXP = const(7)

_NOT_JSON = "not valid JSON at %s: "


def problem(f, size):
    """None when the binary stream `f` (`size` bytes, at its start) is strict JSON within
    the limits, else one line naming the first problem and its place."""
    if size > MAX_BYTES:
        return "%d bytes: a config file has at most %d" % (size, MAX_BYTES)
    off, text = _scan(f)
    if text is None:
        return None
    return text % _place(f, off) if off >= 0 else text


def _scan(f):
    """(offset, problem with a %s for its place) of the first problem, else (0, None)."""
    buf = bytearray(256)
    stack = bytearray(MAX_DEPTH)
    depth = 0
    state = _TOP
    key = False  # the string being scanned is a key
    need = lo = hi = lead = leadb = 0  # UTF-8: bytes due, the next one's range, the first
    ns = digits = zeros = exp = hexn = code = 0
    nonzero = negexp = False
    word = b""
    start = base = 0  # where the current number or word began; the buffer's offset
    while True:
        n = f.readinto(buf)
        if not n:
            break
        if not base and n >= 3 and buf[0] == 0xEF and buf[1] == 0xBB and buf[2] == 0xBF:
            return -1, ("starts with a byte order mark (EF BB BF): save it as UTF-8 "
                        "without one")
        for i in range(n):
            b = buf[i]
            if need:
                if not lo <= b <= hi:
                    return lead, _not_utf8(lead, leadb)
                need -= 1
                lo, hi = 0x80, 0xBF
                continue
            if b >= 0x80:
                lead = base + i
                leadb = b
                lo, hi = 0x80, 0xBF
                if 0xC2 <= b <= 0xDF:
                    need = 1
                elif 0xE0 <= b <= 0xEF:  # no overlong forms, no UTF-16 surrogates
                    need = 2
                    lo = 0xA0 if b == 0xE0 else 0x80
                    hi = 0x9F if b == 0xED else 0xBF
                elif 0xF0 <= b <= 0xF4:  # nothing above U+10FFFF
                    need = 3
                    lo = 0x90 if b == 0xF0 else 0x80
                    hi = 0x8F if b == 0xF4 else 0xBF
                else:
                    return lead, _not_utf8(lead, b)
                if state != _STR:
                    return lead, _NOT_JSON + "a non-ASCII character outside a string"
                continue
            if state == _STR:
                if b == 0x22:
                    state = _COLON if key else _AFTER
                elif b == 0x5C:
                    state = _ESC
                elif b < 0x20:
                    return base + i, _NOT_JSON + ("control character 0x%02X in a string "
                                                  "(write it as an escape, e.g. \\n)" % b)
                continue
            if state == _ESC:
                if b == 0x75:
                    state = _HEX
                    hexn = code = 0
                elif b in b'"\\/bfnrt':
                    state = _STR
                else:
                    return base + i - 1, _NOT_JSON + "unknown escape: '\\' then " + _char(b)
                continue
            if state == _HEX:
                if 0x30 <= b <= 0x39:
                    d = b - 0x30
                elif 0x61 <= b | 0x20 <= 0x66:
                    d = (b | 0x20) - 0x57
                else:
                    return base + i, _NOT_JSON + "\\u takes four hex digits"
                code = code << 4 | d
                hexn += 1
                if hexn == 4:
                    if 0xD800 <= code <= 0xDFFF:
                        return base + i - 5, _NOT_JSON + ("\\u%04X is half of a UTF-16 "
                                                          "pair: write the character itself"
                                                          % code)
                    state = _STR
                continue
            if state == _NUM:
                if 0x30 <= b <= 0x39:
                    if ns == _N_ZERO:
                        return start, _NOT_JSON + "a number with a leading zero"
                    if ns == _N_SIGN:
                        ns = _N_ZERO if b == 0x30 else _N_INT
                        digits = 1 if ns == _N_INT else 0
                    elif ns == _N_INT:
                        digits += 1
                    elif ns == _N_DOT or ns == _N_FRAC:
                        ns = _N_FRAC
                        if not digits and not nonzero:
                            if b == 0x30:
                                zeros += 1
                            else:
                                nonzero = True
                    else:
                        ns = _N_EXP
                        if exp < 1000:
                            exp = exp * 10 + b - 0x30
                    continue
                if b == 0x2E and (ns == _N_ZERO or ns == _N_INT):
                    ns = _N_DOT
                    continue
                if (b == 0x65 or b == 0x45) and (ns == _N_ZERO or ns == _N_INT or ns == _N_FRAC):
                    ns = _N_E
                    continue
                if (b == 0x2B or b == 0x2D) and ns == _N_E:
                    ns = _N_ESIGN
                    negexp = b == 0x2D
                    continue
                why = _number(ns, digits, zeros, nonzero, -exp if negexp else exp)
                if why:
                    return start, why
                state = _AFTER  # the number ended at this byte: it is the next token's
            elif state == _WORD:
                if b == word[ns]:
                    ns += 1
                    if ns == len(word):
                        state = _AFTER
                    continue
                return start, _NOT_JSON + "expected true, false or null"
            if b == 0x20 or b == 0x0A or b == 0x0D or b == 0x09:
                continue
            if state == _AFTER:
                if not depth:
                    return base + i, _NOT_JSON + "more after the end of the top-level value"
                if b == 0x2C:
                    state = _KEY if stack[depth - 1] == 0x7B else _ITEM
                elif b == stack[depth - 1] + 2:  # '{' + 2 is '}', '[' + 2 is ']'
                    depth -= 1
                else:
                    return base + i, (_NOT_JSON + "expected ',' or '%s', got %s"
                                      % (chr(stack[depth - 1] + 2), _char(b)))
                continue
            if state == _COLON:
                if b != 0x3A:
                    return base + i, _NOT_JSON + "expected ':' after the key, got " + _char(b)
                state = _VALUE
                continue
            if state == _KEY or state == _KEY1:
                if b == 0x22:
                    state = _STR
                    key = True
                elif b == 0x7D and state == _KEY1:
                    depth -= 1
                    state = _AFTER
                elif b == 0x7D:
                    return base + i, _NOT_JSON + "a comma before '}'"
                else:
                    return base + i, (_NOT_JSON + "expected a key in double quotes, got "
                                      + _char(b))
                continue
            # a value is due
            if b == 0x22:
                state = _STR
                key = False
            elif b == 0x7B or b == 0x5B:
                if depth == MAX_DEPTH:
                    return base + i, "nested deeper than %d levels at %%s" % MAX_DEPTH
                stack[depth] = b
                depth += 1
                state = _KEY1 if b == 0x7B else _FIRST
            elif b == 0x2D or 0x30 <= b <= 0x39:
                state = _NUM
                start = base + i
                ns = _N_SIGN if b == 0x2D else _N_ZERO if b == 0x30 else _N_INT
                digits = 1 if ns == _N_INT else 0
                zeros = exp = 0
                nonzero = negexp = False
            elif b == 0x74 or b == 0x66 or b == 0x6E:
                state = _WORD
                start = base + i
                word = b"true" if b == 0x74 else b"false" if b == 0x66 else b"null"
                ns = 1
            elif b == 0x5D and state == _FIRST:
                depth -= 1
                state = _AFTER
            elif b == 0x5D and state == _ITEM:
                return base + i, _NOT_JSON + "a comma before ']'"
            elif b == 0x4E or b == 0x49:
                return base + i, _NOT_JSON + "NaN and Infinity are not JSON numbers"
            else:
                return base + i, _NOT_JSON + "expected a value, got " + _char(b)
        base += n
    if need:
        return lead, _not_utf8(lead, None)
    if state == _NUM:
        why = _number(ns, digits, zeros, nonzero, -exp if negexp else exp)
        if why:
            return start, why
        state = _AFTER
    if state == _AFTER and not depth:
        return 0, None
    if state == _TOP:
        return -1, "holds no JSON value (the file is empty)"
    return base, _NOT_JSON + "the file ends early (a string, ']' or '}' is not closed)"


def _number(ns, digits, zeros, nonzero, exp):
    """The problem with a number that ended in state `ns`, else None. Its size is
    bounded by the ESP32's 32-bit floats, which hold 1.2e-38 to 3.4e38."""
    if ns == _N_SIGN:
        return _NOT_JSON + "'-' without digits (NaN and Infinity are not JSON numbers)"
    if ns == _N_DOT or ns == _N_E or ns == _N_ESIGN:
        return _NOT_JSON + "a number without digits after its '.' or 'e'"
    # the power of ten of the first significant digit
    mag = digits - 1 + exp if digits else -(zeros + 1) + exp if nonzero else 0
    if not -37 <= mag <= 37:
        return _NOT_JSON + ("a number beyond the ESP32's 32-bit floats (a config number is 0 "
                            "or between 1e-37 and 1e38 in size)")
    return None


def _not_utf8(off, byte):
    what = "the file ends inside a character" if byte is None else "byte 0x%02X" % byte
    return "not UTF-8 at %%s (byte offset %d): %s; save the file as UTF-8" % (off, what)


def _char(b):
    return "'%s'" % chr(b) if 0x20 < b < 0x7F else "byte 0x%02X" % b


def _place(f, off):
    """'line L column C' of byte offset `off` (columns count characters)."""
    f.seek(0)
    buf = bytearray(256)
    line = col = 1
    pos = 0
    while pos < off:
        n = f.readinto(buf)
        if not n:
            break
        for i in range(min(n, off - pos)):
            b = buf[i]
            if b == 0x0A:
                line += 1
                col = 1
            elif b & 0xC0 != 0x80:
                col += 1
        pos += n
    return "line %d column %d" % (line, col)
