"""A float32 as JSON number text, written in place from its four bytes.

A reading's value is a float32 in its spool record. Formatting it with "%.7g" makes a
float and a bytes object per reading; on an ESP32 every float is a heap object, so the
upload's per-reading path would allocate twice for each item of every request. Here the
value goes from the record's bytes to decimal digits with small ints only: the exact
decimal expansion of mantissa x 2^exponent is built in base-10^4 limbs (a preallocated
list), then rounded half-even to 7 significant digits, as "%.7g" does (7 digits carry a
float32's precision). The text is "%.7g"'s: no trailing zeros, exponent form below 1e-4
and from 1e7.
"""

from micropython import const

_LIMBS = const(30)  # 5^149 x 2^24 has 112 digits: 28 limbs of 4
_BASE = const(10000)
_P10 = (1, 10, 100, 1000, 10000)
_P5 = (1, 5, 25, 125, 625, 3125, 15625, 78125)
_L = [0] * _LIMBS  # the exact decimal value, least significant limb first
_D = bytearray(7)  # the 7 significant digits


def _mul(n, k):
    """_L[:n] *= k (k <= 78125: a limb times k stays below 2^30); returns the new limb
    count."""
    c = 0
    L = _L
    for j in range(n):
        c += L[j] * k
        L[j] = c % _BASE
        c //= _BASE
    while c:
        L[n] = c % _BASE
        c //= _BASE
        n += 1
    return n


def finite(src, at):
    """False for the NaN and infinities among float32 at src[at:at + 4]: JSON has no text
    for them."""
    return src[at + 3] & 0x7F != 0x7F or not src[at + 2] & 0x80


def write(out, pos, src, at):
    """Write the float32 at src[at:at + 4] (little-endian) as JSON into out[pos:];
    returns the end, or -1 for NaN and infinities (JSON has no text for them).
    `out` needs 15 bytes of room."""
    b3, b2 = src[at + 3], src[at + 2]
    ex = (b3 & 0x7F) << 1 | b2 >> 7
    if ex == 255:
        return -1
    m = (b2 & 0x7F) << 16 | src[at + 1] << 8 | src[at]
    if b3 & 0x80:
        out[pos] = 45  # -
        pos += 1
    if ex:
        m |= 0x800000
        e2 = ex - 150
    else:
        e2 = -149
    if not m:
        out[pos] = 48
        return pos + 1
    # m x 2^e2 = _L x 10^-frac exactly
    _L[0] = m % _BASE
    _L[1] = m // _BASE % _BASE
    _L[2] = m // (_BASE * _BASE)
    n = 3 if _L[2] else 2 if _L[1] else 1
    frac = 0
    while e2 > 0:
        k = 13 if e2 > 13 else e2
        n = _mul(n, 1 << k)
        e2 -= k
    while e2 < 0:
        k = 7 if e2 < -7 else -e2
        n = _mul(n, _P5[k])
        frac += k
        e2 += k
    # the first 8 digits as v (at most 10^8: a small int), and whether any below is set
    n -= 1
    v = _L[n]
    nd = 4 * n + (1 if v < 10 else 2 if v < 100 else 3 if v < 1000 else 4)
    have = nd - 4 * n
    below = 0
    while have < 8:
        if n:
            n -= 1
            k = 8 - have if have > 4 else 4  # digits to take from the next limb
            v = v * _P10[k] + _L[n] // _P10[4 - k]
            below = _L[n] % _P10[4 - k]
            have += k
        else:
            v *= _P10[8 - have] if have > 4 else 10000
            have += 8 - have if have > 4 else 4
    while n and not below:
        n -= 1
        below = _L[n]
    x = nd - 1 - frac  # the decimal exponent of the leading digit
    d = v // 10
    r = v % 10
    if r > 5 or r == 5 and (below or d & 1):  # round half to even
        d += 1
        if d == 10000000:
            d = 1000000
            x += 1
    nsig = 7
    for j in range(6, -1, -1):
        _D[j] = 48 + d % 10
        d //= 10
    while nsig > 1 and _D[nsig - 1] == 48:
        nsig -= 1
    if -4 <= x < 7:
        if x < 0:
            out[pos] = 48
            out[pos + 1] = 46  # .
            pos += 2
            for _ in range(-1 - x):
                out[pos] = 48
                pos += 1
            return _copy(out, pos, 0, nsig)
        whole = x + 1
        pos = _copy(out, pos, 0, nsig if nsig < whole else whole)
        for _ in range(whole - nsig):
            out[pos] = 48
            pos += 1
        if nsig > whole:
            out[pos] = 46
            pos = _copy(out, pos + 1, whole, nsig)
        return pos
    pos = _copy(out, pos, 0, 1)
    if nsig > 1:
        out[pos] = 46
        pos = _copy(out, pos + 1, 1, nsig)
    out[pos] = 101  # e
    out[pos + 1] = 45 if x < 0 else 43  # - or +
    x = -x if x < 0 else x  # float32 exponents have two digits (1e-45 to 3e38)
    out[pos + 2] = 48 + x // 10
    out[pos + 3] = 48 + x % 10
    return pos + 4


def _copy(out, pos, a, b):
    for j in range(a, b):
        out[pos] = _D[j]
        pos += 1
    return pos
