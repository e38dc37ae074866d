#!/bin/sh
# t_smtp.sh - the smtp channel (issue 11, item 1) against a scripted SMTP
# server on loopback (a few lines of Python's standard library; to be
# replaced by tests/tools/smtpsink once it exists).
#
#  1. a letter from bennett@ucl to three Internet recipients, dropped at
#     ucl routed "* = smtp tcp:127.0.0.1:PORT", arrives at the server in
#     one transaction: MAIL FROM:<bennett@ucl>, one RCPT per recipient,
#     the message with CRLF line ends and a Received: line at the top;
#  2. the recipient the server refuses with 550 fails: one NDN with the
#     server's text reaches bennett@ucl;
#  3. the recipient refused with 450 is deferred (journal "deferred" with
#     the reply), then delivered at the next try (a second transaction);
#  4. the journal's forwarded lines carry the "queued as" id as remote;
#  5. a letter with an 8-bit octet is refused with a reason (NDN).
set -u
top=$(cd "$(dirname "$0")/../../.." && pwd)
[ -f "$top/tests/integration/lib-relay.sh" ] || top=$(cd "$(dirname "$0")/../.." && pwd)
. "$top/tests/integration/lib-relay.sh"
relay_setup t_smtp
command -v python3 >/dev/null 2>&1 || die "python3 not found (the scripted SMTP server)"

# The server: 550 for local part "nosuch", 450 for "later" the first time
# it is seen, 250 for the rest. Each transaction goes to $T/sink/N.txt:
# the MAIL and RCPT lines (accepted or not) then the message bytes as
# received (CRLF kept); the listening port goes to $T/sink.port.
mkdir -p "$T/sink"
cat >"$T/sink.py" <<'EOF'
import os, socketserver, sys
d = sys.argv[1]
state = {"n": 0, "later": 0}
class H(socketserver.StreamRequestHandler):
    def say(self, s):
        self.wfile.write(s.encode() + b"\r\n")
        self.wfile.flush()
    def handle(self):
        self.say("220 sink ESMTP test")
        env = []
        while True:
            line = self.rfile.readline(4096)
            if not line:
                return
            cmd = line.decode("latin-1").rstrip("\r\n")
            v = cmd[:4].upper()
            if v in ("EHLO", "HELO"):
                self.say("250-sink")
                self.say("250 SIZE 10000000")
            elif v == "MAIL":
                env = [cmd]
                self.say("250 2.1.0 ok")
            elif v == "RCPT":
                env.append(cmd)
                lp = cmd.split("<", 1)[-1].split("@", 1)[0].lower()
                if lp == "nosuch":
                    self.say("550 5.1.1 <nosuch>: user unknown here")
                elif lp == "later" and state["later"] == 0:
                    state["later"] += 1
                    self.say("450 4.2.0 <later>: try again later")
                else:
                    self.say("250 2.1.5 ok")
            elif v == "DATA":
                self.say("354 go ahead")
                data = b""
                while True:
                    l = self.rfile.readline(100000)
                    if not l or l == b".\r\n":
                        break
                    data += l
                state["n"] += 1
                n = state["n"]
                with open(os.path.join(d, "%d.tmp" % n), "wb") as f:
                    f.write(("\n".join(env) + "\n\n").encode())
                    f.write(data)
                os.rename(os.path.join(d, "%d.tmp" % n), os.path.join(d, "%d.txt" % n))
                self.say("250 2.0.0 Ok: queued as SINK%d" % n)
            elif v == "QUIT":
                self.say("221 bye")
                return
            elif v == "RSET" or v == "NOOP":
                self.say("250 ok")
            else:
                self.say("502 5.5.2 unknown command")
