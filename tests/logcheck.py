#!/usr/bin/env python3
"""logcheck.py - every line of a controller log must be one logfmt or JSON record (src/log.h).

    python3 tests/logcheck.py [--format auto|logfmt|json] [--allow-empty] FILE...   ('-' reads stdin)
    python3 tests/logcheck.py --self-test

A line passes when it is valid UTF-8 and:
  - logfmt: key=value fields one space apart; a key is one or more bytes of printable ASCII other
    than space " = \\; a value is such bytes or a JSON string in double quotes (the escapes
    go-logfmt and src/log.c use); no raw control byte, DEL, C1 control or U+2028/U+2029;
  - JSON: one object (json.loads, strict), no raw DEL, C1 control or U+2028/U+2029 either;
  - both: no key twice; the first keys are ts, level, msg; ts has the format's shape (RFC 3339 UTC
    with milliseconds in logfmt, a number in JSON); level is debug, info, warn or error.
A file must end with a newline (a cut write shows as a last line without one) and, unless
--allow-empty, hold at least one line: an empty log is not a passing one.
--format auto (the default) takes a line that starts with '{' as JSON and any other as logfmt.

Each bad line is printed as FILE:LINE: why: the line (shortened). The last line is always
"logcheck: N passed, N failed" (lines); the exit status is 1 when any line failed, 2 on bad usage.
Only the standard library is used (Debian: python3).
"""
import json
import re
import sys

LEVELS = ("debug", "info", "warn", "error")
BARE = r'[!#-<>-\[\]-~]+'  # printable ASCII but space " = \
QUOTED = r'"(?:[^"\\\x00-\x1f\x7f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"'
FIELD = re.compile(r'(%s)=(%s|%s)' % (BARE, QUOTED, BARE))
TS_LOGFMT = re.compile(r'[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z\Z')
# Raw code points a writer must escape: tools split lines at them (str.splitlines, JavaScript).
FORBIDDEN_RAW = re.compile('[\x7f\x80-\x9f\u2028\u2029]')


class Bad(Exception):
    pass


def parse_logfmt(text):
    fields = []
    pos = 0
    while pos < len(text):
        if fields:
            if text[pos] != ' ':
                raise Bad("expected one space between fields at column %d" % (pos + 1))
            pos += 1
        m = FIELD.match(text, pos)
        if not m:
            raise Bad("no key=value at column %d" % (pos + 1))
        key, raw = m.group(1), m.group(2)
        try:
            value = json.loads(raw) if raw.startswith('"') else raw
        except ValueError as e:  # a lone surrogate escape and the like
            raise Bad("bad quoted value for %s: %s" % (key, e))
        fields.append((key, value))
        pos = m.end()
    if not fields:
        raise Bad("empty line")
    return fields


def parse_json(text):
    def pairs(items):
        seen = set()
        for k, _ in items:
            if k in seen:
                raise Bad("duplicate key %r" % k)
            seen.add(k)
        return dict(items)

    def constant(name):
        raise Bad("%s is not JSON" % name)

    try:
        obj = json.loads(text, object_pairs_hook=pairs, parse_constant=constant)
    except ValueError as e:
        raise Bad("not JSON: %s" % e)
    if not isinstance(obj, dict):
        raise Bad("not a JSON object")
    return list(obj.items())


def check_strings(fields):
    """A \\uD800 escape decodes to a lone surrogate, which no UTF-8 reader can take."""
    for k, v in fields:
        for s in (k, v):
            if isinstance(s, dict):
                check_strings(list(s.items()))
            elif isinstance(s, str):
                try:
                    s.encode("utf-8", "strict")
                except UnicodeEncodeError:
                    raise Bad("a lone surrogate escape in %r" % k)


def check_line(raw, fmt):
    try:
        text = raw.decode("utf-8", "strict")
    except UnicodeDecodeError as e:
        raise Bad("not UTF-8: %s" % e)
    m = FORBIDDEN_RAW.search(text)
    if m:
        raise Bad("raw U+%04X" % ord(m.group(0)))
    json_line = text.startswith("{") if fmt == "auto" else fmt == "json"
    fields = parse_json(text) if json_line else parse_logfmt(text)
    check_strings(fields)
    keys = [k for k, _ in fields]
    if len(set(keys)) != len(keys):
        raise Bad("a key twice: %s" % sorted({k for k in keys if keys.count(k) > 1}))
    if keys[:3] != ["ts", "level", "msg"]:
        raise Bad("first keys are %s, not ts level msg" % keys[:3])
    ts, level, msg = (v for _, v in fields[:3])
    if json_line:
        if isinstance(ts, bool) or not isinstance(ts, (int, float)):
            raise Bad("ts is not a number")
    elif not TS_LOGFMT.match(ts):
        raise Bad("ts %r is not RFC 3339 UTC with milliseconds" % ts)
    if level not in LEVELS:
        raise Bad("level %r" % (level,))
    if not isinstance(msg, str):
        raise Bad("msg is not a string")


def check_stream(name, data, fmt, allow_empty, out):
    passed = failed = 0
    lines = data.split(b"\n")
    last = lines.pop()  # b"" when the data ends with a newline
    for no, raw in enumerate(lines, 1):
        try:
            check_line(raw, fmt)
            passed += 1
        except Bad as e:
            failed += 1
            shown = raw[:160].decode("utf-8", "backslashreplace")
            out.write("%s:%d: %s: %s%s\n" % (name, no, e, shown, "..." if len(raw) > 160 else ""))
    if last:
        failed += 1
        out.write("%s:%d: no newline at the end (a cut write?)\n" % (name, len(lines) + 1))
    if not lines and not last and not allow_empty:
        failed += 1
        out.write("%s: no log line at all\n" % name)
    return passed, failed


