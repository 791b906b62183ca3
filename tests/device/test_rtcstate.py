# Device tests (MicroPython): the RTC-memory record (firmware/rtcstate.py) laid out from
# its one table: the bytes of the previous hand-written layout, every field kept across
# a save, small counters saturating, a damaged record read as a power-on.
import struct

import rtcstate
from rtcstate import UNSET, RtcState


class Board:
    def __init__(self):
        self.mem = b""

    def rtc_memory(self, data=None):
        if data is None:
            return self.mem
        self.mem = bytes(data)


VALUES = {"crashes": 2, "failures": 9, "cycle": 123456, "samples": 99999, "next_sample": -5,
          "next_upload": 70000000, "retry_at": UNSET, "sensor_faults": 7, "session": 12,
          "alert": 4, "unsure": 3, "battery_mv": 3712, "unpark_at": 42}


def test_the_table_gives_the_hand_written_layout_within_the_64_bytes():
    assert rtcstate._SIZE == 46 and rtcstate._SIZE + 4 <= 64
    board, st = Board(), RtcState()
    for k, v in VALUES.items():
        setattr(st, k, v)
    st.save(board)
    old = struct.pack("<IBBHIIiiiIHHIHi", 0x534E5235, 2, 9, 0, 123456, 99999, -5, 70000000,
                      UNSET, 7, 12, 4, 3, 3712, 42)  # the layout before the table
    assert board.mem[:46] == old


def test_every_field_survives_a_save_and_a_fresh_record_is_the_power_on_state():
    board, st = Board(), RtcState()
    for k, v in VALUES.items():
        setattr(st, k, v)
    st.save(board)
    back = RtcState.load(board)
    assert {k: getattr(back, k) for k in VALUES} == VALUES
    assert sorted(name for name, _ in rtcstate._fields()) == sorted(VALUES)
    fresh = RtcState.load(Board())
    assert (fresh.cycle, fresh.next_sample, fresh.unpark_at, fresh.crashes) == (0, UNSET, UNSET, 0)


def test_small_counters_saturate_and_damage_reads_as_power_on():
    board, st = Board(), RtcState()
    st.crashes, st.failures, st.cycle = 300, 1000, 5
    st.battery_mv = 70000  # out of a uint16: saturates, never wraps to a low battery
    st.save(board)
    back = RtcState.load(board)
    assert (back.crashes, back.failures, back.battery_mv, back.cycle) == (255, 255, 65535, 5)
    st.battery_mv = -3
    st.save(board)
    assert RtcState.load(board).battery_mv == 0
    board.mem = board.mem[:10] + bytes([board.mem[10] ^ 1]) + board.mem[11:]
    assert RtcState.load(board).cycle == 0


def test_a_record_of_the_previous_layout_starts_afresh():
    import binascii

    old = bytearray(44)  # "SNR2": 40 bytes without battery_mv, then the CRC
    struct.pack_into("<IBBHIIIIIIHHI", old, 0, 0x534E5232, 0, 2, 0, 7, 3, 1, 2, 3, 0, 0, 0, 0)
    struct.pack_into("<I", old, 40, binascii.crc32(memoryview(old)[:40]))
    board = Board()
    board.mem = bytes(old)
    st = RtcState.load(board)
    assert st.cycle == 0 and st.failures == 0 and st.battery_mv == 0
