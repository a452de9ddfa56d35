"""Python's etcd3 client (Debian's python3-etcd3), unchanged, against a raftkv member.

Runs the client's own operations and prints one line per check, which the
Node test (test/python-etcd3.test.ts) compares with what etcd answers.
Usage: etcd3_operations.py HOST PORT
"""
import os
import sys
import threading

import etcd3


def main(host, port):
    lock_name = "py-lock-%d" % os.getpid()
    client = etcd3.client(host=host, port=int(port), timeout=10)

    client.put("py/a", "1")
    client.put("py/b", "2")
    value, meta = client.get("py/a")
    print("get", value.decode(), meta.key.decode(), meta.version)
    print("prefix", [(v.decode(), m.key.decode()) for v, m in client.get_prefix("py/")])
    print("missing", client.get("py/none")[0])
    print("delete", client.delete("py/b"), client.delete("py/b"))

    ok, _ = client.transaction(
        compare=[client.transactions.value("py/a") == "1"],
        success=[client.transactions.put("py/txn", "then")],
        failure=[client.transactions.put("py/txn", "else")],
    )
    print("txn", ok, client.get("py/txn")[0].decode())

    lease = client.lease(60)
    client.put("py/leased", "v", lease=lease)
    print("lease", lease.granted_ttl, [key.decode() for key in lease.keys], 55 <= lease.remaining_ttl <= 60)
    lease.refresh()
    lease.revoke()
    print("revoked", client.get("py/leased")[0], lease.remaining_ttl)

    lock = client.lock(lock_name, ttl=30)
    print("lock", lock.acquire(timeout=10), lock.is_acquired())
    # A contended acquire retries through tenacity, whose Debian version the client no longer fits:
    # the lock is checked held, released, and taken again instead.
    print("held elsewhere", client.lock(lock_name, ttl=30).is_acquired())
    lock.release()
    with client.lock(lock_name, ttl=30) as again:
        print("released", again.is_acquired())

    seen = []
    done = threading.Event()

    def on_event(response):
        seen.extend(type(event).__name__ + ":" + event.key.decode() for event in response.events)
        if len(seen) >= 2:
            done.set()

    watch_id = client.add_watch_callback("py/w", on_event, range_end="py/x")
    client.put("py/w1", "x")
    client.delete("py/w1")
    print("watch", done.wait(10), seen)
    client.cancel_watch(watch_id)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
