"""The ``--ids`` file in and the ``--out`` match file out."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from redcat.errors import ConfigError, InputError
from redcat.match.idfile import (
    IdColumn,
    check_output,
    discard_output,
    parse_id_types,
    partial_path,
    read_ids,
    write_matches,
)
from redcat.match.psi import MatchedPerson, PsiResult


def test_id_types_map_cli_names_and_pick_columns() -> None:
    assert parse_id_types([], "uid") == (IdColumn("user_key", "uid"),)
    assert parse_id_types(["phone"], "uid") == (IdColumn("phone", "uid"),)
    assert parse_id_types(["phone=tel", "email", "device"], "uid") == (
        IdColumn("phone", "tel"),
        IdColumn("email", "email"),
        IdColumn("device_id", "device_id"),
    )
    with pytest.raises(ConfigError, match="unknown identifier type 'fax'"):
        parse_id_types(["fax"], "uid")
    with pytest.raises(ConfigError, match="given twice"):
        parse_id_types(["device", "device_id=d"], "uid")


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_read_ids_keeps_values_as_given_and_counts_blank_and_repeated_keys(
    tmp_path: Path, fmt: str
) -> None:
    frame = pd.DataFrame(
        {
            "uid": [" 007", "b", "", "b", "c"],
            "phone": ["138 0000 0001", "", "13800000003", "13800000004", "13800000005"],
        }
    )
    path = tmp_path / f"ids.{fmt}"
    if fmt == "csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path)
    data = read_ids(path, "uid", parse_id_types(["phone=phone"], "uid"))
    # " 007" keeps its space and leading zero; b's second row and the blank key are skipped
    assert data.people == {
        " 007": {"phone": "138 0000 0001"},
        "b": {"phone": None},
        "c": {"phone": "13800000005"},
    }
    assert (data.rows, data.blank_keys, data.repeated_keys, data.types) == (5, 1, 1, ("phone",))


def test_read_ids_reads_numbers_in_parquet_as_text(tmp_path: Path) -> None:
    path = tmp_path / "ids.parquet"
    pd.DataFrame({"user_key": [13800000001, 13800000002]}).to_parquet(path)
    data = read_ids(path, "user_key", parse_id_types([], "user_key"))
    assert list(data.people) == ["13800000001", "13800000002"]


def test_read_ids_names_a_missing_file_or_column(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="file not found"):
        read_ids(tmp_path / "nope.csv", "user_key", parse_id_types([], "user_key"))
    path = tmp_path / "ids.csv"
    path.write_text("uid\n1\n")
    with pytest.raises(InputError, match="field 'user_key': column missing"):
        read_ids(path, "user_key", parse_id_types([], "user_key"))


def _result(*pairs: tuple[str, str]) -> PsiResult:
    return PsiResult(
        protocol="p",
        role="initiator",
        people=len(pairs),
        matches=tuple(MatchedPerson(k, "user_key", m) for k, m in pairs),
        stages=(),
        rejected=(),
        duplicates=0,
    )


def test_write_matches_is_atomic_and_discard_removes_output_and_partial(tmp_path: Path) -> None:
    out = tmp_path / "m.csv"
    partial_path(out).write_text("half a file")
    assert write_matches(_result(("a,1", "k1"), ("b", "k2")), out) == 2
    assert out.read_bytes() == b'user_key,match_key\n"a,1",k1\nb,k2\n'
    assert not partial_path(out).exists()  # renamed over, nothing left behind
    partial_path(out).write_text("stale")
    discard_output(out)
    assert list(tmp_path.iterdir()) == []
    discard_output(out)  # nothing there: no error


def test_check_output_refuses_a_folder_or_a_missing_parent(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is a folder"):
        check_output(tmp_path)
    with pytest.raises(ConfigError, match="does not exist"):
        check_output(tmp_path / "no" / "m.csv")
    check_output(tmp_path / "m.csv")