GOOD = [
    b'ts=2026-11-30T00:00:00.000Z level=info msg="order deleted" namespace=default name=a result=forgotten',
    b'ts=2026-11-30T00:00:00.000Z level=error msg=x detail="x\\" \\nts=1999-01-01 level=error msg=INJECTED"',
    b'ts=2026-11-30T00:00:00.000Z level=warn msg="" v="\\u0001\\u007f\\ufffd\\u2028 \xc3\xa9"',
    b'{"ts":1795996800.000,"level":"info","msg":"m","PizzaOrder":{"name":"a","namespace":"b"},"n":-5}',
    b'{"ts":1795996800.000,"level":"debug","msg":"m","v":"\\"\\n\\u0000","truncated":true}',
]
BAD = [
    b'ts=2026-11-30T00:00:00.000Z level=error msg=x detail="x" ',              # trailing space
    b'ts=2026-11-30T00:00:00.000Z level=error msg=x detail="x"',               # fine ...
    b'ts=1999-01-01 level=error msg=INJECTED"',                                # ... the forged rest
    b'ts=2026-11-30T00:00:00.000Z level=info msg=a msg=b',                     # a key twice
    b'ts=2026-11-30T00:00:00.000Z level=info msg="a\tb"',                      # raw tab
    b'ts=2026-11-30T00:00:00.000Z level=info msg="\xff"',                      # not UTF-8
    b'ts=2026-11-30T00:00:00.000Z level=info msg="a\\xffb"',                   # \x is not an escape
    b'ts=2026-11-30T00:00:00.000Z level=info msg="\xe2\x80\xa8"',              # raw U+2028
    b'ts=2026-11-30T00:00:00.000Z level=loud msg=a',                           # level
    b'level=info ts=2026-11-30T00:00:00.000Z msg=a',                           # order
    b'ts=2026-11-30 level=info msg=a',                                         # ts shape
    b'{"ts":"2026","level":"info","msg":"m"}',                                 # JSON ts not a number
    b'{"ts":1,"level":"info","msg":"m","a":1,"a":2}',                          # JSON key twice
    b'{"ts":1,"level":"info","msg":"m"',                                       # cut JSON
    b'{"ts":1,"level":"info","msg":"a\x01"}',                                  # raw control in JSON
    b'{"ts":1,"level":"info","msg":"\xc2\x85"}',                               # raw C1 in JSON
    b'{"ts":1,"level":"info","msg":"m","v":NaN}',                               # not JSON
    b'ts=2026-11-30T00:00:00.000Z level=info msg="\\ud800"',                   # lone surrogate
    b'{"ts":1,"level":"info","msg":"m","o":{"a":"\\udc00"}}',                  # lone surrogate
    b'=x',
    b'',
]


def self_test(out):
    """The checker's own test: every GOOD line passes, every BAD line but the second fails."""
    passed = failed = 0
    for raw in GOOD:
        try:
            check_line(raw, "auto")
            passed += 1
        except Bad as e:
            failed += 1
            out.write("self-test: good line refused (%s): %r\n" % (e, raw))
    for i, raw in enumerate(BAD):
        try:
            check_line(raw, "auto")
            ok = i == 1
        except Bad:
            ok = i != 1
        if ok:
            passed += 1
        else:
            failed += 1
            out.write("self-test: bad line #%d judged wrongly: %r\n" % (i, raw))
    for data, want in ((b"\n".join(GOOD) + b"\n", (5, 0)), (GOOD[0], (0, 1)), (b"", (0, 1))):
        got = check_stream("self", data, "auto", False, open("/dev/null", "w"))
        if got == want:
            passed += 1
        else:
            failed += 1
            out.write("self-test: stream %r gave %s, expected %s\n" % (data[:40], got, want))
    return passed, failed


def main(argv):
    fmt, allow_empty, files = "auto", False, []
    args = iter(argv)
    for a in args:
        if a == "--self-test":
            p, f = self_test(sys.stdout)
            print("logcheck: %d passed, %d failed" % (p, f))
            return 1 if f else 0
        if a == "--allow-empty":
            allow_empty = True
        elif a == "--format" or a.startswith("--format="):
            fmt = a.split("=", 1)[1] if "=" in a else next(args, "")
            if fmt not in ("auto", "logfmt", "json"):
                print("logcheck: --format is auto, logfmt or json", file=sys.stderr)
                return 2
        elif a.startswith("--"):
            print(__doc__, file=sys.stderr)
            return 2
        else:
            files.append(a)
    if not files:
        print(__doc__, file=sys.stderr)
        print("logcheck: 0 passed, 1 failed")
        return 2
    passed = failed = 0
    for name in files:
        try:
            if name == "-":
                data = sys.stdin.buffer.read()
            else:
                with open(name, "rb") as f:
                    data = f.read()
        except OSError as e:
            sys.stdout.write("%s: cannot read: %s\n" % (name, e))
            failed += 1
            continue
        p, f = check_stream(name, data, fmt, allow_empty, sys.stdout)
        passed += p
        failed += f
    print("logcheck: %d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