class S(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True
s = S(("127.0.0.1", 0), H)
with open(d + ".port.tmp", "w") as f:
    f.write("%d\n" % s.server_address[1])
os.rename(d + ".port.tmp", d + ".port")
s.serve_forever()
EOF
python3 "$T/sink.py" "$T/sink" 2>"$T/sink.err" &
pids="$pids $!"
_i=0
while [ ! -s "$T/sink.port" ]; do
	_i=$((_i + 1))
	[ $_i -le 200 ] || die "the SMTP sink did not start: $(cat "$T/sink.err")"
	sleep 0.05
done
PORT=$(cat "$T/sink.port")

node_ini ucl <<EOF
[routes]
* = smtp tcp:127.0.0.1:$PORT
[local]
maildir = $(mdir ucl)/%u/
users = bennett
[retry]
first = 1s
max = 2s
EOF
start_node ucl || die "ucl did not start"

# 1. one letter, three recipients
mkletter "$T/l1" smtp-one@ucl bennett@ucl ada@example.org nosuch@example.org later@example.org
# a line that starts with a dot, to see libcurl's dot-stuffing
printf '.hidden line\nlast line\n' >>"$T/l1"
drop ucl "$T/l1" l1
wait_journal ucl '^.*forwarded.*ada@example.org' 1 30 || bad "1: no forwarded line for ada"
[ -f "$T/sink/1.txt" ] || die "1: nothing arrived at the sink"
m=$T/sink/1.txt
grep -q '^MAIL FROM:<bennett@ucl>' "$m" && ok "1: MAIL FROM:<bennett@ucl>" ||
	bad "1: MAIL FROM: $(grep '^MAIL' "$m")"
for r in ada nosuch later; do
	grep -q "^RCPT TO:<$r@example.org>" "$m" && ok "1: RCPT TO:<$r@example.org>" ||
		bad "1: no RCPT for $r"
done
# the message part: after the first empty line
sed '1,/^$/d' "$m" >"$T/msg1"
head -1 "$T/msg1" | grep -q '^Received: from ucl by ucl (niftpmail) id ' &&
	ok "1: Received: line on top" || bad "1: first line: $(head -1 "$T/msg1")"
grep -q 'Message-ID: <smtp-one@ucl>' "$T/msg1" && ok "1: header kept" || bad "1: header lost"
nl=$(grep -c '' "$T/msg1")
ncr=$(grep -c "$(printf '\r')\$" "$T/msg1")
[ "$nl" -gt 5 ] && [ "$nl" -eq "$ncr" ] && ok "1: every line ends in CRLF ($nl lines)" ||
	bad "1: $ncr of $nl lines end in CRLF"
grep -q "^\.\.hidden line" "$T/msg1" && ok "1: leading dot doubled on the wire" ||
	bad "1: leading dot not doubled"

# 2. 550: one NDN with the server's text
if wait_header ucl bennett Failed-Letter ucl 1 30; then
	f=$(find_header ucl bennett Failed-Letter ucl | head -1)
	grep -q 'nosuch@example.org' "$f" && grep -q '550 5.1.1' "$f" &&
		ok "2: NDN names nosuch@example.org with the 550 text" ||
		bad "2: NDN lacks the recipient or the reply: $(cat "$f")"
	grep -q 'later@example.org' "$f" &&
		bad "2: NDN names a recipient that did not fail" || true
else
	bad "2: no NDN for bennett@ucl"
fi

# 3. 450: deferred with the reply, then delivered in a second transaction
jcount ucl 'deferred.*450 4\.2\.0' | grep -q '^[1-9]' && ok "3: deferred with the 450 reply" ||
	bad "3: no deferred line with the 450 reply"
wait_journal ucl 'forwarded.*later@example.org' 1 30 && ok "3: later@example.org forwarded" ||
	bad "3: later@example.org never forwarded"
[ -f "$T/sink/2.txt" ] && grep -q '^RCPT TO:<later@example.org>' "$T/sink/2.txt" &&
	! grep -q '^RCPT TO:<ada@' "$T/sink/2.txt" &&
	ok "3: second transaction for later@example.org alone" ||
	bad "3: second transaction wrong: $(cat "$T/sink/2.txt" 2>/dev/null | head -5)"

# 4. the remote name
journal ucl | grep 'forwarded' | grep -q 'remote=SINK1' && ok "4: remote=SINK1 in the journal" ||
	bad "4: no remote=SINK1: $(journal ucl | grep forwarded | head -2)"

# 5. 8-bit text refused
mkletter "$T/l2" smtp-8bit@ucl bennett@ucl ada@example.org
printf 'caf\351\n' >>"$T/l2"
drop ucl "$T/l2" l2
if wait_header ucl bennett Failed-Letter ucl 2 30; then
	ok "5: 8-bit letter refused with an NDN"
	grep -l 'smtp-8bit@ucl' "$T"/sink/*.txt >/dev/null 2>&1 && bad "5: the 8-bit letter was sent" ||
		ok "5: nothing sent"
else
	bad "5: no NDN for the 8-bit letter"
fi
relay_finish
