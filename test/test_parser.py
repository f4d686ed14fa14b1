"""The fast number parser (heatmap._parse_table): bit-identical to float(), None for anything irregular."""
import os
import random
import re
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from heatmap import _parse_table  # noqa: E402

_NUM = re.compile(r"([+-]?)([0-9]*)\.?([0-9]*)")
_SYNTAX = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)")


def _supported(tok: str) -> bool:
    """Token syntax and size accepted by the fast parser (see its docstring)."""
    if not _SYNTAX.fullmatch(tok):
        return False
    _, ip, fp = _NUM.fullmatch(tok).groups()
    return len(ip) <= 32 and len(fp) <= 22 and int(ip + fp) < 2 ** 53


def _model(chunk: bytes, sep: bytes):
    """Pure-Python model of _parse_table: list of rows of floats, or None."""
    lines = chunk.decode("latin-1").split("\n")
    rows = []
    for line in lines:
        body = line.strip(" \t\r")
        if not body:
            continue
        if sep == b" ":
            fields = re.split(r"[ \t\r]+", body)
        else:
            fields = [f.strip(" \t\r") for f in line.split(",")]
        if not all(_supported(f) for f in fields):
            return None
        rows.append([float(f) for f in fields])
    if not rows or any(len(r) != len(rows[0]) for r in rows):
        return None
    return rows


def _bits(a):
    return np.ascontiguousarray(a, dtype=np.float64).view(np.uint64)


def check(chunk: bytes, sep: bytes = b" "):
    """Assert _parse_table agrees with the model bit for bit (including None)."""
    got = _parse_table(chunk, sep)
    want = _model(chunk, sep)
    if want is None:
        assert got is None, (chunk[:200], got)
    else:
        assert got is not None, chunk[:200]
        want = np.array(want, dtype=np.float64)
        assert got.dtype == np.float64 and got.shape == want.shape
        assert np.array_equal(_bits(got), _bits(want)), chunk[:200]
    return got


def _rand_decimal(rng: random.Random, sig: int, frac: int) -> str:
    """Random decimal with `sig` significant digits and `frac` fraction digits."""
    digits = str(rng.randint(10 ** (sig - 1), 10 ** sig - 1))
    if frac >= len(digits):
        s = "0." + "0" * (frac - len(digits)) + digits
    elif frac:
        s = digits[:-frac] + "." + digits[-frac:]
    else:
        s = digits
    if rng.random() < 0.1:
        s = "0" * rng.randint(1, 4) + s  # leading zeros
    if rng.random() < 0.05 and s.startswith("0."):
        s = s[1:]  # ".5"
    return rng.choice(["", "", "-", "+"]) + s


# ---------------------------------------------------------------- exactness


@pytest.mark.parametrize("seed", range(8))
def test_random_decimals_bit_identical(seed):
    rng = random.Random(seed)
    rows = []
    for _ in range(2000):
        rows.append(" ".join(_rand_decimal(rng, rng.randint(1, 15), rng.randint(0, 20)) for _ in range(3)))
    got = check(("\n".join(rows) + "\n").encode())
    assert got is not None and got.shape == (2000, 3)


@pytest.mark.parametrize("sig", range(1, 18))
def test_significant_digits_1_to_17(sig):
    rng = random.Random(sig)
    for frac in range(0, 21):
        toks = [_rand_decimal(rng, sig, frac) for _ in range(50)]
        check(("\n".join(toks) + "\n").encode())  # None exactly when M >= 2**53 etc.
        for t in toks:
            check((t + "\n").encode())


def test_lat_lon_data():
    rng = np.random.default_rng(1)
    n = 30000
    chunk = "".join("%.6f %.6f\n" % (47 + a, -122 - b) for a, b in rng.random((n, 2))).encode()
    got = check(chunk)
    assert got.shape == (n, 2)


def test_repr_of_random_doubles():
    rng = np.random.default_rng(2)
    vals = rng.standard_normal(5000) * 10.0 ** rng.integers(-5, 10, 5000)
    chunk = "".join("%r\n" % float(v) for v in vals).encode()
    check(chunk)  # reprs with >= 16 digits or exponents make the whole chunk None
    small = "".join("%.12g\n" % v for v in vals if 1e-3 < abs(v) < 1e9).encode()
    assert check(small) is not None


