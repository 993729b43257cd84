import json

import pytest

from cs180utils.machinery.cli import main
from cs180utils.nerf.scene import generate_scene


@pytest.fixture(scope="module")
def scene_npz(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "gen.npz"
    generate_scene(path, size=24, n_train=20, n_val=2, n_test=3)
    return path


def _last_json(capsys):
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_train_eval_render_round_trip(scene_npz, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "nerf", "--scene", str(scene_npz), "--profile", "smoke", "--steps", "4",
                 "--image-size", "24", "--out", str(out)]) == 0
    trained = _last_json(capsys)
    assert trained["steps"] == 4 and trained["profile"] == "smoke" and "seconds_to_23db" in trained
    assert 0 < trained["val_psnr"] < 60 and trained["seconds"] > 0
    ckpt = trained["checkpoint"]
    assert main(["eval", "nerf", "--checkpoint", ckpt, "--scene", str(scene_npz)]) == 0
    ev = _last_json(capsys)
    assert ev["views"] == 2 and abs(ev["psnr"] - trained["val_psnr"]) < 1e-2
    assert main(["eval", "nerf", "--checkpoint", ckpt, "--scene", str(scene_npz), "--render-samples", "96"]) == 0
    finer = _last_json(capsys)                           # the same weights through 96 samples a ray
    assert (ev["samples_per_ray"], finer["samples_per_ray"], finer["views"]) == (24, 96, 2)
    assert main(["render", "nerf", "--checkpoint", ckpt, "--scene", str(scene_npz), "--video-size", "40",
                 "--frames", "2", "--out", str(tmp_path / "video")]) == 0
    rendered = _last_json(capsys)
    assert rendered["frames"] == 2 and rendered["size"] == [40, 40]
    for key in ("mp4", "depth_mp4", "gif", "depth_gif"):
        assert (tmp_path / "video").joinpath(rendered[key].split("/")[-1]).stat().st_size > 100


def test_clear_errors(scene_npz, tmp_path, capsys):
    assert main(["eval", "nerf", "--checkpoint", str(tmp_path / "missing.pt"), "--scene", str(scene_npz)]) == 1
    assert "train first" in capsys.readouterr().err
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"nope")
    assert main(["train", "nerf", "--scene", str(bad), "--profile", "smoke", "--steps", "1", "--out", str(tmp_path)]) == 1
    assert "not a readable .npz" in capsys.readouterr().err
    assert main(["train", "nerf", "--scene", str(scene_npz), "--profile", "smoke", "--steps", "1", "--out",
                 str(tmp_path / "other"), "--model", "fast"]) == 0
    capsys.readouterr()
    assert main(["train", "nerf", "--scene", str(scene_npz), "--profile", "smoke", "--steps", "2", "--out",
                 str(tmp_path / "other")]) == 1   # a vanilla model asked to resume a fast one's folder
    assert "model: 'fast' (saved) vs 'vanilla' (now)" in capsys.readouterr().err
    for bad in (["--steps", "0"], ["--samples", "-3"], ["--image-size", "x"], ["--lr", "0"]):
        with pytest.raises(SystemExit):
            main(["train", "nerf", "--profile", "smoke", *bad])
        assert "argument" in capsys.readouterr().err


def test_train_options_not_given_keep_the_preset():
    from cs180utils.machinery.cli import build_parser
    from cs180utils.machinery.nerf.cli import train_config
    from cs180utils.machinery.nerf.experiment import config

    parser, _ = build_parser("train", "nerf")
    assert train_config(parser.parse_args([]), "cpu") == config("vanilla", "cpu")
    assert train_config(parser.parse_args(["--model", "fast", "--profile", "smoke"])) == config("fast", "smoke")
    cfg = train_config(parser.parse_args(["--steps", "5", "--max-seconds", "12", "--hierarchical"]), "cpu")
    assert (cfg.steps, cfg.max_seconds, cfg.hierarchical, cfg.batch_size) == (5, 12, True, 1024)
    cfg = train_config(parser.parse_args(["--hierarchical", "--samples", "16", "--fine", "16"]), "cpu")
    assert (cfg.hierarchical, cfg.n_samples, cfg.n_fine) == (True, 16, 16)
    assert config("fast", "cpu").render_samples == 128 and config("vanilla", "cpu").render_samples is None
    cfg = train_config(parser.parse_args(["--model", "fast", "--render-samples", "96"]), "cpu")
    assert (cfg.n_samples, cfg.render_samples) == (64, 96)
    with pytest.raises(ValueError, match="render_samples"):
        config("fast", "cpu", render_samples=0)
    cfg = train_config(parser.parse_args(["--batch-size", "64", "--image-size", "32", "--lr", "0.01",
                                          "--max-seconds", "none", "--no-hierarchical", "--seed", "3"]), "cpu")
    assert (cfg.batch_size, cfg.image_size, cfg.lr, cfg.max_seconds, cfg.hierarchical, cfg.seed) == (
        64, 32, 0.01, None, False, 3)
    with pytest.raises(ValueError, match="--hierarchical"):
        train_config(parser.parse_args(["--fine", "16"]), "cpu")


def test_preset_course_option(monkeypatch):
    from cs180utils.machinery.cli import build_parser
    from cs180utils.machinery.nerf.cli import preset_of, train_config
    from cs180utils.machinery.nerf.experiment import config

    monkeypatch.delenv("CS180_PRESET", raising=False)
    parser, _ = build_parser("train", "nerf")
    args = parser.parse_args(["--preset", "course", "--steps", "300"])
    assert train_config(args, "cpu") == config("vanilla", "cpu", preset="course", steps=300) and preset_of(args) == "course"
    assert train_config(parser.parse_args(["--preset", "none"]), "cpu") == config("vanilla", "cpu", preset="none")
    monkeypatch.setenv("CS180_PRESET", "course")
    assert train_config(parser.parse_args([]), "cpu").batch_size == 10_000
    assert train_config(parser.parse_args(["--preset", "none"]), "cpu").batch_size == 1024
    with pytest.raises(ValueError, match="no preset 'course'"):
        train_config(parser.parse_args(["--model", "fast", "--preset", "course"]), "cpu")
    with pytest.raises(SystemExit):
        parser.parse_args(["--preset", "paper"])


def test_image_size_larger_than_the_scene_is_refused_before_any_work(scene_npz, tmp_path, capsys):
    """--image-size past the scene's images would upsample them (issue #34): one line, no run folder."""
    out = tmp_path / "run"
    assert main(["train", "nerf", "--scene", str(scene_npz), "--profile", "smoke", "--device", "cpu",
                 "--image-size", "25", "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.splitlines()[-1] == ("error: --image-size 25 is larger than the scene's images (gen: 24 x 24 "
                                    "pixels), which are not upsampled: pass --image-size 24 or less (or leave it out)")
    assert not out.exists()


def test_image_size_bound_of_the_config():
    from cs180utils.machinery.nerf import experiment
    assert experiment.config("vanilla", "smoke", image_size=experiment.MAX_IMAGE_SIZE).image_size == 4096
    with pytest.raises(ValueError, match=r"^image_size must be at most 4096 pixels .*got 4097$"):
        experiment.config("vanilla", "smoke", image_size=4097)
