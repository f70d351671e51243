"""Third-party client: Debian python3-zmq + python3-protobuf speak wire protocol v1 (SPEC section 3)."""

import datetime
from decimal import Decimal
import os
import random
import re
import subprocess
import sys
import time
import unittest
import zoneinfo

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tpharness  # noqa: E402

pb = tpharness.pb2()
ACCEPTED = pb.STATUS_ACCEPTED
DUPLICATE = pb.STATUS_DUPLICATE
STALE = pb.STATUS_STALE
REJECTED = pb.STATUS_REJECTED
ROUND_RE = re.compile(r"^\d{4}-W\d{2}$")
MEMBER = "acme-sme.01"
OTHER = "rival_lab-2"


def status_name(v):
    return pb.Status.Name(v)


def iso_week_paris():
    y, w, _ = datetime.datetime.now(zoneinfo.ZoneInfo("Europe/Paris")).isocalendar()
    return "%04d-W%02d" % (y, w)


def request(ref, revision=1, **over):
    fields = dict(request_ref=ref, revision=revision, cpv="30192000", item_key="GTIN:3012345678901",
                  description="A4 paper, 80 g/m2, ream of 500", quantity="12.5", unit="KGM",
                  need_by=tpharness.need_by(30), delivery_zone="FRK24", currency="EUR",
                  max_unit_price="4.75")
    fields.update(over)
    return pb.PurchaseRequest(**fields)


def submit(ref, member=MEMBER, revision=1, **over):
    return pb.Envelope(member_id=member, submit=request(ref, revision, **over))


def amend(ref, revision, member=MEMBER, **over):
    return pb.Envelope(member_id=member, amend=request(ref, revision, **over))


def cancel(ref, revision, member=MEMBER, reason="no longer needed"):
    return pb.Envelope(member_id=member,
                       cancel=pb.Cancel(request_ref=ref, revision=revision, reason=reason))


_next_id = [int(time.time()) * 1000]


def next_id():
    _next_id[0] += 1
    return _next_id[0]


def batch(*envelopes, batch_id=None):
    msg = pb.ClientMessage()
    msg.batch.batch_id = next_id() if batch_id is None else batch_id
    msg.batch.items.extend(envelopes)
    return msg


def status_query(member, refs, round_id=""):
    msg = pb.ClientMessage()
    msg.status.query_id = next_id()
    msg.status.member_id = member
    msg.status.request_refs.extend(refs)
    msg.status.round_id = round_id
    return msg


def sql_str(s):
    return "'" + s.replace("'", "''") + "'"


