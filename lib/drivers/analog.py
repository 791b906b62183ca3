"""Volts to a physical value for analog sensors: pure math, no hardware.

Linear: value = volts * scale + offset, for a linear transfer function (a 0.5-4.5 V
pressure transducer, a shunt on a 4-20 mA loop). Table: linear interpolation between
calibration points (volts, value), for a curve (a thermistor divider, a soil moisture
probe calibrated at a few points).

Volts outside the valid window raise ValueError: a Table's first to last point, since
extrapolating a curve invents values; Linear's optional vmin..vmax, since a transducer
reading 0 V is a broken wire, not zero pressure.
"""


class Linear:
    def __init__(self, scale=1.0, offset=0.0, vmin=float("-inf"), vmax=float("inf")):
        if not vmin < vmax:
            raise ValueError("analog: vmin %r must be below vmax %r" % (vmin, vmax))
        self.scale = scale
        self.offset = offset
        self.vmin = vmin
        self.vmax = vmax

    def convert(self, volts):
        if not self.vmin <= volts <= self.vmax:
            raise ValueError("analog: %.3f V is outside %.3f..%.3f V"
                             % (volts, self.vmin, self.vmax))
        return volts * self.scale + self.offset


class Table:
    def __init__(self, points):
        """points: (volts, value) pairs, volts strictly increasing."""
        if len(points) < 2:
            raise ValueError("analog: a table needs at least 2 points")
        for i in range(1, len(points)):
            if not points[i - 1][0] < points[i][0]:
                raise ValueError("analog: table volts must increase: %r after %r"
                                 % (points[i][0], points[i - 1][0]))
        self.points = tuple((float(v), float(y)) for v, y in points)

    def convert(self, volts):
        pts = self.points
        if not pts[0][0] <= volts <= pts[-1][0]:
            raise ValueError("analog: %.3f V is outside the table's %.3f..%.3f V"
                             % (volts, pts[0][0], pts[-1][0]))
        for i in range(1, len(pts)):
            v1, y1 = pts[i]
            if volts <= v1:
                v0, y0 = pts[i - 1]
                return y0 + (y1 - y0) * (volts - v0) / (v1 - v0)
