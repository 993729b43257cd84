"""`train resnet|unet|unet-binary` and `eval keypoints` on generated faces written as dlib XML."""
import json

import numpy as np
import pytest

from cs180utils.machinery import cli, training
from cs180utils.machinery.keypoints import cli_300w, synthetic
from cs180utils.machinery.keypoints import experiment_300w as exp


@pytest.fixture(scope="module")
def xmls(tmp_path_factory):
    return synthetic.write_300w_folder(tmp_path_factory.mktemp("gen300w"), n_train=24, n_val=8, size=96)


def _last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_train_resume_and_eval_cli(xmls, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "resnet", "--profile", "smoke", "--train-xml", str(xmls[0]), "--val-xml", str(xmls[1]),
            "--out", str(out), "--epochs", "2", "--crop-size", "32"]
    assert cli.main(args) == 0
    first = _last_json(capsys)
    assert {"val_nme", "baseline_nme", "seconds", "checkpoint"} <= set(first) and first["epochs"] == 2
    assert np.isfinite(first["val_nme"]) and first["n_val"] == 8 and first["crop_size"] == 32
    assert (out / training.CHECKPOINT).exists() and (out / training.RESULT).exists()
    assert cli.main(args) == 0                               # finished: resumes, trains nothing, same numbers
    again = _last_json(capsys)
    assert again["val_nme"] == pytest.approx(first["val_nme"])
    # eval on the same faces through the XML reader gives the training's validation NME
    assert cli.main(["eval", "keypoints", "--checkpoint", str(out / training.CHECKPOINT), "--labels", str(xmls[1])]) == 0
    ev = _last_json(capsys)
    assert ev["n_images"] == 8 and ev["nme"] == pytest.approx(first["val_nme"], rel=1e-4)
    # a different configuration in the same folder is refused with advice naming the setting
    assert cli.main(args[:-2] + ["--crop-size", "48"]) == 1
    err = capsys.readouterr().err
    assert "other settings" in err and "crop_size: 32 (saved) vs 48 (now)" in err
    # --fresh starts over in the same folder
    assert cli.main(args[:-2] + ["--crop-size", "48", "--fresh"]) == 0
    assert _last_json(capsys)["crop_size"] == 48


def test_cli_default_out_is_the_notebooks_run_folder(xmls, tmp_path, monkeypatch, capsys):
    """Without --out, the CLI trains in experiment_300w.run_dir(cfg, data), where a notebook asking for the same
    settings finds the finished model (and does not train it again)."""
    monkeypatch.setenv("CS180_RUNS_DIR", str(tmp_path / "runs"))
    assert cli.main(["train", "unet-binary", "--profile", "smoke", "--train-xml", str(xmls[0]), "--val-xml",
                     str(xmls[1]), "--epochs", "1", "--crop-size", "32", "--widths", "8,16"]) == 0
    line = _last_json(capsys)
    cfg = exp.config("unet-binary", "smoke", epochs=1, crop_size=32, widths=(8, 16))
    data = exp.load_data(cfg, train_xml=xmls[0], val_xml=xmls[1])
    run = exp.run_dir(cfg, data)
    assert line["checkpoint"] == str(run / training.CHECKPOINT)
    assert run.parent == tmp_path / "runs" / "300w" and run.name.startswith("unet-binary-")
    nb = exp.train(cfg, data, progress=False)                 # the notebook's call: loaded, not trained
    assert nb.run == run and nb.result["val_nme"] == pytest.approx(line["val_nme"])
    assert nb.result["seconds"] == line["seconds"]


def test_options_default_unset_and_none_is_a_value():
    """Options left out keep the profile's preset; --window none and --max-seconds none mean None."""
    parser, _ = cli.build_parser("train", "unet")
    assert cli_300w.config_from_args(parser.parse_args(["--profile", "cpu"]), "train unet") == \
        exp.config("unet", "cpu")
    args = parser.parse_args(["--profile", "cpu", "--window", "none", "--sigma", "3", "--widths", "8,16"])
    cfg = cli_300w.config_from_args(args, "train unet")
    assert (cfg.window, cfg.sigma, cfg.widths, cfg.max_seconds) == (None, 3.0, (8, 16), 900)
    args = parser.parse_args(["--profile", "cpu", "--window", "0", "--max-seconds", "none", "--crop-size", "48"])
    cfg = cli_300w.config_from_args(args, "train unet")
    assert (cfg.window, cfg.max_seconds, cfg.crop_size) == (0, None, 48)
    resnet, _ = cli.build_parser("train", "resnet")
    assert cli_300w.config_from_args(resnet.parse_args(["--pretrained"]), "train resnet").pretrained is True
    assert cli_300w.config_from_args(resnet.parse_args(["--no-pretrained"]), "train resnet").pretrained is False


@pytest.mark.parametrize("option,text,message", [("--window", "-1", "argument --window: must be 0 or more, got -1"),
                                                 ("--window", "all", "argument --window: 'all' is not a whole number "
                                                                     "or 'none'"),
                                                 ("--widths", "16", "argument --widths: needs at least two levels"),
                                                 ("--crop-size", "0", "argument --crop-size: must be at least 1, got 0"),
                                                 ("--hflip", "1.5", "argument --hflip: must be between 0 and 1"),
                                                 ("--loss", "l2", "argument --loss: invalid choice: 'l2'")])
def test_bad_options_are_refused_with_what_to_do(option, text, message, capsys):
    """A value argparse cannot read and a value out of the config's range (Config300W.__post_init__) are both
    refused before any work, exit 2, the option named."""
    with pytest.raises(SystemExit) as exc:
        cli.main(["train", "unet", "--profile", "smoke", option, text])
    assert exc.value.code == 2 and message in capsys.readouterr().err


def test_each_network_has_the_options_of_its_settings_only():
    resnet, _ = cli.build_parser("train", "resnet")
    unet, _ = cli.build_parser("train", "unet")
    assert "sigma" in unet.cs180_options and "sigma" not in resnet.cs180_options
    assert "pretrained" in resnet.cs180_options and "pretrained" not in unet.cs180_options
    assert {"epochs", "lr", "crop_size", "tta_flip", "hflip"} <= set(resnet.cs180_options) & set(unet.cs180_options)
    assert "model" not in unet.cs180_options and "target" not in unet.cs180_options   # the command decides them
