"""field2d.images: pixel coordinates, colour targets, the named images, errors that say what to do."""
import numpy as np
import pytest
from PIL import Image

from cs180utils.field2d import image_to_targets
from cs180utils.machinery.sources import load_image
from cs180utils.field2d.images import as_float_image, image_digest, pixel_coords


def test_pixel_coords_are_u_over_w_v_over_h_row_major():
    c = pixel_coords(4, 5)
    assert c.shape == (20, 2)
    assert c[0].tolist() == [0, 0] and c[1].tolist() == pytest.approx([1 / 5, 0])
    assert c[5].tolist() == pytest.approx([0, 1 / 4]) and c[-1].tolist() == pytest.approx([4 / 5, 3 / 4])


def test_image_to_targets_round_trip_and_uint8():
    img = (np.arange(4 * 5 * 3) % 256).astype(np.uint8).reshape(4, 5, 3)
    coords, colors = image_to_targets(img)
    assert coords.shape == (20, 2) and colors.shape == (20, 3)
    np.testing.assert_allclose(colors.reshape(4, 5, 3).numpy(), img / 255.0, atol=1e-7)


def test_as_float_image_channels_and_errors():
    assert as_float_image(np.zeros((3, 4), np.uint8)).shape == (3, 4, 3)
    rgba = np.full((3, 4, 4), 255, np.uint8)
    assert as_float_image(rgba).shape == (3, 4, 3) and as_float_image(rgba).max() == 1.0
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        as_float_image(np.full((3, 4, 3), 200.0))
    with pytest.raises(ValueError, match="shape"):
        as_float_image(np.zeros((3, 4, 2)))


def test_digest_is_of_the_8_bit_pixels():
    img = (np.arange(4 * 5 * 3) % 256).astype(np.uint8).reshape(4, 5, 3)
    assert image_digest(img) == image_digest(img / 255.0) == image_digest(as_float_image(img))
    assert image_digest(img) != image_digest(img[:, :4]) and image_digest(img) != image_digest(img // 2)


def test_default_image_is_grace_hopper_and_downscales():
    img, name = load_image()
    assert name == "hopper" and img.shape == (600, 512, 3) and img.dtype == np.float32
    assert 0.0 <= img.min() and img.max() <= 1.0 and 0.2 < img.mean() < 0.8
    small, _ = load_image(image_size=60)
    assert small.shape == (60, 51, 3)
    terrain, name = load_image("terrain")
    assert name == "terrain" and terrain.shape == (344, 403, 3)


def test_fox_found_in_data_dir_else_notice_and_hopper(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("CS180_DATA_DIR", raising=False)
    monkeypatch.setenv("CS180_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("CS180_OFFLINE", "1")
    img, name = load_image("fox", image_size=32, data_dir=tmp_path)
    assert name == "hopper" and img.shape[0] == 32
    assert "fox" in capsys.readouterr().err
    Image.fromarray(np.full((10, 14, 3), 200, np.uint8)).save(tmp_path / "fox.jpg")
    img, name = load_image("fox", data_dir=tmp_path)
    assert name == "fox" and img.shape == (10, 14, 3)


def test_missing_image_path_says_what_to_do(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist.*hopper"):
        load_image(tmp_path / "nope.jpg")
    (tmp_path / "bad.jpg").write_text("not an image")
    with pytest.raises(ValueError, match="not a readable image"):
        load_image(tmp_path / "bad.jpg")


def test_an_image_too_small_for_a_field_says_so():
    """A 1 x 1 image is too small, not of the wrong shape (issue #34)."""
    import numpy as np
    from cs180utils.field2d.images import as_float_image
    with pytest.raises(ValueError, match=r"^an image of 1 x 1 pixels is too small for a 2-D field \(at least 2 x 2\)"):
        as_float_image(np.zeros((1, 1, 3), np.uint8))
