"""The located YAML loader: positions, duplicates, unsafe input."""

from __future__ import annotations

import time

import pytest

from ferbench.errors import SpecError
from ferbench.spec.yaml_loader import MAX_BYTES, loads


def one_error(text: str) -> str:
    with pytest.raises(SpecError) as info:
        loads(text, "s.yaml")
    assert len(info.value.problems) == 1
    return str(info.value.problems[0])


def test_positions_of_keys_and_values():
    doc = loads("a: 1\nb:\n  c: [x, {d: 5e-6}]\n", "s.yaml")
    assert doc.data == {"a": 1, "b": {"c": ["x", {"d": 5e-6}]}}
    assert isinstance(doc.data["b"]["c"][1]["d"], float)  # YAML 1.1 would read "5e-6" as a string
    assert (doc.marks[("b", "c", 1, "d")].line, doc.marks[("b", "c", 1, "d")].col) == (3, 14)
    assert doc.key_marks[("b", "c")].line == 3 and doc.key_marks[("b", "c")].col == 3


def test_duplicate_key_is_an_error_at_the_second_key():
    assert one_error("a: 1\nb: 2\na: 3\n") == "s.yaml:3:1: a: duplicate key 'a' (first defined at line 1)"


def test_python_tags_are_refused():
    assert "not allowed" in one_error("x: !!python/object/apply:os.system [echo hi]\n")


def test_alias_bomb_is_refused_quickly():
    lines = ["a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    for prev, cur in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{cur}: &{cur} [" + ", ".join([f"*{prev}"] * 9) + "]")
    t = time.perf_counter()
    msg = one_error("\n".join(lines) + "\n")
    assert "alias bomb" in msg
    assert time.perf_counter() - t < 30.0  # expanded, the 9**9 aliases would take hours; a loaded CI machine takes seconds


def test_deep_nesting_is_refused_without_recursion_error():
    msg = one_error("a: " + "[" * 1000 + "]" * 1000 + "\n")
    assert "nesting deeper than" in msg and msg.startswith("s.yaml:1:")


def test_huge_file_is_refused_before_parsing(tmp_path):
    from ferbench.spec.yaml_loader import load_file

    big = tmp_path / "big.yaml"
    with big.open("w") as f:
        f.write("a: 1\n")
        f.seek(50 * 1024 * 1024)
        f.write("\n")
    t = time.perf_counter()
    with pytest.raises(SpecError) as info:
        load_file(big)
    assert f"larger than {MAX_BYTES // 1024} KB" in str(info.value)
    assert time.perf_counter() - t < 1.0


def test_broken_yaml_gets_a_position():
    assert one_error("a: [1, 2\nb: 3\n").startswith("s.yaml:")
    assert one_error("a: b: c\n") == "s.yaml:1:5: invalid YAML: mapping values are not allowed here"


def test_several_documents_are_refused():
    assert "only one YAML document" in one_error("a: 1\n---\nb: 2\n")


def test_values_that_do_not_fit_their_tag_are_located_errors():
    assert one_error("a:\n  b: !!bool maybe\n") == "s.yaml:2:6: a.b: 'maybe' is not a valid bool"
    assert one_error("a: !!int abc\n") == "s.yaml:1:4: a: 'abc' is not a valid int"
    assert one_error("a: 2023-02-30\n") == "s.yaml:1:4: a: '2023-02-30' is not a valid timestamp"


@pytest.mark.parametrize("digits", ["9" * 5000, "0x" + "f" * 5000], ids=["decimal", "hex"])
def test_integer_too_large_to_print_is_a_located_error(digits):
    # Python refuses to convert integers of more than 4,300 digits to or from text.
    assert one_error(f"seed: {digits}\n") == f"s.yaml:1:7: seed: integer of {len(digits)} digits is too large"


def test_non_finite_numbers_are_refused_all_at_once():
    with pytest.raises(SpecError) as info:
        loads("model:\n  width: .nan\n  depth: -.inf\nlr: 1e999\nok: 1.5\n", "s.yaml")
    assert [str(p) for p in info.value.problems] == [
        "s.yaml:2:10: model.width: must be a finite number, got .nan",
        "s.yaml:3:10: model.depth: must be a finite number, got -.inf",
        "s.yaml:4:5: lr: must be a finite number, got 1e999",
    ]


def test_control_characters_give_one_located_line():
    msg = one_error("a: 1\nb: x\x00y\n")
    assert msg == "s.yaml:2:5: invalid YAML: character #x0000 is not allowed (binary data?)"


def test_empty_document_is_located_at_its_file(tmp_path):
    from ferbench.spec.yaml_loader import load_file

    (tmp_path / "empty.yaml").write_text("# nothing here\n")
    doc = load_file(tmp_path / "empty.yaml")
    assert doc.data is None
    assert str(doc.locate((), "must be a mapping")) == f"{tmp_path / 'empty.yaml'}:1:1: must be a mapping"


def test_files_that_cannot_be_specs_are_refused_at_the_file(tmp_path):
    from ferbench.spec.yaml_loader import load_file

    (tmp_path / "loop.yaml").symlink_to(tmp_path / "loop2.yaml")
    (tmp_path / "loop2.yaml").symlink_to(tmp_path / "loop.yaml")
    (tmp_path / "binary.yaml").write_bytes(bytes(range(256)))
    cases = {
        tmp_path: "is a folder, not a YAML file",
        tmp_path / "missing.yaml": "file not found",
        tmp_path / "loop.yaml": "cannot read: Too many levels of symbolic links",
        tmp_path / "binary.yaml": "not UTF-8 text (invalid start byte at byte 128)",
    }
    for path, message in cases.items():
        with pytest.raises(SpecError) as info:
            load_file(path)
        assert [str(p) for p in info.value.problems] == [f"{path}:1:1: {message}"]
