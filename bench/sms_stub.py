"""A keep-alive HTTP SMS provider for bench/campaigns.py, in its own process: asyncio,
HTTP/1.1 with keep-alive, answers every POST 200 with a provider id, counts requests
and distinct Idempotency-Keys (GET /stats answers them as JSON).

    python bench/sms_stub.py PORT"""

import asyncio
import json
import sys

keys: set[bytes] = set()
requests = 0


async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    global requests
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            method = lines[0].split(b" ", 1)[0]
            length = 0
            key = b""
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"idempotency-key":
                    key = value.strip()
            if length:
                await reader.readexactly(length)
            if method == b"GET":
                body = json.dumps({"requests": requests, "distinct": len(keys)}).encode()
            else:
                requests += 1
                keys.add(key)
                body = b'{"id": "' + key + b'"}'
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                + str(len(body)).encode()
                + b"\r\n\r\n"
                + body
            )
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def main(port: int) -> None:
    server = await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