class ThirdPartyClient(unittest.TestCase):
    daemon = None

    @classmethod
    def setUpClass(cls):
        cls.daemon = tpharness.Daemon(workers=2, period="1w")
        try:
            cls.daemon.reset_db()
            cls.daemon.start()
        except BaseException:
            cls.daemon.cleanup(keep=True)
            raise

    @classmethod
    def tearDownClass(cls):
        d = cls.daemon
        rc = d.stop()
        reports = d.sanitizer_reports()
        ok = rc == 0 and not reports
        if not ok:
            sys.stdout.write("tenderpoold log tail:\n%s\n" % d.log_tail())
        d.cleanup(keep=not ok)
        if not ok:
            raise AssertionError("tenderpoold did not exit 0 after SIGTERM (exit status %r) or "
                                 "reported sanitizer faults: %s" % (rc, "".join(reports[:5])))

    def setUp(self):
        self.client = tpharness.Client(self.daemon.endpoint)

    def tearDown(self):
        self.client.close()

    # helpers --------------------------------------------------------------------------------

    def send_batch(self, *envelopes, client=None):
        msg = batch(*envelopes)
        reply = (client or self.client).call(msg)
        self.assertEqual(reply.WhichOneof("kind"), "batch_ack", reply)
        ack = reply.batch_ack
        self.assertEqual(ack.batch_id, msg.batch.batch_id)
        self.assertEqual(len(ack.acks), len(envelopes), "one Ack per Envelope: %s" % ack)
        for env, a in zip(envelopes, ack.acks):
            body = getattr(env, env.WhichOneof("body"))
            self.assertEqual(a.request_ref, body.request_ref, "acks in envelope order: %s" % ack)
        return list(ack.acks)

    def assertAck(self, ack, status, error_code=""):
        self.assertEqual((status_name(ack.status), ack.error_code),
                         (status_name(status), error_code), "ack: %s" % ack)

    def assertAccepted(self, ack, revision):
        self.assertAck(ack, ACCEPTED)
        self.assertEqual(ack.revision, revision, ack)
        self.assertRegex(ack.round_id, ROUND_RE)
        self.assertNotEqual(ack.server_seq, 0, ack)

    def revision_rows(self, ref, member=MEMBER):
        return tpharness.psql(
            "SELECT revision, server_seq, round_id, quantity, op FROM tenderpool.revision "
            "WHERE member_id = %s AND request_ref = %s ORDER BY revision"
            % (sql_str(member), sql_str(ref)))

    def request_row(self, ref, member=MEMBER):
        rows = tpharness.psql(
            "SELECT revision, state, round_id FROM tenderpool.requests "
            "WHERE member_id = %s AND request_ref = %s" % (sql_str(member), sql_str(ref)))
        self.assertEqual(len(rows), 1, "one row per request in tenderpool.requests: %r" % rows)
        return rows[0]

    # cases ----------------------------------------------------------------------------------

    def test_01_batch_accepted_then_duplicate(self):
        refs = ["PO-1001/1", "PO-1001/2", "PO-1001/3"]
        envs = [submit(refs[0]), submit(refs[1], quantity="3", unit="TNE"),
                submit(refs[2], quantity="250", unit="H87", max_unit_price="")]
        week_before = iso_week_paris()
        acks = self.send_batch(*envs)
        week_after = iso_week_paris()
        for a in acks:
            self.assertAccepted(a, 1)
            self.assertIn(a.round_id, {week_before, week_after})
        self.assertEqual(len({a.server_seq for a in acks}), 3, "server_seq distinct: %s" % acks)
        for ref, a in zip(refs, acks):
            rows = self.revision_rows(ref)
            self.assertEqual(rows, [["1", str(a.server_seq), a.round_id, rows[0][3], "1"]])
            self.assertEqual(self.request_row(ref), ["1", "open", a.round_id])
        self.assertEqual(self.revision_rows(refs[0])[0][3], "12.5")

        # resend the same batch (a new batch_id, as a client retry might): all DUPLICATE
        again = self.send_batch(*envs)
        for first, dup in zip(acks, again):
            self.assertAck(dup, DUPLICATE)
            self.assertEqual((dup.revision, dup.round_id, dup.server_seq),
                             (first.revision, first.round_id, first.server_seq))
        for ref in refs:
            self.assertEqual(len(self.revision_rows(ref)), 1, "still one row for %s" % ref)
        # and with the very same batch_id
        msg = batch(*envs)
        self.client.send(msg)
        self.client.send(msg)
        for _ in range(2):
            reply = self.client.recv()
            self.assertEqual(reply.batch_ack.batch_id, msg.batch.batch_id)
            for first, dup in zip(acks, reply.batch_ack.acks):
                self.assertAck(dup, DUPLICATE)
                self.assertEqual(dup.server_seq, first.server_seq)

    def test_02_amend_stale_unknown(self):
        ref = "PO-2001"
        (a1,) = self.send_batch(submit(ref))
        self.assertAccepted(a1, 1)
        (a2,) = self.send_batch(amend(ref, 2, quantity="20"))
        self.assertAccepted(a2, 2)
        self.assertNotEqual(a2.server_seq, a1.server_seq)
        (dup,) = self.send_batch(amend(ref, 2, quantity="20"))
        self.assertAck(dup, DUPLICATE)
        self.assertEqual(dup.server_seq, a2.server_seq)
        (s1,) = self.send_batch(amend(ref, 2, quantity="21"))
        self.assertAck(s1, STALE)
        (s2,) = self.send_batch(amend(ref, 1, quantity="22"))
        self.assertAck(s2, STALE)
        rows = self.revision_rows(ref)
        self.assertEqual([(r[0], r[3], r[4]) for r in rows], [("1", "12.5", "1"), ("2", "20", "2")])
        self.assertEqual(self.request_row(ref)[:2], ["2", "open"])
        (u,) = self.send_batch(amend("PO-2001-never-sent", 2))
        self.assertAck(u, REJECTED, "UNKNOWN_REQUEST")
        self.assertEqual(self.revision_rows("PO-2001-never-sent"), [])

    def test_03_cancel_then_amend_stale(self):
        ref = "PO-3001"
        self.assertAccepted(self.send_batch(submit(ref))[0], 1)
        self.assertAccepted(self.send_batch(amend(ref, 2, quantity="7.25"))[0], 2)
        (c,) = self.send_batch(cancel(ref, 3))
        self.assertAccepted(c, 3)
        self.assertEqual(self.request_row(ref), ["3", "cancelled", c.round_id])
        (dup,) = self.send_batch(cancel(ref, 3))
        self.assertAck(dup, DUPLICATE)
        self.assertEqual(dup.server_seq, c.server_seq)
        (s,) = self.send_batch(amend(ref, 4, quantity="8"))
        self.assertAck(s, STALE)
        self.assertEqual(len(self.revision_rows(ref)), 3)
        self.assertEqual(self.request_row(ref)[:2], ["3", "cancelled"])

    def test_04_bad_item_does_not_spoil_batch(self):
        acks = self.send_batch(submit("PO-4001"), submit("PO-4002", quantity="abc"),
                               submit("PO-4003"))
        self.assertAccepted(acks[0], 1)
        self.assertAck(acks[1], REJECTED, "INVALID_FIELD")
        self.assertIn("quantity", acks[1].detail)
        self.assertAccepted(acks[2], 1)
        self.assertEqual(len(self.revision_rows("PO-4001")), 1)
        self.assertEqual(self.revision_rows("PO-4002"), [])
        self.assertEqual(len(self.revision_rows("PO-4003")), 1)

    def test_05_validation_codes(self):
        acks = self.send_batch(submit("PO-5001", unit="XYZ"),
                               submit("PO-5002", cpv="1234"),
                               submit("PO-5003", revision=2),
                               submit("PO-5004", quantity="0"),
                               submit("PO-5005", quantity="0.5", unit="H87"),
                               submit("PO-5006", need_by=tpharness.need_by(-1)),
                               submit("PO-5007", currency="XXQ"),
                               submit("bad ref with spaces"),
                               pb.Envelope(member_id="", submit=request("PO-5009")),
                               submit("PO-5010", quantity="0.5", unit="DZN"))
        self.assertAck(acks[0], REJECTED, "UNKNOWN_UNIT")
        self.assertAck(acks[1], REJECTED, "INVALID_FIELD")
        self.assertIn("cpv", acks[1].detail)
        self.assertAck(acks[2], REJECTED, "INVALID_FIELD")
        self.assertIn("revision", acks[2].detail)
        for i, field in ((3, "quantity"), (4, "quantity"), (5, "need_by"), (6, "currency"),
                         (7, "request_ref"), (8, "member_id")):
            self.assertAck(acks[i], REJECTED, "INVALID_FIELD")
            self.assertIn(field, acks[i].detail)
        self.assertAccepted(acks[9], 1)
        self.assertEqual(tpharness.psql_value(
            "SELECT count(*) FROM tenderpool.revision WHERE request_ref LIKE 'PO-50%' "
            "OR request_ref LIKE 'bad ref%'"), "1")

    def test_06_undecodable_frame(self):
        rng = random.Random(4242)
        # 0x0f is field 1 with wire type 7, which does not exist: undecodable by any parser
        raw = b"\x0f" + bytes(rng.randrange(256) for _ in range(63))
        with self.assertRaises(Exception):
            pb.ClientMessage().ParseFromString(raw)
        self.client.send(raw)
        reply = self.client.recv()
        self.assertEqual(reply.WhichOneof("kind"), "batch_ack", reply)
        self.assertEqual(len(reply.batch_ack.acks), 1, reply)
        self.assertAck(reply.batch_ack.acks[0], REJECTED, "MALFORMED")
        # the connection still works afterwards
        self.assertAccepted(self.send_batch(submit("PO-6001"))[0], 1)

    def test_07_empty_client_message(self):
        self.assertEqual(pb.ClientMessage().SerializeToString(), b"")
        self.client.send(pb.ClientMessage())
        reply = self.client.recv()
        self.assertEqual(reply.WhichOneof("kind"), "batch_ack", reply)
        self.assertEqual(len(reply.batch_ack.acks), 1, reply)
        self.assertAck(reply.batch_ack.acks[0], REJECTED, "MALFORMED")

    def test_08_request_ref_not_utf8_not_echoed(self):
        msg = batch(submit("QQQQ-8001"))
        raw = msg.SerializeToString()
        self.assertEqual(raw.count(b"QQQQ-8001"), 1)
        raw = raw.replace(b"QQQQ-8001", b"\xff\xfeQQ-8001")
        reply = self.client.call(raw)
        self.assertEqual(reply.WhichOneof("kind"), "batch_ack", reply)
        acks = reply.batch_ack.acks
        self.assertEqual(len(acks), 1, reply)
        self.assertEqual(acks[0].status, REJECTED, reply)
        self.assertEqual(acks[0].request_ref, "", reply)

    def test_09_status_query(self):
        self.assertAccepted(self.send_batch(submit("PO-9001"))[0], 1)
        self.assertAccepted(self.send_batch(submit("PO-9002"))[0], 1)
        self.assertAccepted(self.send_batch(cancel("PO-9002", 2))[0], 2)
        q = status_query(MEMBER, ["PO-9001", "PO-9002", "PO-9999-unknown"])
        reply = self.client.call(q)
        self.assertEqual(reply.WhichOneof("kind"), "status", reply)
        st = reply.status
        self.assertEqual(st.query_id, q.status.query_id)
        self.assertEqual(st.error_code, "", st)
        by_ref = {r.request_ref: r for r in st.requests}
        self.assertEqual(set(by_ref), {"PO-9001", "PO-9002", "PO-9999-unknown"}, st)
        round_id = self.request_row("PO-9001")[2]
        self.assertEqual((by_ref["PO-9001"].state, by_ref["PO-9001"].revision,
                          by_ref["PO-9001"].round_id),
                         (pb.REQUEST_STATE_OPEN, 1, round_id), st)
        self.assertEqual((by_ref["PO-9002"].state, by_ref["PO-9002"].revision),
                         (pb.REQUEST_STATE_CANCELLED, 2), st)
        self.assertRegex(by_ref["PO-9002"].round_id, ROUND_RE)
        self.assertEqual(by_ref["PO-9999-unknown"].state, pb.REQUEST_STATE_UNKNOWN, st)
        self.assertEqual(by_ref["PO-9999-unknown"].round_id, "", st)

        # another member asking about our ref learns nothing
        q = status_query(OTHER, ["PO-9001"])
        reply = self.client.call(q)
        self.assertEqual(reply.WhichOneof("kind"), "status", reply)
        self.assertEqual(len(reply.status.requests), 1, reply)
        r = reply.status.requests[0]
        self.assertEqual((r.request_ref, r.state, r.revision, r.round_id, r.lot_id),
                         ("PO-9001", pb.REQUEST_STATE_UNKNOWN, 0, "", ""), reply)

        # all own requests of the round: ours are listed, nothing of OTHER's
        self.assertAccepted(self.send_batch(submit("PO-9003", member=OTHER))[0], 1)
        q = status_query(OTHER, [], round_id=round_id)
        reply = self.client.call(q)
        refs = {r.request_ref for r in reply.status.requests}
        self.assertEqual(refs, {"PO-9003"}, reply)

    def test_10_stored_fields_equal_sent(self):
        # several items of one batch, every field different: each row must hold its own values
        specs = [("30192000-1", "KGM", "12.5", "FRK24", "EUR", "4.75", 30),
                 ("03211000", "TNE", "3", "FR101", "EUR", "", 31),
                 ("09134100", "LTR", "1000000", "DE300", "EUR", "1.234567", 32),
                 ("30197630", "H87", "250", "FRK24", "CHF", "0", 33),
                 ("33141000", "DZN", "0.5", "ITC4C", "EUR", "99", 34),
                 ("44111000", "MTR", "0.125", "FRK26", "USD", "", 35),
                 ("03211000", "KWH", "999999999999.999999", "FRK24", "EUR", "0.000001", 36),
                 ("30192000", "GRM", "7", "ES511", "GBP", "3", 37)]
        envs = []
        for i, (cpv, unit, qty, zone, cur, price, days) in enumerate(specs):
            envs.append(submit("RT-%d" % i, cpv=cpv, unit=unit, quantity=qty, delivery_zone=zone,
                               currency=cur, max_unit_price=price, need_by=tpharness.need_by(days),
                               item_key="ITEM-%d" % i, description="line %d été" % i))
        acks = self.send_batch(*envs)
        for a in acks:
            self.assertAccepted(a, 1)
        rows = {r[0]: r[1:] for r in tpharness.psql(
            "SELECT request_ref, cpv, item_key, description, quantity, unit, need_by, "
            "delivery_zone, currency, coalesce(max_unit_price::text, '') FROM tenderpool.revision "
            "WHERE member_id = %s AND request_ref LIKE 'RT-%%'" % sql_str(MEMBER))}
        self.assertEqual(len(rows), len(specs))
        for i, (cpv, unit, qty, zone, cur, price, days) in enumerate(specs):
            got = rows["RT-%d" % i]
            got = got[:3] + [Decimal(got[3])] + got[4:8] + [Decimal(got[8]) if got[8] else ""]
            want = [cpv[:8], "ITEM-%d" % i, "line %d été" % i, Decimal(qty), unit,
                    tpharness.need_by(days), zone, cur, Decimal(price) if price else ""]
            self.assertEqual(got, want, "row RT-%d stored as sent" % i)

    def test_11_many_in_flight(self):
        """50 batches of 100 in flight on one socket; RETRY_LATER items are resent (SPEC 3)."""
        n_batches, per = 50, 100
        cpvs = ["30192000", "03211000", "09134100", "30197630", "33141000", "44111000"]
        msgs = {}
        for b in range(n_batches):
            envs = [submit("FLIGHT-%02d-%03d" % (b, i), quantity=str(i + 1), cpv=cpvs[i % 6])
                    for i in range(per)]
            msg = batch(*envs)
            msgs[msg.batch.batch_id] = msg
        for msg in msgs.values():
            self.client.send(msg)
        got = {}
        while len(got) < n_batches:
            reply = self.client.recv()
            self.assertEqual(reply.WhichOneof("kind"), "batch_ack", reply)
            bid = reply.batch_ack.batch_id
            self.assertIn(bid, msgs, "ack for a batch we did not send")
            self.assertNotIn(bid, got, "two acks for batch %d" % bid)
            got[bid] = reply.batch_ack
        final = {}
        retry = []
        first_retry = None
        for bid, ack in got.items():
            items = msgs[bid].batch.items
            self.assertEqual(len(ack.acks), per)
            for env, a in zip(items, ack.acks):
                self.assertEqual(a.request_ref, env.submit.request_ref)
                if a.status == pb.STATUS_RETRY_LATER:
                    first_retry = first_retry or a
                    retry.append(env)
                else:
                    self.assertAccepted(a, 1)
                    final[a.request_ref] = a
        # a standard client resends RETRY_LATER items: ACCEPTED or DUPLICATE must follow
        deadline = time.monotonic() + 30
        while retry and time.monotonic() < deadline:
            time.sleep(0.5)
            again = []
            for k in range(0, len(retry), 100):
                chunk = retry[k:k + 100]
                for env, a in zip(chunk, self.send_batch(*chunk)):
                    if a.status == pb.STATUS_RETRY_LATER:
                        again.append(env)
                    else:
                        self.assertIn(a.status, (ACCEPTED, DUPLICATE), a)
                        self.assertRegex(a.round_id, ROUND_RE)
                        final[a.request_ref] = a
            retry = again
        self.assertEqual(len(retry), 0, "%d of %d items still RETRY_LATER after 30 s of resends; "
                         "first answer: %s" % (len(retry), n_batches * per, first_retry))
        self.assertEqual(len({a.server_seq for a in final.values()}), n_batches * per,
                         "server_seq unique per stored revision")
        total = str(n_batches * per)
        self.assertEqual(tpharness.psql_value(
            "SELECT count(*) FROM tenderpool.revision WHERE member_id = %s "
            "AND request_ref LIKE 'FLIGHT-%%'" % sql_str(MEMBER)), total)
        self.assertEqual(tpharness.psql_value(
            "SELECT count(DISTINCT server_seq) FROM tenderpool.revision "
            "WHERE request_ref LIKE 'FLIGHT-%'"), total)
        self.assertEqual(tpharness.psql_value(
            "SELECT count(*) FROM tenderpool.requests WHERE request_ref LIKE 'FLIGHT-%' "
            "AND state = 'open'"), total)
        # every row holds what its item carried (quantity i+1, cpv by i)
        bad = tpharness.psql(
            "SELECT request_ref, cpv, quantity FROM tenderpool.revision "
            "WHERE request_ref LIKE 'FLIGHT-%' AND (quantity <> split_part(request_ref, '-', 3)::int + 1 "
            "OR cpv <> (ARRAY['30192000','03211000','09134100','30197630','33141000','44111000'])"
            "[split_part(request_ref, '-', 3)::int % 6 + 1]) LIMIT 5")
        self.assertEqual(bad, [], "rows stored with other items' values")


