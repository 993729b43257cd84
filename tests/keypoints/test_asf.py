import numpy as np
import pytest

from cs180utils.machinery.data import DataCorruptError
from cs180utils.keypoints.asf import parse_name, read_asf, write_asf
from cs180utils.machinery.keypoints.synthetic import write_imm_folder


def test_written_fixture_round_trips(tmp_path):
    pts = np.array([[0.25, 0.5], [0.125, 0.75], [0.5, 0.25]])
    f = write_asf(tmp_path / "03_07.asf", pts, "03_07.jpg", paths=[0, 0, 1])
    s = read_asf(f)
    np.testing.assert_allclose(s.points, pts)
    assert s.host_image == "03_07.jpg" and s.image_path == tmp_path / "03_07.jpg"
    assert list(s.paths) == [0, 0, 1] and s.connects.tolist() == [[0, 1], [0, 1], [2, 2]]
    np.testing.assert_allclose(s.pixels(800, 600), [[200, 300], [100, 450], [400, 150]])


@pytest.mark.parametrize("layout,k,name", [("frontal73", 73, "01_01"), ("imm58", 58, "01-1m")])
def test_generated_folders_use_both_naming_schemes(tmp_path, layout, k, name):
    write_imm_folder(tmp_path, layout=layout, n_people=2, per_person=2, size=(60, 80))
    s = read_asf(tmp_path / f"{name}.asf")
    assert s.points.shape == (k, 2) and (s.points > 0).all() and (s.points < 1).all()
    assert s.image_path.exists() and len(list(tmp_path.glob("*.jpg"))) == 4


def test_corrupt_files_say_where(tmp_path):
    f = tmp_path / "bad.asf"
    f.write_text("# header\n3\n0 0 0.1 0.2 0 0 1 0 0 0\n")
    with pytest.raises(DataCorruptError, match="truncated"):
        read_asf(f)
    f.write_text("# header\n1\n0 0 0.1 zz 0 0 0 0 0 0\nimg.jpg\n")
    with pytest.raises(DataCorruptError, match="bad.asf:3"):
        read_asf(f)
    f.write_text("# header\n1\n0 0 120 300 0 0 0 0 0 0\nimg.jpg\n")
    with pytest.raises(DataCorruptError, match=r"bad.asf:3: point 0 at \(120.0, 300.0\): coordinates are not relative"):
        read_asf(f)


def _points(n: int) -> str:
    return "".join(f"0 0 0.{i + 1} 0.5 {i} 0 0 0 0 0\n" for i in range(n))


@pytest.mark.parametrize("header, lines, message", [
    (4, 3, r"bad.asf: header says 4 points but only 3 point lines follow \(truncated file\? re-extract"),
    (2, 3, r"bad.asf:2: header says 2 points but 3 point lines follow; correct the count or re-extract"),
    (3, 3, None)])
def test_point_count_off_by_one_gives_the_real_numbers(tmp_path, header, lines, message):
    f = tmp_path / "bad.asf"
    f.write_text(f"# header\n{header}\n{_points(lines)}img.jpg\n")
    if message is None:
        assert read_asf(f).points.shape == (3, 2) and read_asf(f).host_image == "img.jpg"
        f.write_text(f"# header\n3\n{_points(3)}")
        message = r"bad.asf: no host image line after the 3 points \(truncated file\?"
    with pytest.raises(DataCorruptError, match=message):
        read_asf(f)


def test_nan_coordinate_is_called_nan_with_its_line(tmp_path):
    f = tmp_path / "bad.asf"
    f.write_text("# header\n2\n0 0 0.1 0.2 0 0 1 0 0 0\n0 0 nan 0.3 1 0 1 0 0 0\nimg.jpg\n")
    with pytest.raises(DataCorruptError, match=r"bad.asf:4: point 1 has a NaN coordinate \(0 0 nan 0.3 \.\.\.\)"):
        read_asf(f)


def test_parse_name():
    assert parse_name("01_03.jpg") == (1, 3) and parse_name("40-6f.asf") == (40, 6)
    with pytest.raises(ValueError, match="IMM file name"):
        parse_name("face.jpg")


def test_real_frontal_file(real_data_dir):
    s = read_asf(real_data_dir / "imm_frontal_face_db" / "01_01.asf")
    assert s.points.shape == (73, 2) and s.host_image == "01_01.jpg" and s.image_path.exists()
    assert 0.2 < s.points[45, 0] < 0.8 and s.paths[45] == 7 and (s.paths == 7).sum() == 1   # the nose tip
