"""Python's etcd3 client (Debian's python3-etcd3) logging in to raftkv over mutual TLS.

Prints one line per check, which test/etcdctl-auth.test.ts compares.
Usage: etcd3_auth.py HOST PORT CA_CERT CERT KEY USER PASSWORD
"""
import sys

import etcd3
import grpc


def refusal(action):
    try:
        action()
    except grpc.RpcError as error:
        return "%s %s" % (error.code(), error.details())
    return "succeeded"


def main(host, port, ca_cert, cert, key, user, password):
    tls = dict(host=host, port=int(port), ca_cert=ca_cert, cert_cert=cert, cert_key=key, timeout=10)
    client = etcd3.client(user=user, password=password, **tls)
    client.put("py/a", "1")
    value, meta = client.get("py/a")
    print("put and get", meta.key.decode(), value.decode())
    print("denied", refusal(lambda: client.put("elsewhere", "1")))
    print("wrong password", refusal(lambda: etcd3.client(user=user, password=password + "x", **tls)))


if __name__ == "__main__":
    main(*sys.argv[1:])