class ThirdPartyCurveClient(unittest.TestCase):
    """[security] mode = curve with certificates written by `tenderpool keygen` / `member add`,
    loaded by pyzmq's own zmq.auth.load_certificate."""

    def cli(self, *args):
        r = subprocess.run([os.path.join(tpharness.BUILD_DIR, "tenderpool")] + list(args),
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        return r.stdout

    def setUp(self):
        import zmq.auth
        self.d = tpharness.Daemon(workers=2, period="1w")
        keys = os.path.join(self.d.dir, "keys")
        self.d.reset_db()
        self.cli("keygen", os.path.join(self.d.dir, "server.key"))
        self.d.write_config(extra="[security]\nmode = curve\nsecret_key_file = %s\n"
                            % os.path.join(self.d.dir, "server.key_secret"))
        self.cli("member", "add", "py-member", "--out", keys, "-c", self.d.conf)
        pub, sec = zmq.auth.load_certificate(os.path.join(keys, "py-member.key_secret"))
        server, none = zmq.auth.load_certificate(os.path.join(keys, "server.key"))
        self.assertIsNone(none, "server.key holds no secret")
        self.curve = (pub, sec, server)
        self.d.start()

    def tearDown(self):
        rc = self.d.stop()
        self.d.cleanup(keep=rc != 0)
        self.assertEqual(rc, 0, "tenderpoold exit status")

    def test_member_key_acts_only_as_its_member(self):
        c = tpharness.Client(self.d.endpoint, curve=self.curve)
        try:
            reply = c.call(batch(submit("CURVE-1", member="py-member"),
                                 submit("CURVE-2", member=""),
                                 submit("CURVE-3", member="someone-else")))
            acks = reply.batch_ack.acks
            self.assertEqual([status_name(a.status) for a in acks],
                             ["STATUS_ACCEPTED", "STATUS_ACCEPTED", "STATUS_REJECTED"])
            self.assertEqual(acks[2].error_code, "MEMBER_MISMATCH")
            self.assertEqual(tpharness.psql_value(
                "SELECT count(*) FROM tenderpool.revision WHERE member_id = 'py-member'"), "2")
        finally:
            c.close()

    def test_unknown_key_gets_nothing(self):
        import zmq
        pub, sec = zmq.curve_keypair()
        c = tpharness.Client(self.d.endpoint, curve=(pub, sec, self.curve[2]))
        try:
            c.send(batch(submit("CURVE-X", member="py-member")))
            self.assertFalse(c.sock.poll(1500, zmq.POLLIN), "an unknown key is answered")
        finally:
            c.close()


if __name__ == "__main__":
    tpharness.run_main()
