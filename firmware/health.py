"""Node health as readings: the figures a wake measured, stored in the spool under
the slugs config.json's "health" names, so they travel (batch endpoint) with the
next upload like any reading. Loaded only when health slugs are configured.

The energy figures are of the wake that records them, up to that moment: awake_ms
(from the start of node.run), radio_ms (link_up to link_down), bytes_sent (HTTP bytes
the client wrote), flash_writes (files the spool wrote: commits, state and progress
saves, dead letters, merges; the commit of these readings is not in it).
"""


def record(spool, numbers, figures, st, t, aux):
    """Append the figures known this wake (`numbers`: figure -> sensor number)."""
    figures.update(spool_depth=spool.pending(), dropped=spool.dropped,
                   dead_letters=spool.dead, unsure=st.unsure, flash_writes=spool.writes)
    for name, number in numbers.items():
        v = figures.get(name)
        if v is not None:
            spool.append(number, t, v, 0, aux)
    spool.commit()
