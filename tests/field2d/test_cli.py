"""field2d.cli: options left out keep the preset, the JSON line comes last, a re-run resumes, and the default
run folder is the one notebook 01's cached fits use."""
import io
import json
from contextlib import redirect_stdout

from cs180utils.machinery import cli, settings
from cs180utils.machinery.field2d import experiment

SMALL = ["--image-size", "16", "--steps", "20", "--width", "16", "--batch-size", "128"]


def run_main(argv):
    buf = io.StringIO()
    with redirect_stdout(buf):
        assert cli.main(argv) == 0
    return json.loads(buf.getvalue().strip().splitlines()[-1])


def parse(*argv):
    parser, _ = cli.build_parser("train", "field2d")
    return parser.parse_args(list(argv))


def test_options_left_out_keep_the_preset():
    args = parse("--profile", "cpu", "--L", "6", "--dtype", "float64", "--image-size", "none", "--max-seconds", "30")
    cfg = experiment.config("cpu", **settings.from_args(args, experiment.FitConfig))
    assert cfg == experiment.config("cpu", L=6, dtype="float64", image_size=None, max_seconds=30.0)
    assert experiment.config("smoke", **settings.from_args(parse(), experiment.FitConfig)) == experiment.config("smoke")


def test_cli_prints_json_last_and_resumes(tmp_path):
    argv = ["train", "field2d", "--profile", "smoke", *SMALL, "--out", str(tmp_path / "run")]
    out = run_main(argv)
    assert out["psnr"] > 8 and out["seconds"] > 0 and out["steps"] == 20 and out["H"] == 16
    assert out["resumed_from_step"] == 0 and out["batch_size"] == 128
    assert {p.name for p in (tmp_path / "run").iterdir()} >= {"checkpoint.pt", "final.png", "snapshots.png",
                                                             "history.json", "result.json"}
    assert json.loads((tmp_path / "run" / "result.json").read_text())["psnr"] == out["psnr"]
    again = run_main(argv)
    assert again["resumed_from_step"] == 20 and again["psnr"] == out["psnr"]
    fresh = run_main(argv + ["--fresh"])
    assert fresh["resumed_from_step"] == 0 and fresh["psnr"] == out["psnr"]   # same seed, same numbers


def test_cli_and_cached_fit_share_the_run_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("CS180_RUNS_DIR", str(tmp_path))
    out = run_main(["train", "field2d", "--profile", "smoke", *SMALL])
    cfg = experiment.config("smoke", image_size=16, steps=20, width=16, batch_size=128)
    image, name = experiment.load("hopper", cfg)
    assert out["out"] == str(experiment.run_folder(cfg, image, name))
    notebook = experiment.cached_fit(image, cfg, name, progress=False)       # what notebook 01 calls
    assert notebook.cached and round(notebook.psnr, 3) == out["psnr"]
    # and the other way round: a fit the notebook finished is what the command line finds
    cfg2 = experiment.config("smoke", image_size=16, steps=20, width=16, batch_size=128, L=3)
    first = experiment.cached_fit(image, cfg2, name, progress=False)
    again = run_main(["train", "field2d", "--profile", "smoke", *SMALL, "--L", "3"])
    assert not first.cached and again["resumed_from_step"] == 20 and again["psnr"] == round(first.psnr, 3)


def test_encoding_grid_takes_the_grid_presets_and_its_options():
    args = parse("--profile", "cpu", "--encoding", "grid")
    assert experiment.config("cpu", **settings.from_args(args, experiment.FitConfig)) == experiment.config("cpu", encoding="grid")
    args = parse("--encoding", "grid", "--grid-levels", "4", "--grid-finest", "none", "--grid-log2-hashmap", "none",
                 "--grid-base", "8", "--grid-features", "4")
    cfg = experiment.config("cpu", **settings.from_args(args, experiment.FitConfig))
    assert (cfg.grid_levels, cfg.grid_finest, cfg.grid_log2_hashmap, cfg.grid_base, cfg.grid_features) == (
        4, None, None, 8, 4)


def test_cli_trains_a_grid_field(tmp_path):
    out = run_main(["train", "field2d", "--profile", "smoke", "--encoding", "grid", "--image-size", "16",
                    "--steps", "20", "--batch-size", "128", "--out", str(tmp_path / "run")])
    assert out["encoding"] == "grid" and out["width"] == 32 and out["steps"] == 20 and out["psnr"] > 10
