import json

import pytest
import torch

from cs180utils.machinery import cli, settings, training
from cs180utils.machinery.keypoints import cli_imm, experiment_imm
from cs180utils.machinery.keypoints.synthetic import write_imm_folder


def _args(command, *argv):
    parser, _ = cli.build_parser("train", command)
    return parser.parse_args(list(argv))


def test_options_left_out_keep_the_preset_of_the_asked_profile(monkeypatch):
    monkeypatch.setenv("CS180_PROFILE", "cpu")
    args = _args("keypoints", "--profile", "smoke")
    cfg = experiment_imm.config("keypoints", args.profile, **settings.from_args(args, experiment_imm.ImmConfig))
    assert cfg == experiment_imm.config("keypoints", "smoke")
    args = _args("nose", "--epochs", "3", "--no-sigmoid", "--augment", "--max-seconds", "none", "--lr", "0.01",
                 "--batch-size", "4", "--seed", "2")
    cfg = experiment_imm.config("nose", args.profile, **settings.from_args(args, experiment_imm.ImmConfig))
    assert cfg == experiment_imm.config("nose", "cpu", epochs=3, sigmoid=False, augment=True, max_seconds=None,
                                        lr=0.01, batch_size=4, seed=2)


def test_zoom_option_takes_a_fraction_or_off(capsys):
    for given, zoom in (("0.7", 0.7), ("off", None)):
        args = _args("keypoints", "--profile", "smoke", "--zoom", given)
        cfg = experiment_imm.config("keypoints", args.profile, **settings.from_args(args, experiment_imm.ImmConfig))
        assert cfg.zoom == zoom
    for bad, why in (("0", "argument --zoom: zoom is the fraction of the crop's width the face's points span: "
                           "in (0, 1], got 0.0"),
                     ("1.5", "argument --zoom: zoom is the fraction of the crop's width the face's points span: "
                             "in (0, 1], got 1.5"),
                     ("wide", "argument --zoom: 'wide' is not a finite number or 'none'")):
        with pytest.raises(SystemExit) as exc:
            cli.main(["train", "keypoints", "--zoom", bad])
        assert exc.value.code == 2 and why in capsys.readouterr().err
    with pytest.raises(SystemExit):
        _args("nose", "--zoom", "0.6")                       # one point: nothing to frame


def test_train_nose_command_prints_json_and_resumes(tmp_path, capsys):
    threads = torch.get_num_threads()
    folder = write_imm_folder(tmp_path / "imm", "frontal73", n_people=12, per_person=2, size=(60, 80))
    args = ["train", "nose", "--profile", "smoke", "--imm-dir", str(folder), "--out", str(tmp_path / "run"),
            "--threads", "1"]
    assert cli.main(args + ["--epochs", "1"]) == 0
    first = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"val_nme", "baseline_nme", "val_mae_px", "seconds", "checkpoint"} <= set(first)
    assert first["epochs"] == 1 and first["n_val"] == 4 and first["baseline_nme"] > 0
    assert first["profile"] == "smoke" and first["checkpoint"] == str(tmp_path / "run" / training.CHECKPOINT)
    assert json.loads((tmp_path / "run" / training.RESULT).read_text())["val_nme"] == first["val_nme"]
    assert cli.main(args + ["--epochs", "2"]) == 0                 # resumes after epoch 1
    second = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert second["epochs"] == 2 and second["resumed_from_step"] == 1
    assert cli.main(args + ["--epochs", "2", "--no-sigmoid"]) == 1  # other settings, same --out: refused
    assert "other settings" in capsys.readouterr().err
    assert cli.main(args + ["--epochs", "1", "--no-sigmoid", "--fresh"]) == 0   # --fresh starts over
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["resumed_from_step"] == 0
    torch.set_num_threads(threads)                                 # --threads 1 changed it for the process


def test_default_out_is_the_notebooks_run_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CS180_RUNS_DIR", str(tmp_path / "runs"))
    threads = torch.get_num_threads()
    folder = write_imm_folder(tmp_path / "imm", "frontal73", n_people=12, per_person=2, size=(60, 80))
    assert cli.main(["train", "nose", "--profile", "smoke", "--imm-dir", str(folder), "--epochs", "1",
                     "--threads", "1"]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    records = experiment_imm.load_records(imm_dir=folder)[0]
    expected = experiment_imm.run_folder(experiment_imm.config("nose", "smoke", epochs=1), records)
    assert line["checkpoint"] == str(expected / training.CHECKPOINT)
    torch.set_num_threads(threads)


def test_preset_course_only_where_the_task_has_it(monkeypatch):
    monkeypatch.delenv("CS180_PRESET", raising=False)
    args = _args("nose", "--preset", "course", "--epochs", "5", "--profile", "cpu")
    assert args.preset == "course"
    monkeypatch.setenv("CS180_PRESET", "course")     # the keypoints task has no course preset: the option is absent
    assert not hasattr(_args("keypoints"), "preset")


def test_train_nose_preset_course_reports_it(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("CS180_PRESET", raising=False)
    folder = write_imm_folder(tmp_path / "imm", "frontal73", n_people=12, per_person=2, size=(60, 80))
    args = ["train", "nose", "--profile", "smoke", "--preset", "course", "--epochs", "1", "--imm-dir", str(folder),
            "--out", str(tmp_path / "run"), "--threads", "1"]
    threads = torch.get_num_threads()
    try:
        assert cli.main(args) == 0
    finally:
        torch.set_num_threads(threads)
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["preset"] == "course" and line["epochs"] == 1
    saved = torch.load(tmp_path / "run" / training.CHECKPOINT, weights_only=False)["config"]
    assert (saved["batch_norm"], saved["augment"], saved["lr_min_factor"]) == (False, False, 1.0)
