#!/usr/bin/env python3
"""Command-line entry point of the ComfyUI emulator.

    python3 Tests/ComfyEmulator/emulator.py --port 0 --root DIR [--host 127.0.0.1] [--version 0.33]

``--version`` picks the ComfyUI imitated: 0.3.64 (default) or 0.33; without it the
environment variable COMFY_EMULATOR_VERSION decides. An unknown value exits with status 2.
Creates DIR/input, DIR/output and DIR/temp, listens, prints exactly one line
``listening PORT`` (flushed) once ready, and exits cleanly on SIGTERM/SIGINT.

Needs aiohttp and Pillow (Tests/ComfyEmulator/requirements.txt). When started by an
interpreter without them, it re-executes itself once with the repository's .build-venv.
"""
import argparse
import asyncio
import logging
import os
import signal
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def _ensure_dependencies():
    try:
        import aiohttp  # noqa: F401
        import PIL  # noqa: F401
        return
    except ImportError:
        pass
    venv_python = os.path.join(HERE, "..", "..", ".build-venv", "bin", "python3")
    if os.path.exists(venv_python) and not os.environ.get("COMFY_EMULATOR_REEXEC"):
        os.environ["COMFY_EMULATOR_REEXEC"] = "1"
        os.execv(venv_python, [venv_python, os.path.abspath(__file__), *sys.argv[1:]])
    sys.stderr.write("comfy emulator: aiohttp and Pillow are required "
                     "(pip install -r Tests/ComfyEmulator/requirements.txt)\n")
    sys.exit(2)


_ensure_dependencies()

from comfy_emulator.app import Emulator  # noqa: E402
from comfy_emulator.versions import (ENV_VAR, SUPPORTED_VERSIONS, UnknownVersion,  # noqa: E402
                                     resolve_version)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="ComfyUI 0.3.64 / 0.33 emulator for gateway tests")
    p.add_argument("--port", type=int, default=8188)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--root", required=True, help="directory that receives input/, output/ and temp/")
    p.add_argument("--enable-cors-header", nargs="?", const="*", default=None)
    p.add_argument("--max-upload-size", type=float, default=None,
                   help="MB, default 100 (like ComfyUI, a given value makes /features report a float)")
    p.add_argument("--disable-metadata", action="store_true")
    p.add_argument("--verbose", action="store_true")
    p.add_argument("--exit-with-parent", action="store_true",
                   help="stop when the process that started us is gone (a test runner that crashed)")
    p.add_argument("--version", default=None, metavar="VERSION",
                   help=f"ComfyUI version to imitate: {' or '.join(SUPPORTED_VERSIONS)} "
                        f"(default: ${ENV_VAR}, else {SUPPORTED_VERSIONS[0]})")
    args = p.parse_args(argv)
    try:
        args.version = resolve_version(args.version)
    except UnknownVersion as err:
        p.error(str(err))  # usage + message on stderr, exit status 2
    return args


async def run(args):
    emu = Emulator(args.root, host=args.host, port=args.port,
                   enable_cors_header=args.enable_cors_header,
                   max_upload_size=100 if args.max_upload_size is None else args.max_upload_size,
                   disable_metadata=args.disable_metadata, version=args.version)
    port = await emu.start()
    print(f"listening {port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    # A parent may spawn us with these signals blocked (Foundation's Process on Linux passes on
    # the spawning thread's mask); unblock them or SIGTERM would never arrive.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if args.exit_with_parent:
        parent = os.getppid()

        async def watch_parent():
            # Reparented (to init or a subreaper) means the parent died without stopping us.
            while not stop.is_set():
                if os.getppid() != parent:
                    stop.set()
                await asyncio.sleep(0.5)

        asyncio.get_running_loop().create_task(watch_parent())
    await stop.wait()
    await emu.stop()


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s", stream=sys.stderr)
    if not args.verbose:
        logging.getLogger("aiohttp.server").setLevel(logging.CRITICAL)
        logging.getLogger("comfy_emulator").setLevel(logging.CRITICAL)
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
