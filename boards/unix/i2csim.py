"""Simulated I2C and 1-Wire buses of the emulated board, with the faults real buses have.

I2C answers the machine.I2C calls the drivers make, OneWire the onewire.OneWire calls,
over the chip models of chips/. A model takes a transaction's bytes and answers reads:
write(first, rest) gets the first byte written (register address or command) and the
bytes after it; read(buf) fills a read. The buses allocate nothing per transaction, so
a test can count what a driver allocates.
"""

import errno

_EMPTY = b""
_FAILURES = {"nack": errno.ENODEV, "timeout": errno.ETIMEDOUT}


class I2C:
    """machine.I2C over chip models, given as {address: model}.

    inject(addr, fault, times=1) arms a fault on the device at addr:
      "nack"     its next `times` transactions fail with OSError(ENODEV)
      "timeout"  its next `times` transactions fail with OSError(ETIMEDOUT)
      "crc"      its next `times` reads arrive with the low bit of their last byte
                 flipped (on a Sensirion reply: the CRC of the last word)
      "stuck"    it holds SDA low: every transaction on the bus fails with
                 OSError(ETIMEDOUT), and scan() finds nothing, until recover()
    recover() is the board's bus recovery (9 SCL clocks, then a STOP), which makes a
    device stuck in the middle of a byte let go of SDA; `recoveries` counts them.
    """

    def __init__(self, devices, makers=None):
        """devices: {address: model}; makers: {address: make()}, a model made at the
        first transaction to its address, so one nothing talks to costs no RAM."""
        self.devices = devices
        self.makers = makers or {}
        self.recoveries = 0
        self._faults = {}
        self._stuck = False
        self._second = bytearray(1)  # a 2-byte write's second byte (a Sensirion command's)

    def inject(self, addr, fault, times=1):
        if fault == "stuck":
            self._stuck = True
        elif fault in _FAILURES or fault == "crc":
            self._faults[addr] = [fault, times]
        else:
            raise ValueError("i2csim: unknown fault %r" % fault)

    def recover(self):
        self._stuck = False
        self.recoveries += 1

    def scan(self):
        found = []
        for addr in sorted(set(self.devices) | set(self.makers)):
            try:
                self._start(addr)
                found.append(addr)
            except OSError:
                pass
        return found

    def writeto(self, addr, buf, stop=True):
        dev = self._start(addr)
        n = len(buf)
        if n == 2:  # no memoryview: a measurement's command allocates nothing
            self._second[0] = buf[1]
            dev.write(buf[0], self._second)
        elif n:
            dev.write(buf[0], _EMPTY if n == 1 else memoryview(buf)[1:])
        return n

    def readfrom_into(self, addr, buf, stop=True):
        self._start(addr).read(buf)
        self._received(addr, buf)

    def readfrom(self, addr, nbytes, stop=True):
        buf = bytearray(nbytes)
        self.readfrom_into(addr, buf)
        return bytes(buf)

    def writeto_mem(self, addr, memaddr, buf):
        self._start(addr).write(memaddr, buf)

    def readfrom_mem_into(self, addr, memaddr, buf):
        dev = self._start(addr)
        dev.write(memaddr, _EMPTY)
        dev.read(buf)
        self._received(addr, buf)

    def readfrom_mem(self, addr, memaddr, nbytes):
        buf = bytearray(nbytes)
        self.readfrom_mem_into(addr, memaddr, buf)
        return bytes(buf)

    def _start(self, addr):
        """The model at addr, once the bus and the armed faults let a transaction through."""
        if self._stuck:
            raise OSError(errno.ETIMEDOUT)
        f = self._faults.get(addr)
        if f and f[0] in _FAILURES:
            self._spend(addr, f)
            raise OSError(_FAILURES[f[0]])
        dev = self.devices.get(addr)
        if dev is None:
            make = self.makers.pop(addr, None)
            if make is None:
                raise OSError(errno.ENODEV)
            dev = self.devices[addr] = make()
        return dev

    def _received(self, addr, buf):
        f = self._faults.get(addr)
        if f and f[0] == "crc":
            self._spend(addr, f)
            buf[len(buf) - 1] ^= 1

    def _spend(self, addr, f):
        f[1] -= 1
        if f[1] <= 0:
            del self._faults[addr]


class OneWire:
    """onewire.OneWire over DS18B20 models (each with its `rom` code).

    ROM commands are those of the DS18B20 datasheet: skip ROM (0xCC) selects every
    device, and their replies meet wired-AND as on the real line; match ROM (0x55) one.
    inject(fault, times=1):
      "absent"    the next `times` resets see no presence pulse
      "short"     the line is held low after the next `times` resets: a presence
                  pulse is seen and every read slot reads 0
      "crc"       one bit flipped in the next `times` scratchpad reads
      "brownout"  the next `times` conversions reset the sensors instead: their
                  scratchpad holds the 85 °C power-on value
    """

    def __init__(self, devices):
        self.devices = devices
        self._faults = {}
        self._selected = ()  # None: after a reset, waiting for a ROM command
        self._rom = bytearray(8)
        self._match = [None]
        self._rom_bytes = -1  # >= 0 while a match ROM command takes its code
        self._short = False
        self._corrupt = False

    def inject(self, fault, times=1):
        if fault not in ("absent", "short", "crc", "brownout"):
            raise ValueError("i2csim: unknown fault %r" % fault)
        self._faults[fault] = times

    def reset(self):
        self._selected = None
        self._rom_bytes = -1
        self._short = self._take("short")
        if self._short:
            return True
        return bool(self.devices) and not self._take("absent")

    def scan(self):
        return [bytearray(d.rom) for d in self.devices] if self.reset() else []

    def select_rom(self, rom):
        self.reset()
        self.writebyte(0x55)
        self.write(rom)

    def write(self, buf):
        for b in buf:
            self.writebyte(b)

    def writebyte(self, b):
        if self._rom_bytes >= 0:
            self._rom[self._rom_bytes] = b
            self._rom_bytes += 1
            if self._rom_bytes == 8:
                self._rom_bytes = -1
                self._selected = ()
                for d in self.devices:
                    if d.rom == self._rom:
                        self._match[0] = d
                        self._selected = self._match
        elif self._selected is None:
            if b == 0xCC:
                self._selected = self.devices
            elif b == 0x55:
                self._rom_bytes = 0
            else:
                raise ValueError("i2csim: ROM command 0x%02x not modelled" % b)
        elif b == 0x44 and self._take("brownout"):
            for d in self._selected:
                d.power_on()
        else:
            self._corrupt = b == 0xBE and self._take("crc")
            for d in self._selected:
                d.command(b)

    def readbyte(self):
        if self._short:
            return 0
        v = 0xFF
        for d in self._selected or ():
            v &= d.readbyte()
        if self._corrupt:
            self._corrupt = False
            v ^= 1
        return v

    def readinto(self, buf):
        for i in range(len(buf)):
            buf[i] = self.readbyte()

    def _take(self, fault):
        n = self._faults.get(fault, 0)
        if n:
            self._faults[fault] = n - 1
        return n > 0
