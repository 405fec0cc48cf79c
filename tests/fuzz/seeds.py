#!/usr/bin/env python3
"""Writes the seed corpus of the fuzz targets (tests/fuzz/corpus/*): small programs in the
opcode language of tests/fuzz/fz.c that reach each state, move data both ways, close, and let
time run, so that the fuzzers start from deep inside the stack. Deterministic; rerun after
changing the language: python3 tests/fuzz/seeds.py"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))

SYN_OPTS = [0x07, 0x05, 0xB4, 7]  # MSS 1460, WS 7, SACK-permitted (TS by default on a SYN)


def seg(flags, flow=0, length=0, obits=None, opt_args=()):
    """Opcode 0: a segment of flow at the peer's next sequence, ACKing all the stack sent."""
    if obits is None:
        body = [0] if not flags & 0x02 else SYN_OPTS
    else:
        body = [obits, *opt_args]
    lb = 0 if length == 0 else (127 + length if length <= 96 else 223 + length // 64)
    return [0, flow, flags, 0, 0, 0, *body, lb]


def send(n, conn=0):
    return [6, conn, 0x80, n >> 8, n & 0xFF]


def time_ms(ms):
    return [4, 1, (ms - 1) >> 8, (ms - 1) & 0xFF]


def time_s(s):
    return [4, 2, s - 1]


HOURS = [4, 3, 0]
SYN, ACK, FIN, PSH, RST = 0x02, 0x10, 0x01, 0x08, 0x04

# cfg bytes: a = 0x80 (16 KiB buffer, timestamps, window scaling, fast path, no delayed ACK,
# no congestion control), b = 0x0a (16 send slots, 4 connections). Variants change them.
CFG = [0x80, 0x0A]
CFG_CUBIC_DACK = [0xA8, 0x0B]  # CUBIC, delayed ACKs, 64 slots
CFG_SMALL = [0x13, 0x40]  # 1 KiB buffer, no TS, no WS, NewReno, 4 slots, 1 conn, half-open 1
CFG_COOKIES = [0x80, 0x2A]  # SYN cookies always

conn_seeds = {
    "server_echo": [0x00, *CFG, *seg(SYN), *seg(ACK), *seg(ACK | PSH, length=96), *send(4096),
                    *time_ms(11), *seg(ACK), 5, 4, *send(8000), *time_s(5), *seg(FIN | ACK),
                    8, 0, *time_s(2), *HOURS],
    "server_keep": [0x00, *CFG_CUBIC_DACK, 13, 2, 0x05, 0, 100, *seg(SYN), *seg(ACK),
                    *seg(ACK, length=1000), *seg(ACK, length=1000), 9, 0, 0x01, 0x00,
                    *seg(ACK | FIN, length=40), *time_ms(500), 10, 0],
    "server_small": [0x00, *CFG_SMALL, *seg(SYN), *seg(ACK), *seg(ACK, length=900),
                     *seg(ACK, length=900), *time_s(1), 9, 0, 0x10, 0x00, *time_s(30),
                     *send(3000), *time_s(60), *HOURS],
    "server_cookie": [0x00, *CFG_COOKIES, *seg(SYN), *seg(ACK), *seg(ACK, length=64),
                      *seg(SYN, flow=1), *seg(ACK, flow=1), *seg(RST, flow=1), 8, 0,
                      *time_s(1), *seg(ACK | FIN), *time_s(100)],
    "server_ooo": [0x00, *CFG, *seg(SYN), *seg(ACK), 0, 0, 0x10, 1, 100, 0, 0, 0, 0xC0,
                   *seg(ACK, length=50), *send(2000), 11, 0, 0x40, 0, 5, *time_ms(10),
                   12, 2, 12, 1, *HOURS],
    "client_bulk": [0x80, *CFG, 12, 0, *seg(SYN | ACK), *send(20000), 5, 4, *time_ms(50),
                    *seg(ACK, length=96), 8, 0, *time_s(1), *seg(FIN | ACK), *time_s(70)],
    "client_refused": [0x80, *CFG_SMALL, 12, 1, *seg(RST | ACK, flow=1), 12, 0, *time_s(1),
                       *time_s(4), *time_s(16), *HOURS],
    # the peer's sequence numbers wrap at 2^32 inside the data (the stream pattern too)
    "server_wrap": [0x00, *CFG, 0, 0, SYN, 3, 0xFF, 0xFF, 0xFF, 0x00, 0, 0, *SYN_OPTS, 0,
                    0, 0, ACK, 3, 0xFF, 0xFF, 0xFF, 0x01, 0, 0, 0, 0,
                    0, 0, ACK | PSH, 3, 0xFF, 0xFF, 0xFF, 0x01, 0, 0, 0, 228,
                    13, 1, 0, 0, 0, 0, 0, ACK | PSH, 3, 0, 0, 0, 0x41, 0, 0, 0, 228, 9, 0, 0, 10,
                    *time_s(1), *HOURS],
    # transmit timestamp reports on (config bits (a ^ b) & 3 == 3), taken by op 14
    "server_txts": [0x00, 0x80, 0x0B, *seg(SYN), *seg(ACK), *seg(ACK | PSH, length=96),
                    *send(4096), *time_ms(11), *seg(ACK), 13, 0, 0, 0, 0, 8, 14, 0, *send(3000),
                    8, 0, *time_s(1), 14, 0, *seg(FIN | ACK), *time_s(2), 14, 0, *HOURS],
    # knob 0x20: op 5's high bits make the stack's link refuse its next 32, then 5 frames
    "server_busy": [0x20, *CFG, *seg(SYN), *seg(ACK), 5, 0xE0, *send(8000), *time_ms(11),
                    *seg(ACK), 5, 0xA0, *send(3000), 8, 0, *time_s(1), *seg(FIN | ACK),
                    *time_s(2), *HOURS],
    # knob 0x20: calls on a freed slot (pick byte 0x80: slot 0, live or not) after op 10 closed
    # it, with transmit timestamp reports still queued
    "server_stale": [0x20, 0x80, 0x0B, *seg(SYN), *seg(ACK), *send(3000), *time_ms(1),
                     10, 0, 14, 0x80, 6, 0x80, 7, 0x80, 8, 0x80, 9, 0x80, 11, 0x80, 10, 0x80,
                     *seg(SYN, flow=1), *seg(ACK, flow=1), 14, 0x80, *time_s(1), *HOURS],
    "client_zero_window": [0x80, *CFG, 12, 0, 0, 0, SYN | ACK, 0, 0, 2, *SYN_OPTS, 0,
                           *send(5000), *time_s(1), *time_s(10), *time_s(100), *HOURS],
}

frames_seeds = {}
for state in range(10):
    frames_seeds[f"server_state{state}"] = [
        state, *CFG, *seg(ACK | PSH, length=64), *seg(FIN | ACK), 1, 0x0E, 54, *([0x45] * 54),
        2, 0, 0, ACK, 0, 3, 9, 0x2F, 23, 0x40, 0, 0, *seg(RST), 3, 0x12, *time_s(2), *HOURS]
for state in range(4):
    frames_seeds[f"client_state{state}"] = [
        0x80 | state, *CFG, *seg(SYN | ACK), *seg(ACK, length=10), 3, 0x01, 7,
        *seg(SYN), *seg(RST | ACK), *time_s(3), *HOURS]


# fuzz_shm: opcodes 0 produce, 1/2 rx_burst, 3 release, 4 tx, 5 tx_done, 6 consume,
# 7 scribble, 8 reopen (tests/fuzz/fuzz_shm.c).
PRODUCE4 = [0, 3, 0, 0, 60, 0, 5, 0xDC, 0, 0, 100, 0, 0, 0]
shm_seeds = {
    "rx_release": [0, *PRODUCE4, 1, 10, 3, 0, 3, 1, 1, 10, 3, 0, 3, 0],
    "tx_consume": [1, 4, 0, 0, 0, 60, 4, 1, 0, 5, 0xDC, 5, 10, 6, 10, 4, 2, 0x80, 0xFF, 0xFF, 5, 10],
    "hostile_head": [0, *PRODUCE4, 7, 0x08, 0x7F, 0xFF, 0xFF, 0xFF, 1, 10, 7, 0, 0x10, 1, 10],
    "hostile_len": [0, 0, 1, 0x80, 0xFF, 0xFF, 0xFF, 0xFF, 1, 10, 0, 1, 0x80, 0, 0, 0, 5, 1, 10],
    "reopen": [0, *PRODUCE4, 7, 2, 0x00, 0x00, 0x42, 8, 7, 2, 0x00, 0x08, 0x02, 8, 1, 10],
    # knob 0x02: op 4 with selector bit 0x40 is a burst (1,040 frames: the ring fills at 1,024),
    # then side B consumes 255 and the next burst refills them
    "flood": [0x02, 4, 0, 0x40, 0x04, 0x10, 50, 6, 0xFF, 4, 0, 0x40, 0x01, 0x00, 50, 6, 200,
              4, 0, 0x40, 0x07, 0xFF, 0, 5, 10],
}


# fuzz_efvi: the conn programs with the emulated port's byte after the config (bit 0 EFCT,
# bit 1 CTPIO, bit 2 checksum checks), and NIC faults (opcodes 0xf0..0xff: reset, TX error,
# event queue overflow, discards, starved rings).
efvi_seeds = {}
for name in ("server_echo", "client_bulk", "server_ooo"):
    prog = conn_seeds[name]
    efvi_seeds[name + "_ef10"] = prog[:3] + [0x06] + prog[3:]
    efvi_seeds[name + "_efct"] = prog[:3] + [0x05] + prog[3:]
# knob 0x20 (role byte): the byte after the port's is its shape (tests/fuzz/fz.c, rig_new)
for name, shape in (("ts", 0x03), ("small_bufs", 0x2C), ("mtu_txq", 0xC0)):
    prog = conn_seeds["server_txts"]
    efvi_seeds[f"shape_{name}_ef10"] = [0x20, *prog[1:3], 0x06, shape, *prog[3:]]
    efvi_seeds[f"shape_{name}_efct"] = [0x20, *prog[1:3], 0x05, shape, *prog[3:]]
for arch in (0x06, 0x05):
    efvi_seeds[f"faults_{arch}"] = [0x00, *CFG, arch, *seg(SYN), *seg(ACK), *send(3000),
                                    0xF2, 0x01, *seg(ACK, length=96), 0xF0, *time_ms(2),
                                    0xF1, *send(3000), *time_ms(20), 0xF3, 0x1C, *time_s(1),
                                    0xF2, 0x00, *time_s(5), *HOURS]
    # knob 0x20 (shape byte 0: the port as above): a reset after the queued events (0xF4) in
    # the middle of a transfer, then CTPIO refused to the next VIs (0xF6) and a reset: the
    # restart falls back to DMA
    efvi_seeds[f"faults_more_{arch}"] = [0x20, *CFG, arch, 0x00, *seg(SYN), *seg(ACK),
                                         *send(3000), *seg(ACK, length=96), 0xF4, *time_ms(2),
                                         *send(3000), 0xF6, 0x00, 0xF0, *time_ms(20),
                                         *send(3000), *time_ms(20), 0xF2, 0x00, *time_s(5),
                                         *HOURS]


# fuzz_pair: a server and a client instance; the byte after the config varies the client's
# (timestamps, window scaling, congestion control, buffer, delayed ACKs). Opcode 12 connects the
# client, opcode 0 spoofs a segment into a connection: flow (bit 2: to the client), flags, seq,
# ack, window, options (bit 1: a TSval near the sender's, bit 2: a SACK block), payload.
def inject(flags, to_client=False, seq=(0,), ack=(0,), ts=None, length=0):
    bits, extra = (0, []) if ts is None else (2, list(ts))
    lb = 0 if length == 0 else 127 + length
    return [0, 4 if to_client else 0, flags, *seq, *ack, 0, bits, *extra, lb]


pair_seeds = {
    "echo": [0x00, *CFG, 0x00, 12, 0, *send(3000, conn=1), *send(2000, conn=0), *time_ms(10),
             8, 1, *time_s(1), 8, 0, *time_s(2), *HOURS],
    "paws_storm": [0x00, *CFG, 0x00, 12, 0, *send(1000, conn=1),
                   *inject(ACK | PSH, ts=(3, 0x7F, 0xFF, 0xFF, 0xFF), length=50),
                   *send(4000, conn=1), *send(4000, conn=0), *time_ms(5), *time_s(10)],
    "ack_unsent": [0x00, *CFG, 0x10, 12, 0, *send(5000, conn=0),
                   *inject(ACK, to_client=True, ack=(1, 100)), *send(3000, conn=1),
                   *inject(ACK, ack=(1, 100)), *time_s(1), *time_s(60)],
    # knob 0x20: the lossy path, and op 5's high bits make a link refuse frames (odd flow: the
    # client instance's)
    "busy_lossy": [0x20, *CFG, 0x00, 12, 0, *time_ms(2), 5, 0xE1, *send(3000, conn=1), 5, 0xC0,
                   *send(2000, conn=0), *time_ms(10), 8, 1, *time_s(1), 8, 0, *time_s(2), *HOURS],
    "spoofed_rst_syn": [0x00, *CFG_CUBIC_DACK, 0x05, 12, 0, 12, 1, *send(2000, conn=2),
                        *inject(RST, seq=(1, 5)), *inject(SYN, to_client=True, seq=(2, 0, 9)),
                        *inject(FIN | ACK, length=10), *time_s(1), *HOURS],
}


def write(target, seeds):
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for name, prog in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(bytes(b & 0xFF for b in prog))


write("conn", conn_seeds)
write("frames", frames_seeds)
write("shm", shm_seeds)
write("efvi", efvi_seeds)
write("pair", pair_seeds)
