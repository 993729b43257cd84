"""Videos: the files written, and the frame cache that lets notebook 04 reuse notebook 03's frames."""
import numpy as np
import pytest
import torch

from cs180utils.nerf.fields import NerfField
from cs180utils.nerf.model import NeRF, RenderSettings
from cs180utils.nerf.scene import orbit_cameras
from cs180utils.machinery.nerf.video import frames_key, render_video


def _model(seed=0):
    torch.manual_seed(seed)
    return NeRF(NerfField(width=16, depth=2, skip=1, L_pos=2, L_dir=1), RenderSettings(2.0, 6.0, n_samples=8))


def _gif_frames(path):
    import imageio.v2 as imageio
    return np.stack(imageio.mimread(path))


def test_frames_are_rendered_once_and_written_again_from_the_cache(tmp_path, monkeypatch):
    model, c2ws = _model(), orbit_cameras(3)
    calls = []
    render = model.render_image
    monkeypatch.setattr(model, "render_image", lambda *a, **k: calls.append(1) or render(*a, **k))
    first = render_video(model, c2ws, 20.0, 16, tmp_path / "a", progress=False, cache_dir=tmp_path / "run")
    assert len(calls) == 3 and first["cached"] is False
    assert len(list((tmp_path / "run" / "videos").glob("*.npz"))) == 1

    second = render_video(model, c2ws, 20.0, 16, tmp_path / "b", progress=False, cache_dir=tmp_path / "run")
    assert len(calls) == 3 and second["cached"] is True and second["frames"] == 3   # nothing rendered
    for key in ("gif", "depth_gif"):                   # the same frames as the rendering call wrote
        np.testing.assert_array_equal(_gif_frames(first[key]), _gif_frames(second[key]))
    for key in ("mp4", "depth_mp4"):
        assert (tmp_path / "b").joinpath(second[key].split("/")[-1]).stat().st_size > 100


def test_the_cache_key_follows_weights_cameras_and_size():
    model, c2ws = _model(), orbit_cameras(3)
    key = frames_key(model, c2ws, 20.0, 16, 16)
    assert key == frames_key(_model(), c2ws, 20.0, 16, 16)                 # same weights: same frames
    assert key != frames_key(_model(seed=1), c2ws, 20.0, 16, 16)           # other weights
    assert key != frames_key(model, orbit_cameras(3, elev_deg=40), 20.0, 16, 16)
    assert key != frames_key(model, c2ws, 20.0, 32, 32) != frames_key(model, c2ws, 21.0, 16, 16)
    model.settings.background = (1.0, 1.0, 1.0)                            # render settings count too
    assert key != frames_key(model, c2ws, 20.0, 16, 16)


@pytest.mark.parametrize("damage", [b"not an npz", b""])
def test_an_unreadable_cache_file_is_rendered_again(tmp_path, damage):
    model, c2ws = _model(), orbit_cameras(2)
    render_video(model, c2ws, 20.0, 16, tmp_path / "a", progress=False, cache_dir=tmp_path / "run")
    (cache,) = (tmp_path / "run" / "videos").glob("*.npz")
    cache.write_bytes(damage)
    again = render_video(model, c2ws, 20.0, 16, tmp_path / "b", progress=False, cache_dir=tmp_path / "run")
    assert again["cached"] is False and cache.stat().st_size > 1000    # rendered, and the cache rewritten
    assert render_video(model, c2ws, 20.0, 16, tmp_path / "c", progress=False,
                        cache_dir=tmp_path / "run")["cached"] is True
