"""The one test of a number the node may store or send."""


def finite(v):
    """An int, or a float that is neither NaN nor infinite: what a reading and the
    battery may be (JSON has no NaN; a bool is not a number here)."""
    return (type(v) is float or type(v) is int) and v == v and v - v == 0
