"""The minimal endpoint: a keep-alive HTTP/1.1 server that reads a JSON POST and answers a fixed
JSON body, with no other logic. The floor any HTTP workflow engine is compared with.

    python benchmarks/minimal_endpoint.py --port 8080

One process, one thread, asyncio from the standard library; it listens on 127.0.0.1 only. It
reads requests with a Content-Length (no chunked bodies), which is what the benchmark sends.
"""

import argparse
import asyncio
import json
import signal

HOST = "127.0.0.1"
# What Machinery answers for the seed event of process-text, less its ids and times.
ANSWER = json.dumps(
    {
        "workflow": "process-text",
        "status": "succeeded",
        "outputs": {"message": "! GNINROM EHT NI ESIR LLIW NUS EHT", "space_count": 7},
        "error": None,
    }
).encode()
HEAD = b"HTTP/1.1 201 CREATED\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"
BAD = b"HTTP/1.1 400 BAD REQUEST\r\nContent-Length: 0\r\n\r\n"


async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length, close = 0, False
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection":
                    close = value.strip().lower() == b"close"
            body = await reader.readexactly(length)
            try:
                json.loads(body)  # an endpoint that takes JSON reads it
                writer.write(HEAD % len(ANSWER) + ANSWER)
            except ValueError:
                writer.write(BAD)
            await writer.drain()
            if close:
                break
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        pass  # the client went away
    finally:
        writer.close()


async def serve(port: int) -> None:
    server = await asyncio.start_server(answer, HOST, port, backlog=512)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with server:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    asyncio.run(serve(parser.parse_args().port))


if __name__ == "__main__":
    main()
