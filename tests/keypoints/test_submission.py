"""The Kaggle submission: face boxes without <part>s (the competition's test XML), predictions, the CSV."""
import json

import numpy as np
import pytest

from cs180utils.machinery import cli, training
from cs180utils.machinery.keypoints import experiment_300w as exp
from cs180utils.machinery.keypoints import synthetic
from cs180utils.keypoints import ibug

PARTLESS = """<?xml version='1.0' encoding='ISO-8859-1'?>
<dataset><name>test boxes</name><images>
  <image file='imgs/a.png'>
    <box top='10' left='20' width='30' height='40'/>
    <box top='0' left='0' width='5' height='5' ignore='1'/>
    <box top='1' left='2' width='3' height='4'><part name='00' x='3' y='4'/></box>
  </image>
  <image file='imgs/b.png'>
    <box top='5' left='6' width='7' height='8'/>
  </image>
</images></dataset>
"""


def test_read_dlib_boxes_keeps_every_box_in_file_order(tmp_path):
    (tmp_path / "boxes.xml").write_text(PARTLESS)
    faces = ibug.read_dlib_boxes(tmp_path / "boxes.xml")
    assert [f.box for f in faces] == [(20.0, 10.0, 30.0, 40.0), (2.0, 1.0, 3.0, 4.0), (6.0, 5.0, 7.0, 8.0)]
    assert [f.image.name for f in faces] == ["a.png", "a.png", "b.png"]            # the ignored box is left out
    assert all(f.keypoints.shape == (68, 2) and np.isnan(f.keypoints).all() for f in faces)
    with pytest.raises(ValueError):                                # the labelled reader skips part-less boxes
        ibug.read_dlib_xml(_without_parts(tmp_path))


def _without_parts(tmp_path):
    path = tmp_path / "only_boxes.xml"
    path.write_text(PARTLESS.replace("<part name='00' x='3' y='4'/>", ""))
    return path


def test_read_dlib_boxes_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="labels_ibug_300W_test_parsed.xml"):
        ibug.read_dlib_boxes(tmp_path / "missing.xml")
    (tmp_path / "bad.xml").write_text(PARTLESS.replace("width='7'", "width='seven'"))
    with pytest.raises(ValueError, match="'imgs/b.png'.*non-numeric"):
        ibug.read_dlib_boxes(tmp_path / "bad.xml")
    (tmp_path / "flat.xml").write_text(PARTLESS.replace("width='7'", "width='0'"))
    with pytest.raises(ValueError, match="positive size"):
        ibug.read_dlib_boxes(tmp_path / "flat.xml")
    (tmp_path / "none.xml").write_text("<dataset><images><image file='a.png'/></images></dataset>")
    with pytest.raises(ValueError, match="no face boxes"):
        ibug.read_dlib_boxes(tmp_path / "none.xml")


def test_submission_csv_refuses_nan(tmp_path):
    pred = np.zeros((1, 68, 2))
    pred[0, 3, 1] = np.nan
    with pytest.raises(ValueError, match="1 predicted coordinates are NaN"):
        exp.write_submission(tmp_path / "s.csv", pred)


@pytest.fixture(scope="module")
def partless(tmp_path_factory):
    """Generated faces, their labelled XMLs, and the test faces written again without parts, with a second
    (shifted) box in the first image: (train xml, labelled test xml, part-less xml, image size)."""
    folder = tmp_path_factory.mktemp("gen300w")
    train_xml, test_xml = synthetic.write_300w_folder(folder, n_train=24, n_val=5, size=96)
    faces = ibug.read_dlib_xml(test_xml)
    boxes = [ibug.Face(f.image, f.box, np.full((68, 2), np.nan, np.float32)) for f in faces]
    l, t, w, h = faces[0].box
    boxes.insert(1, ibug.Face(faces[0].image, (l + 8, t + 4, w, h), np.full((68, 2), np.nan, np.float32)))
    ibug.write_dlib_xml(folder / "test_parsed.xml", boxes, name="part-less boxes")      # NaN parts are not written
    return train_xml, test_xml, folder / "test_parsed.xml", 96


def test_predict_keypoints_cli_writes_the_kaggle_csv(partless, tmp_path, capsys):
    train_xml, test_xml, parsed, size = partless
    assert "<part" not in parsed.read_text()
    run = tmp_path / "run"
    assert cli.main(["train", "resnet", "--profile", "smoke", "--train-xml", str(train_xml), "--val-xml",
                     str(test_xml), "--out", str(run), "--epochs", "1", "--crop-size", "32"]) == 0
    capsys.readouterr()
    csv = tmp_path / "sub" / "submission.csv"
    assert cli.main(["predict", "keypoints", "--checkpoint", str(run), "--labels", str(parsed),
                     "--csv", str(csv)]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    faces = ibug.read_dlib_boxes(parsed)
    assert len(faces) == 6 and line["n_faces"] == 6 and line["n_images"] == 5
    rows = csv.read_text().splitlines()
    assert rows[0] == "Id,Predicted" and len(rows) - 1 == 6 * 68 * 2 == line["rows"]       # boxes x 68 x 2
    ids = [int(r.split(",")[0]) for r in rows[1:]]
    assert ids == list(range(6 * 136))
    values = np.array([float(r.split(",")[1]) for r in rows[1:]]).reshape(6, 68, 2)      # face -> keypoint -> x, y
    assert ((values > 0) & (values < size)).all()                                        # in the 96 x 96 images
    # row order is file order: face j's rows are the prediction for box j alone
    model, cfg, _ = exp.load_model(run)
    for j in (0, 1, 5):
        np.testing.assert_allclose(values[j], exp.predict_faces(model, cfg, faces[j:j + 1])[0], atol=0.006)
    assert np.abs(values[1, :, 0] - values[0, :, 0]).mean() > 1.0                        # the shifted box moves x
    # the part-less test faces predict as the labelled ones do (same boxes, rounded to whole pixels in the file)
    labelled = ibug.read_dlib_xml(test_xml)
    same = exp.predict_faces(model, cfg, labelled)
    assert np.abs(values[[0, 2, 3, 4, 5]] - same).max() < 1.0
    # default CSV: beside the checkpoint
    assert cli.main(["predict", "keypoints", "--checkpoint", str(run / training.CHECKPOINT), "--labels",
                     str(parsed)]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["csv"] == \
        str(run / "submission-test_parsed.csv")


def test_predict_keypoints_needs_its_files(tmp_path, capsys):
    assert cli.main(["predict", "keypoints", "--checkpoint", str(tmp_path / "none.pt"), "--labels",
                     str(tmp_path / "x.xml")]) == 1
    assert "error:" in capsys.readouterr().err
