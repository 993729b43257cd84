"""Own photos: loading (bundled, folder, upload), the mirror pairing, the mirror-disagreement score, ranking."""
import datetime
import io

import matplotlib

matplotlib.use("Agg")
import ipywidgets as widgets  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from cs180utils.machinery import notebook  # noqa: E402
from cs180utils.machinery.keypoints import experiment_300w as exp  # noqa: E402
from cs180utils.machinery.keypoints import photos, plotting  # noqa: E402
from cs180utils.keypoints import ibug

F = list(photos.FLIP_300W)


def test_flip_pairs_left_and_right_points():
    assert sorted(F) == list(range(68)) and [F[i] for i in F] == list(range(68))       # a pairing
    assert {i for i in range(68) if F[i] == i} == {8, 27, 28, 29, 30, 33, 51, 57, 62, 66}  # the midline
    assert (F[36], F[45], F[0], F[16], F[48], F[54]) == (45, 36, 16, 0, 54, 48)          # eye, jaw, mouth corners


def test_flip_matches_the_real_mean_shape(real_data_dir):
    faces = ibug.read_dlib_xml(real_data_dir / "ibug_300W_large_face_landmark_dataset" / "labels_ibug_300W_train.xml")
    m = np.stack([(f.keypoints - f.box[:2]) / np.array(f.box[2:]) for f in faces]).mean(0)   # box units
    mirror = m.copy()
    mirror[:, 0] = m[36, 0] + m[45, 0] - m[:, 0]                  # about the line halfway between the eyes
    assert np.linalg.norm(mirror[F] - m, axis=1).max() < 0.06    # every point lands on its partner
    assert np.linalg.norm(mirror - m, axis=1).mean() > 0.3       # (without the pairing, far off)


def _symmetric_shape() -> np.ndarray:
    """(68, 2) crop units, its own mirror image (x -> 1 - x, points paired by FLIP_300W); eyes at x 0.3 / 0.7."""
    s = np.random.default_rng(0).uniform(0.2, 0.8, (68, 2))
    s[36], s[45] = (0.3, 0.4), (0.7, 0.4)
    m = s.copy()
    m[:, 0] = 1 - s[:, 0]
    return (s + m[F]) / 2


class ConstantShape(torch.nn.Module):
    """A 'ResNet' that predicts the same shape (crop units) for every image."""
    def __init__(self, shape):
        super().__init__()
        self.shape = torch.nn.Parameter(torch.as_tensor(shape, dtype=torch.float32), requires_grad=False)

    def forward(self, x):
        return self.shape.expand(x.shape[0], -1, -1)


def test_disagreement_hand_values():
    p = np.zeros((2, 68, 2))
    p[:, 45, 0] = 50.0                                            # outer eye corners 50 px apart
    assert photos.mirror_disagreement(p, p)[0] == 0
    q = p + [2.0, 0.0]                                            # every point 2 px to the right
    np.testing.assert_allclose(photos.mirror_disagreement(p, q), [4.0, 4.0])   # 2 / 50 = 4 %
    assert photos.mirror_disagreement(np.zeros((1, 68, 2)), np.zeros((1, 68, 2)))[0] == np.inf
    with pytest.raises(ValueError, match="N, K, 2"):
        photos.mirror_disagreement(p, p[0])


def test_mirror_predictions_of_a_symmetric_and_a_shifted_model():
    cfg = exp.config("resnet", "smoke", crop_size=32)
    crops = torch.randint(0, 255, (3, 1, 32, 32), dtype=torch.uint8)
    s = _symmetric_shape()
    pred, back = photos.mirror_predictions(ConstantShape(s), cfg, crops)
    assert pred.shape == back.shape == (3, 68, 2)
    np.testing.assert_allclose(back.numpy(), pred.numpy(), atol=1e-4)          # a symmetric answer: the same
    assert photos.mirror_disagreement(pred, back).max() < 1e-3
    # shifted right by 0.05 crop units: the mirror image's answer, mirrored back, sits 0.05 left of the
    # symmetric shape, so the two differ by 0.1 crop units; eye distance 0.4: 25 %
    pred, back = photos.mirror_predictions(ConstantShape(s + [0.05, 0.0]), cfg, crops)
    np.testing.assert_allclose((pred - back)[..., 0].numpy(), 0.1 * 32, atol=1e-4)
    np.testing.assert_allclose(photos.mirror_disagreement(pred, back), 25.0, rtol=1e-4)


def test_pick_three_ranks_best_middle_worst():
    assert photos.pick_three([5.0, 1.0, np.nan, 3.0, 2.0]) == [("best", 1), ("middle", 3), ("worst", 2)]
    assert photos.pick_three([0.5, 2.0, 1.0]) == [("best", 0), ("middle", 2), ("worst", 1)]
    assert photos.pick_three([2.0, 1.0]) == [("best", 1), ("worst", 0)]
    assert photos.pick_three([7.0]) == [("best", 0)]
    with pytest.raises(ValueError, match="one score per photo"):
        photos.pick_three([])


