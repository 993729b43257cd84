"""Training/evaluation of the 300-W models on generated faces written as dlib XML (and the CLI around them)."""
import dataclasses
import json

import numpy as np
import pytest
import torch

from cs180utils import cli
from cs180utils.keypoints import cli_300w, ibug


@pytest.fixture(scope="module")
def xmls(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gen300w")
    return cli_300w.generated_xmls(folder, n_train=24, n_val=8, size=96)


def test_generated_faces_go_through_the_real_reader(xmls):
    train = ibug.read_dlib_xml(xmls[0])
    assert len(train) == 24 and train[0].keypoints.shape == (68, 2) and train[0].image.exists()


@pytest.mark.parametrize("command", ["resnet", "unet", "unet-binary"])
def test_a_few_steps_lower_the_loss(xmls, command):
    cfg = cli_300w.default_config(command, "smoke", size=32, widths=(8, 16))
    data = cli_300w.load_data(cfg, train_xml=xmls[0], val_xml=xmls[1])
    torch.manual_seed(0)
    model = cli_300w.build_model(cfg, cli_300w.mean_shape_units(data.train))
    x, k = ibug.to_float(data.train.images[:8]), data.train.keypoints[:8]
    opt = torch.optim.Adam(model.parameters(), 1e-4 if command == "resnet" else 1e-2)
    losses = []
    for _ in range(20):
        loss = cli_300w.step_loss(model, cfg, x, k)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.9 * losses[0]


def test_train_resume_and_eval_cli(xmls, tmp_path, capsys):
    out = tmp_path / "run"
    args = ["train", "resnet", "--profile", "smoke", "--train-xml", str(xmls[0]), "--val-xml", str(xmls[1]),
            "--out", str(out), "--epochs", "2", "--size", "32"]
    assert cli.main(args) == 0
    first = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"val_nme", "baseline_nme", "seconds", "checkpoint"} <= set(first) and first["epochs"] == 2
    assert np.isfinite(first["val_nme"]) and first["n_val"] == 8
    assert (out / "checkpoint.pt").exists() and (out / "history.json").exists()
    assert cli.main(args) == 0                               # finished: resumes, trains nothing, same numbers
    again = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert again["val_nme"] == pytest.approx(first["val_nme"])
    # eval on the same faces through the XML reader gives the training's validation NME
    assert cli.main(["eval", "keypoints", "--checkpoint", str(out / "checkpoint.pt"), "--labels", str(xmls[1])]) == 0
    ev = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert ev["n_images"] == 8 and ev["nme"] == pytest.approx(first["val_nme"], rel=1e-4)
    # a different configuration in the same folder is refused with advice
    assert cli.main(args[:-2] + ["--size", "48"]) == 1
    assert "different configuration" in capsys.readouterr().err


def test_resume_after_interruption_equals_one_run(xmls, tmp_path, monkeypatch):
    cfg = cli_300w.default_config("resnet", "smoke", size=32, epochs=2, batch_size=8)
    data = cli_300w.load_data(cfg, train_xml=xmls[0], val_xml=xmls[1])
    full = cli_300w.train(cfg, data, out=tmp_path / "a", progress=False)
    # the same run, interrupted (Ctrl-C) right after its first epoch's checkpoint is written
    real_save = cli_300w.save_checkpoint

    def save_then_interrupt(path, state):
        real_save(path, state)
        raise KeyboardInterrupt

    monkeypatch.setattr(cli_300w, "save_checkpoint", save_then_interrupt)
    with pytest.raises(KeyboardInterrupt):
        cli_300w.train(cfg, data, out=tmp_path / "b", progress=False)
    monkeypatch.setattr(cli_300w, "save_checkpoint", real_save)
    assert torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=False)["epoch"] == 1
    resumed = cli_300w.train(cfg, data, out=tmp_path / "b", progress=False)
    assert resumed.result["val_nme"] == pytest.approx(full.result["val_nme"], rel=1e-5)


def test_run_dir_is_one_folder_per_configuration(xmls):
    cfg = cli_300w.default_config("unet", "smoke")
    data = cli_300w.load_data(dataclasses.replace(cfg, size=32), train_xml=xmls[0], val_xml=xmls[1])
    same = cli_300w.run_dir(dataclasses.replace(cfg), data)
    assert same == cli_300w.run_dir(cfg, data) and same.name.startswith("unet-gaussian_")
    assert cli_300w.run_dir(dataclasses.replace(cfg, sigma=4.0), data) != same
    assert cli_300w.run_dir(dataclasses.replace(cfg, target="binary"), data) != same


def test_unet_result_reports_every_read_out(xmls, tmp_path):
    cfg = cli_300w.default_config("unet", "smoke", size=32, widths=(8, 16), epochs=1)
    data = cli_300w.load_data(cfg, train_xml=xmls[0], val_xml=xmls[1])
    r = cli_300w.train(cfg, data, out=tmp_path, progress=False).result
    assert r["window"] == 4 and {"val_nme", "val_nme_global", "val_nme_argmax"} <= set(r)
    assert all(np.isfinite(r[k]) for k in ("val_nme", "val_nme_global", "val_nme_argmax"))


def test_submission_csv(tmp_path):
    pred = np.arange(2 * 68 * 2, dtype=float).reshape(2, 68, 2)
    path = cli_300w.write_submission(tmp_path / "s.csv", pred)
    lines = path.read_text().splitlines()
    assert lines[0] == "Id,Predicted" and len(lines) == 1 + 272
    assert lines[1 + 136 + 2 * 5 + 1] == f"{136 + 11},{pred[1, 5, 1]:.2f}"      # image 1, keypoint 5, y
    with pytest.raises(ValueError, match="N, K, 2"):
        cli_300w.write_submission(tmp_path / "t.csv", pred[0])


def test_real_data_baseline(real_data_dir):
    cfg = cli_300w.default_config("resnet", "smoke", size=64)
    cfg.max_train, cfg.max_val = None, None
    data = cli_300w.load_data(cfg, data_dir=real_data_dir)
    assert data.source == "300-W" and len(data.train) == 705 and len(data.val) == 100
    model = cli_300w.build_model(cfg, cli_300w.mean_shape_units(data.train))   # untrained = mean shape
    r = cli_300w.evaluate(model, cfg, data.val, cli_300w.mean_shape_units(data.train))
    assert r["nme"] == pytest.approx(r["baseline_nme"], rel=1e-4)
    assert 17.0 < r["baseline_nme"] < 21.0                   # the mean shape in the face box: about 18.8 %


def test_none_overrides_and_command_line_options():
    """default_config takes None as given; the command line keeps the profile's value for options not given."""
    from cs180utils.cli import build_parser

    assert cli_300w.default_config("unet", "cpu").time_budget == 900
    cfg = cli_300w.default_config("unet", "cpu", time_budget=None, window=None)
    assert cfg.time_budget is None and cfg.window is None
    parser, _ = build_parser("train", "unet")
    assert cli_300w.config_from_args(parser.parse_args(["--profile", "cpu"]), "unet") == \
        cli_300w.default_config("unet", "cpu")
    args = parser.parse_args(["--profile", "cpu", "--window", "-1", "--sigma", "3", "--widths", "8,16"])
    cfg = cli_300w.config_from_args(args, "unet")
    assert (cfg.window, cfg.sigma, cfg.widths, cfg.time_budget) == (None, 3.0, (8, 16), 900)
