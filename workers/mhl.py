"""`python -P -m proxx_workers.mhl ROOT FILE…`: one ASC MHL generation, by the ASC's code.

Run by `proxx report --mhl` as a process of its own under a deadline (hashing reads
every proxy: content). It calls the `create` command of the ASC's `ascmhl` package
directly, not its `ascmhl` executable, whose start-up asks GitHub for a newer
release: a report is made offline and its MHL must not depend on a network. It
records only the files it is given (`--single_file`), hashed as xxh64, and appends
to the folder's history (`ROOT/ascmhl/`), which keeps earlier generations.

On stdout, one JSON object: the generation written (its path and sequence number).
"""

from __future__ import annotations

import json
import os
import sys
import xml.etree.ElementTree as ET

HASH_FORMAT = "xxh64"  # ASC MHL has no SHA-256; xxh64 is the format DITs' tools read
_CHAIN_NS = "{urn:ASC:MHL:DIRECTORY:v2.0}"


def main(argv: list[str]) -> int:
    root, files = argv[0], argv[1:]
    try:
        from ascmhl import commands  # the extra `proxx[deliver]`
    except ImportError:
        print("the ascmhl package is not installed (pip install 'proxx[deliver]')", file=sys.stderr)
        return 3
    args = [root, "--hash_format", HASH_FORMAT, "--no_directory_hashes"]
    for path in files:
        args += ["--single_file", path]
    try:
        commands.create.main(args=args, prog_name="ascmhl create", standalone_mode=False)
    except Exception as exc:  # ascmhl's own errors: said, and the generation is not reported
        print(f"ascmhl create failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(_last_generation(root)))
    return 0


def _last_generation(root: str) -> dict[str, object]:
    """The newest entry of ROOT/ascmhl/ascmhl_chain.xml: the generation just written."""
    chain = ET.parse(os.path.join(root, "ascmhl", "ascmhl_chain.xml")).getroot()
    last = chain.findall(f"{_CHAIN_NS}hashlist")[-1]
    name = last.findtext(f"{_CHAIN_NS}path") or ""
    return {
        "generation": os.path.join(root, "ascmhl", name),
        "sequence": int(last.get("sequencenr", "0")),
    }


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
