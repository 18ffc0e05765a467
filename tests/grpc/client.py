"""A gRPC client for the tests (Debian's python3-grpcio): runs the four
call kinds against TARGET and prints one JSON object of what it saw.

Usage: client.py TARGET [--tls CA_FILE SERVER_NAME]
"""

import json
import sys

import grpc

MESSAGES = 10_000


def main():
    target = sys.argv[1]
    if len(sys.argv) > 2 and sys.argv[2] == "--tls":
        credentials = grpc.ssl_channel_credentials(open(sys.argv[3], "rb").read())
        options = (("grpc.ssl_target_name_override", sys.argv[4]),)
        channel = grpc.secure_channel(target, credentials, options)
    else:
        channel = grpc.insecure_channel(target)
    identity = lambda b: b
    unary = channel.unary_unary("/test.Echo/Unary", identity, identity)
    server_stream = channel.unary_stream("/test.Echo/ServerStream", identity, identity)
    client_stream = channel.stream_unary("/test.Echo/ClientStream", identity, identity)
    bidi = channel.stream_stream("/test.Echo/Bidi", identity, identity)
    seen = {}

    seen["unary"] = unary(b"hello", timeout=10).decode()

    received = list(server_stream(b"count:%d" % MESSAGES, timeout=60))
    seen["server_stream"] = [len(received), received[-1].decode()]

    payload = (b"x" * 100 for _ in range(MESSAGES))
    seen["client_stream"] = client_stream(payload, timeout=60).decode()

    echoed = 0
    last = None
    for message in bidi((b"ping %d" % i for i in range(MESSAGES)), timeout=60):
        echoed += 1
        last = message
    seen["bidi"] = [echoed, last.decode()]

    statuses = {}
    for status in grpc.StatusCode:
        code = status.value[0]
        if code == 0:
            continue
        try:
            unary(b"status:%d" % code, timeout=10)
            statuses[code] = "no error"
        except grpc.RpcError as error:
            trailing = dict(error.trailing_metadata() or ())
            statuses[code] = [
                error.code().value[0],
                error.details(),
                trailing.get("x-detail-bin", b"").hex(),
            ]
    seen["statuses"] = statuses

    try:
        unary(b"sleep:3000", timeout=0.3)
        seen["deadline"] = "answered"
    except grpc.RpcError as error:
        seen["deadline"] = error.code().name

    print(json.dumps(seen), flush=True)


if __name__ == "__main__":
    main()
