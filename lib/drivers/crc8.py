"""The CRC-8s that protect sensor replies, over buf[start:end] without slicing it.

sensirion(): polynomial 0x31 (x^8 + x^5 + x^4 + 1), init 0xFF, MSB first, no final XOR
(SHT4x datasheet, "Checksum Calculation": CRC of 0xBE 0xEF is 0x92).
dallas(): the 1-Wire CRC, the same polynomial LSB first (0x8C), init 0 (DS18B20
datasheet, "CRC Generation"; Maxim Application Note 27). Over data followed by its
CRC byte it is 0.
"""


def sensirion(buf, start, end):
    crc = 0xFF
    for i in range(start, end):
        crc ^= buf[i]
        for _ in range(8):
            crc = (crc << 1) ^ 0x31 if crc & 0x80 else crc << 1
        crc &= 0xFF
    return crc


def dallas(buf, start, end):
    crc = 0
    for i in range(start, end):
        crc ^= buf[i]
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8C if crc & 1 else crc >> 1
    return crc
