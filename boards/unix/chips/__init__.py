"""Register-level models of the sensor chips, for the simulated buses of i2csim.

An I2C model has write(first, rest), the first byte of a write transaction (a register
address or a command) and the bytes after it, and read(buf), which fills a read; it
raises OSError(ENODEV) where the chip would NACK. A 1-Wire model has `rom`,
command(byte), readbyte() and power_on(). Each is set with the raw values its
datasheet's examples start from, so tests can check the conversions against them; a
command or write a model does not implement raises ValueError rather than being
silently accepted.
"""
