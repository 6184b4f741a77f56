"""Export folders of a hand-made alliance world: one content platform, retailers tmall and jd.

Content: u1 sees n1 twice and reads it (e1-e3); u2 sees n2 (e4) and n9 (e6); u3 sees n2 (e5).
e7 (u5) has an unknown event (quarantined, so u5 is nobody's PSI input); e1 is exported twice
(one duplicate). Holdouts of C1: u1 test, u3 control, u4 control (u4 has no content events).
tmall: u1 searches, visits, buys o1 and o4; u2 buys o2; u9 (not on the content platform) buys o3;
u4 buys o5. jd: u2 buys o6; u8 (not on the content platform) visits; u3 visits.

Hand-computed runs (users = distinct user_keys; content platform: u1-u4):
- tmall: 4 vs 4 users (u1 u2 u4 u9), shared u1 u2 u4, rate 3/4;
- jd: 4 vs 3 users (u2 u3 u8), shared u2 u3, rate 2/4;
- clean room: people u1-u4 (u2 once, though at both retailers); 6 content events (e1-e6),
  3 holdout rows, 8 commerce rows (x1-x4, x6, x7, y1, y3).
"""

from __future__ import annotations

import csv
import io
import socket
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path

CONTENT_USERS = ("u1", "u2", "u3", "u4")
ALL_KEYS = ("u1", "u2", "u3", "u4", "u5", "u8", "u9")

_FILES: dict[str, dict[str, str]] = {
    "content": {
        "notes": """note_id,brand_id,creator_id,note_type,product_ids,published_at,title
n1,B1,c1,ad,p1,2026-05-01,t1
n2,B1,c2,organic,,2026-05-01,t2
n9,B2,c9,organic,,2026-05-01,other brand
""",
        "content_events": """event_id,user_key,note_id,ts,event,surface
e1,u1,n1,2026-05-01 10:00,impression,feed
e2,u1,n1,2026-05-01 11:00,impression,feed
e3,u1,n1,2026-05-01 12:00,read,feed
e4,u2,n2,2026-05-02 12:00,impression,search
e5,u3,n2,2026-05-02 12:00,impression,search
e6,u2,n9,2026-05-02 12:00,impression,feed
e7,u5,n2,2026-05-02 13:00,bogus,feed
e1,u1,n1,2026-05-01 10:00,impression,feed
""",
        "spend": """date,note_id,campaign_id,amount,kind
2026-05-01,n1,C1,100,heat
2026-05-01,n1,C2,50,traffic
""",
        "holdouts": """user_key,campaign_id,arm
u1,C1,test
u3,C1,control
u4,C1,control
""",
    },
    "tmall": {
        "commerce_events": """event_id,user_key,shop_id,ts,event,query,product_id,order_id,amount
x1,u1,,2026-05-02 10:00,search,acme cream,,,
x2,u1,s1,2026-05-02 10:05,visit,,,,
x3,u1,s1,2026-05-02 10:10,order,,p1,o1,99.5
x4,u2,s1,2026-05-03 10:10,order,,p1,o2,10
x5,u9,s1,2026-05-03 10:10,order,,p1,o3,10
x6,u1,s1,2026-05-20 09:00,order,,p1,o4,20
x7,u4,s1,2026-05-04 09:00,order,,p1,o5,5
""",
        "shops": "shop_id,brand_id\ns1,B1\ns9,B2\n",
        "brand_terms": "brand_id,term\nB1,Acme\nB2,Zeta\n",
    },
    "jd": {
        "commerce_events": """event_id,user_key,shop_id,ts,event,query,product_id,order_id,amount
y1,u2,s2,2026-05-05 10:00,order,,p1,o6,30
y2,u8,s2,2026-05-05 11:00,visit,,,,
y3,u3,s2,2026-05-06 11:00,visit,,,,
""",
        "shops": "shop_id,brand_id\ns2,B1\n",
        "brand_terms": "brand_id,term\nB1,Acme\n",
    },
}


def write_world(root: Path, keys: Mapping[str, str] | None = None) -> tuple[Path, dict[str, Path]]:
    """Write the export folders under ``root``; return (content folder, retailer -> folder).
    ``keys`` renames user keys (``u1`` -> ...) in every ``user_key`` column."""
    folders: dict[str, Path] = {}
    for party, files in _FILES.items():
        folder = root / party
        folder.mkdir(parents=True)
        for table, text in files.items():
            if keys:
                text = _rename(text, keys)
            (folder / f"{table}.csv").write_text(text, encoding="utf-8")
        folders[party] = folder
    content = folders.pop("content")
    return content, folders


def _rename(text: str, keys: Mapping[str, str]) -> str:
    rows = list(csv.reader(io.StringIO(text)))
    if "user_key" not in rows[0]:
        return text
    col = rows[0].index("user_key")
    for row in rows[1:]:
        row[col] = keys.get(row[col], row[col])
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def _free_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as s:
        return int(s.getsockname()[1])


def _tls(pki: Path, name: str) -> list[str]:
    return [
        *("--cert", str(pki / f"{name}.pem"), "--key", str(pki / f"{name}.key")),
        *("--ca", str(pki / "ca.pem")),
    ]


def loopback_alliance(
    tmp_path: Path,
    content_dir: Path,
    retailers: Mapping[str, Path],
    extra: Mapping[str, Sequence[str]] | None = None,
) -> Path:
    """Run the alliance as the parties would, over mutual TLS on loopback: per retailer the
    content platform serves (``redcat match serve --input``) in a thread and the retailer
    connects (``redcat match connect --input``); then the clean room loads every shipment
    (``redcat match load``). ``extra`` adds arguments per party name (content, retailer ids).
    Returns the clean-room folder (shipments and store)."""
    from redcat.cli.main import main

    extra = extra or {}
    pki = tmp_path / "pki"
    names = ",".join(["content", *retailers])
    assert main(["match", "certs", "--out", str(pki), "--names", names]) == 0
    clean_room = tmp_path / "clean-room"
    secret = tmp_path / "content-private" / "person.key"  # the hub's, outside the clean room
    common = ["--workers", "1", "--idle-timeout", "20"]
    shipments = []
    for rid, folder in sorted(retailers.items()):
        address = f"127.0.0.1:{_free_port()}"
        content_out = clean_room / "shipments" / rid / "content"
        retailer_out = clean_room / "shipments" / rid / "retailer"
        serve_argv = [
            *("match", "serve", "--party", "content", "--input", str(content_dir)),
            *("--listen", address, "--peer-name", rid, *_tls(pki, "content")),
            *("--out", str(content_out), "--person-secret", str(secret), *common),
            *extra.get("content", ()),
        ]
        codes: list[int] = []
        serve = threading.Thread(target=lambda: codes.append(main(serve_argv)), daemon=True)  # noqa: B023
        serve.start()
        code = main(
            [
                *("match", "connect", "--party", rid, "--input", str(folder)),
                *("--peer", address, "--peer-name", "content", *_tls(pki, rid)),
                *("--out", str(retailer_out), *common),
                *extra.get(rid, ()),
            ]
        )
        serve.join(timeout=60)
        assert (code, codes) == (0, [0]), rid
        shipments += [content_out, retailer_out]
    store = clean_room / "clean_room.duckdb"
    assert main(["match", "load", *map(str, shipments), "--store", str(store)]) == 0
    return clean_room