def _png(color, size=(40, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, format="PNG")
    return buf.getvalue()


def test_load_photos_from_a_folder_and_uploads(tmp_path):
    (tmp_path / "b.png").write_bytes(_png((0, 0, 255)))
    (tmp_path / "a.PNG").write_bytes(_png((255, 0, 0)))
    (tmp_path / "notes.txt").write_text("not a photo")
    got = photos.load_photos(tmp_path, uploads=[{"name": "up.png", "content": memoryview(_png((0, 255, 0)))}],
                             bundled=False)
    assert [p.name for p in got] == ["a.PNG", "b.png", "up.png"]
    assert got[0].image.shape == (30, 40, 3) and got[0].image[0, 0].tolist() == [255, 0, 0]
    assert got[2].image[0, 0].tolist() == [0, 255, 0] and all(p.box is None for p in got)
    with pytest.raises(FileNotFoundError, match="PHOTOS_DIR"):
        photos.load_photos(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no photos in"):
        photos.folder_photos(tmp_path / "empty")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    with pytest.raises(ValueError, match="'broken.jpg' is not a readable image"):
        photos.folder_photos(tmp_path)


def test_bundled_photos_and_their_faces():
    bundled = photos.bundled_photos()
    assert len(bundled) == 3 and len({p.box for p in bundled}) == 1       # one box: the original's face
    assert not np.array_equal(bundled[0].image, bundled[1].image)
    assert photos.find_face(bundled[1])[1] == "box given"
    box, how, weight = photos.find_face(photos.Photo("plain", bundled[0].image))
    assert how == "Haar cascade" and weight > 0
    np.testing.assert_allclose(box, bundled[0].box)
    box, how, weight = photos.find_face(photos.Photo("blank", np.zeros((100, 200, 3), np.uint8)))
    assert how == "no face found: centre box" and box == (60.0, 30.0, 80.0, 40.0) and np.isnan(weight)


def test_predict_photos_in_photo_pixels_and_the_figure():
    cfg = exp.config("resnet", "smoke", crop_size=32)
    s = _symmetric_shape()
    bundled = photos.bundled_photos()
    results = photos.predict_photos(ConstantShape(s), cfg, bundled)
    assert [r.keypoints.shape for r in results] == [(68, 2)] * 3
    assert max(r.disagreement for r in results) < 1e-3
    assert photos.describe(results).splitlines()[1] == "grace_hopper.jpg, turned 40°: mirror disagreement 0.0 %; face: box given"
    # the crop is the box grown by the margin: crop units u -> x0 + u * side
    x0, y0, side = ibug.crop_square(results[0].box, cfg.margin)
    np.testing.assert_allclose(results[0].keypoints, np.array([x0, y0]) + s * side, atol=1e-3)
    unet = exp.config("unet", "smoke", crop_size=32, widths=(4, 8))
    torch.manual_seed(0)
    r = photos.predict_photos(exp.build_model(unet).eval(), unet, bundled[:1])[0]
    assert np.isfinite(r.keypoints).all() and np.isfinite(r.mirrored).all() and r.disagreement >= 0
    fig = plotting.show_photo_results(results, photos.pick_three([2.0, 1.0, 3.0]))
    assert [a.get_title().split(":")[0] for a in fig.axes] == ["best", "middle", "worst"]
    assert "turned 40°" in fig.axes[0].get_title() and "covered" in fig.axes[2].get_title()   # scores 1 and 3
    plt.close(fig)


def test_upload_redraws_on_new_files_and_shows_errors(capsys, monkeypatch):
    calls = []

    def draw(files):
        calls.append([f["name"] for f in files])
        if files and files[0]["name"] == "bad.png":
            raise ValueError("photo 'bad.png' is not a readable image")
        return plt.figure()

    shown = []
    monkeypatch.setattr("IPython.display.display", lambda *objs, **kw: shown.extend(objs))
    assert notebook.upload(draw) is None            # a cell ending in upload(...) shows the button once, no value
    assert len(shown) == 1 and isinstance(shown[0], widgets.VBox)
    button, out = shown[0].children
    assert isinstance(button, widgets.FileUpload) and isinstance(out, widgets.Output)
    assert calls == []                              # the cell draws its own first figure
    button.value = ({"name": "me.png", "type": "image/png", "size": 3, "content": memoryview(b"abc"),
                     "last_modified": datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)},)
    assert calls == [["me.png"]]
    button.value = ({"name": "bad.png", "type": "image/png", "size": 3, "content": memoryview(b"abc"),
                     "last_modified": datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)},)
    assert calls[-1] == ["bad.png"] and "error: photo 'bad.png'" in capsys.readouterr().out


def test_a_photo_too_small_for_a_face_is_refused(tmp_path):
    from cs180utils.machinery.keypoints.photos import read_photo
    Image.new("RGB", (1, 1)).save(tmp_path / "dot.png")
    with pytest.raises(ValueError, match=r"^photo 'dot.png' is 1 x 1 pixels, too small to hold a face \(at least "
                                         r"16 x 16\); use a larger photo$"):
        read_photo(tmp_path / "dot.png")