def test_exact_halfway_and_hard_cases():
    toks = ["0.1", "0.2", "0.3", "9007199254740991", "9007199254740992", "4503599627370497.5",
            "0.0000000000000000000001", "1.7976931348623157", "2.2250738585072014",
            "123456789012345.6", "0.30000000000000004", "5e-324", "1.00000000000000000000001"]
    for t in toks:
        check((t + "\n").encode())
    assert _parse_table(b"9007199254740991\n", b" ")[0, 0] == 9007199254740991.0
    assert _parse_table(b"9007199254740992\n", b" ") is None  # M == 2**53


def test_signed_zero_and_zeros():
    got = check(b"-0 0.0 -0.0 +0 -.0 0. 000\n")
    assert list(np.signbit(got[0])) == [True, False, True, False, True, False, False]


def test_leading_zeros_and_short_forms():
    got = check(b"007.50 -.5 .5 3. +3. -000012 0000000000000000000000000000001.25\n")
    assert got.tolist() == [[7.5, -0.5, 0.5, 3.0, 3.0, -12.0, 1.25]]


def test_leading_point_first_token():
    assert check(b".5 .25\n.5 1\n").tolist() == [[0.5, 0.25], [0.5, 1.0]]
    assert check(b".5,.25\n", b",").tolist() == [[0.5, 0.25]]


def test_long_tokens_generic_path():
    check(b"123456789.123456 1\n0.000000000000000000001 2\n")
    check(b"0." + b"0" * 21 + b"1 1\n")  # F = 22 accepted
    check(b"0." + b"0" * 22 + b"1 1\n")  # F = 23 -> None
    check(b"0" * 32 + b"1 1\n")  # 33 integer digits -> None (model agrees)


# ---------------------------------------------------------------- whitespace / layout


def test_tabs_crlf_blank_lines_trailing_spaces():
    chunk = b"\t 1.5\t-2  \r\n\r\n   \n\t\n3 4.25   \n  5\t\t6\r\n"
    got = check(chunk)
    assert got.tolist() == [[1.5, -2.0], [3.0, 4.25], [5.0, 6.0]]


def test_three_columns():
    got = check(b"1 2 3\n4.5 -5.5 6.25\n")
    assert got.shape == (2, 3)


def test_single_column_and_no_final_newline():
    assert check(b"1\n2\n3").tolist() == [[1.0], [2.0], [3.0]]


def test_empty_and_blank_chunks():
    assert _parse_table(b"", b" ") is None
    assert _parse_table(b"\n \n\t\r\n", b" ") is None
    assert _parse_table(b"\n\n", b",") is None


def test_ragged_line_returns_none():
    assert check(b"1 2\n3 4\n5\n") is None
    assert check(b"1 2\n3 4 5\n") is None


def test_multi_block_chunks():
    rng = random.Random(5)
    lines = [" ".join(_rand_decimal(rng, rng.randint(1, 12), rng.randint(0, 8)) for _ in range(4))
             for _ in range(40000)]  # ~1.5 MB: several blocks
    chunk = ("\n".join(lines) + "\n").encode()
    assert check(chunk).shape == (40000, 4)
    assert check(chunk + b"1 2 3\n") is None  # ragged line in the last block
    assert check(b"1 2 3\n" + chunk) is None  # ragged line in the first block


def test_line_longer_than_block():
    line = " ".join(str(i) + ".5" for i in range(100000)).encode() + b"\n"  # ~690 KB
    got = check(line * 2)
    assert got.shape == (2, 100000)


# ---------------------------------------------------------------- rejected syntax


@pytest.mark.parametrize("tok", ["1e5", "1E5", "1.5e-3", "nan", "inf", "-inf", "NaN", "1_000", "0x10",
                                 "1.2.3", "--1", "+-1", "1-", "1+", "-", "+", ".", "-.", "1/2", "1,5",
                                 "12345678901234567", "abc", "#", "1*", "(1)", "\"1\"", "１"])
def test_unsupported_token_returns_none(tok):
    chunk = ("1 2\n3 %s\n" % tok).encode("utf-8")
    assert check(chunk) is None


def test_control_bytes_return_none():
    for b in [b"\x00", b"\x0b", b"\x0c", b"\x0e", b"\x08", b"\x1f", b"\x7f", b"\xff"]:
        assert _parse_table(b"1 2\n3" + b + b"4 5\n", b" ") is None
        assert _parse_table(b"1 2\n3 4" + b + b"\n", b" ") is None


# ---------------------------------------------------------------- CSV


