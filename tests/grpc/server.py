"""A gRPC server for the tests (Debian's python3-grpcio), without generated
code: raw bytes in and out of four methods of `test.Echo`.

- Unary: echoes; `status:N` aborts with code N and details "detail N" (and
  a trailing `x-detail-bin` metadata); `sleep:MS` answers after MS ms.
- ServerStream: `count:N` streams N numbered messages.
- ClientStream: answers how many messages (and bytes) it received.
- Bidi: echoes every message.

Prints `listening PORT` once it listens (port 0 picks one), in cleartext
HTTP/2 (h2c).
"""

import sys
import time
from concurrent import futures

import grpc


def unary(request, context):
    if request.startswith(b"status:"):
        code = int(request[len(b"status:"):])
        context.set_trailing_metadata((("x-detail-bin", b"\x00\x01binary"),))
        context.abort(_by_value(code), f"detail {code}")
    if request.startswith(b"sleep:"):
        time.sleep(int(request[len(b"sleep:"):]) / 1000)
        return b"awake"
    return request


def _by_value(code):
    for status in grpc.StatusCode:
        if status.value[0] == code:
            return status
    raise ValueError(code)


def server_stream(request, context):
    count = int(request[len(b"count:"):])
    for i in range(count):
        yield b"message %d" % i


def client_stream(requests, context):
    count = 0
    size = 0
    for message in requests:
        count += 1
        size += len(message)
    return b"%d %d" % (count, size)


def bidi(requests, context):
    for message in requests:
        yield message


def main():
    identity = lambda b: b
    handlers = {
        "Unary": grpc.unary_unary_rpc_method_handler(unary, identity, identity),
        "ServerStream": grpc.unary_stream_rpc_method_handler(server_stream, identity, identity),
        "ClientStream": grpc.stream_unary_rpc_method_handler(client_stream, identity, identity),
        "Bidi": grpc.stream_stream_rpc_method_handler(bidi, identity, identity),
    }
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=16))
    server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("test.Echo", handlers),))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(f"listening {port}", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