def test_csv_spaces_around_commas():
    got = check(b"1,2,3\n 4 , 5.5 ,-6\n\n7\t,8,\t9 \r\n", b",")
    assert got.tolist() == [[1, 2, 3], [4, 5.5, -6], [7, 8, 9]]


@pytest.mark.parametrize("chunk", [b"1,,2\n", b"1,2,\n", b",1,2\n", b"1,2\n,\n", b"1 2,3\n", b"1, ,2\n",
                                   b"\"1\",2\n", b"1,2\n3,4,5\n", b"1,2\n3\n", b"1;2\n", b"1,2\n , \n"])
def test_csv_invalid_returns_none(chunk):
    assert check(chunk, b",") is None


def test_csv_three_columns_random():
    rng = random.Random(7)
    rows = []
    for _ in range(3000):
        rows.append(",".join(rng.choice(["", " ", "\t"]) + _rand_decimal(rng, rng.randint(1, 15), rng.randint(0, 10))
                             + rng.choice(["", " "]) for _ in range(3)))
    assert check(("\r\n".join(rows) + "\r\n").encode(), b",").shape == (3000, 3)


def test_bad_separator_argument():
    assert _parse_table(b"1;2\n", b";") is None


# ---------------------------------------------------------------- hypothesis

try:
    from hypothesis import given, settings, strategies as st
except ImportError:  # pragma: no cover
    st = None

if st is not None:
    _num = st.builds(
        lambda sign, ip, point, fp: sign + ip + point + fp,
        st.sampled_from(["", "", "-", "+"]),
        st.one_of(st.text("0123456789", min_size=1, max_size=6), st.text("0123456789", max_size=20)),
        st.sampled_from(["", ".", "."]),
        st.one_of(st.text("0123456789", max_size=8), st.text("0123456789", max_size=24)),
    )
    _junk = st.one_of(
        st.sampled_from(["e5", "E", "nan", "inf", "_", "x", "*", "(", "\x0e", "\x0c", "/", ",", ".", "-",
                         "\"", "#", "\x00", "1e-3", "", "+-1", "1.2.3"]),
        st.text("0123456789.+-e ,*\t", max_size=6))
    _sp = st.sampled_from([" ", "\t", "  ", " \t ", "\r"])

    @st.composite
    def _tables(draw, csv):
        """Mostly regular tables of number strings; some get one junk token or a ragged row."""
        ncols = draw(st.integers(1, 4))
        nrows = draw(st.integers(1, 8))
        rows = [[draw(_num) for _ in range(ncols)] for _ in range(nrows)]
        kind = draw(st.integers(0, 5))
        if kind == 1:  # one junk token
            r = draw(st.integers(0, nrows - 1))
            rows[r][draw(st.integers(0, ncols - 1))] = draw(_junk)
        elif kind == 2:  # ragged or blank row
            rows[draw(st.integers(0, nrows - 1))] = [draw(_num) for _ in range(draw(st.integers(0, 5)))]
        lines = []
        for toks in rows:
            if csv:
                line = ",".join(draw(st.sampled_from(["", " ", "\t"])) + t + draw(st.sampled_from(["", " "]))
                                for t in toks)
            else:
                line = draw(st.sampled_from(["", " ", "\t"])) + "".join(t + draw(_sp) for t in toks)
            lines.append(line + draw(st.sampled_from(["", "", "\r", " "])))
        return ("\n".join(lines) + draw(st.sampled_from(["\n", "\n", "", "\n\n"]))).encode("latin-1")

    @settings(max_examples=300, deadline=None)
    @given(_tables(False))
    def test_hypothesis_whitespace_tables(chunk):
        check(chunk, b" ")

    @settings(max_examples=300, deadline=None)
    @given(_tables(True))
    def test_hypothesis_csv_tables(chunk):
        check(chunk, b",")

    @settings(max_examples=300, deadline=None)
    @given(st.lists(st.tuples(st.sampled_from(["", "-"]), st.integers(0, 2 ** 53 - 1), st.integers(0, 22)),
                    min_size=1, max_size=30))
    def test_hypothesis_exact_values(items):
        toks = []
        for sign, m, f in items:
            s = str(m).rjust(f + 1, "0")
            toks.append(sign + (s[:-f] + "." + s[-f:] if f else s))
        got = check(("\n".join(toks) + "\n").encode())
        assert got is not None  # every token is in the supported range
