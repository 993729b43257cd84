import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from cs180utils.keypoints.train import TrainConfig, fit, predict_all


def _data():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=g)
    y = x @ torch.randn(4, 2, generator=g)
    return DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True)


def _model():
    torch.manual_seed(0)
    return nn.Linear(4, 2)


def test_loss_falls_and_metrics_are_logged(tmp_path):
    dl = _data()
    r = fit(_model(), dl, dl, TrainConfig(epochs=4, lr=0.05, progress=False), nn.MSELoss(), tmp_path,
            metric_fn=lambda p, t: {"mae": (p - t).abs().mean()})
    h = r["history"]
    assert h["epoch"] == [1, 2, 3, 4] and len(h["val_mae"]) == 4
    assert h["train_loss"][-1] < 0.5 * h["train_loss"][0]
    assert r["best_epoch"] == 4 and (tmp_path / "last.pt").exists() and (tmp_path / "best.pt").exists()


def test_resume_equals_uninterrupted(tmp_path):
    dl = _data()
    cfg = TrainConfig(epochs=2, lr=0.05, progress=False)
    m = _model()
    fit(m, dl, dl, cfg, nn.MSELoss(), tmp_path)
    cfg.epochs = 4
    resumed = fit(m, dl, dl, cfg, nn.MSELoss(), tmp_path)
    straight = fit(_model(), dl, dl, TrainConfig(epochs=4, lr=0.05, progress=False), nn.MSELoss(), None)
    assert resumed["resumed_from"] == 2 and resumed["epochs_run"] == 2
    assert resumed["history"]["val_loss"] == pytest.approx(straight["history"]["val_loss"], rel=1e-6)


def test_wrong_model_in_out_dir_says_what_to_do(tmp_path):
    dl = _data()
    fit(_model(), dl, None, TrainConfig(epochs=1, progress=False), nn.MSELoss(), tmp_path)
    with pytest.raises(RuntimeError, match="different model"):
        fit(nn.Linear(4, 3), dl, None, TrainConfig(epochs=2, progress=False), nn.MSELoss(), tmp_path)


def test_predict_all_concatenates():
    dl = _data()
    p, t = predict_all(_model(), dl, device="cpu")
    assert p.shape == (64, 2) and t.shape == (64, 2)


def test_train_nose_command_prints_json_and_resumes(tmp_path, capsys):
    import json

    from cs180utils import cli
    from cs180utils.keypoints.synthetic import write_imm_folder

    threads = torch.get_num_threads()
    folder = write_imm_folder(tmp_path / "imm", "frontal73", n_people=12, per_person=2, size=(60, 80))
    args = ["train", "nose", "--profile", "smoke", "--imm-dir", str(folder), "--out", str(tmp_path / "run"),
            "--threads", "1"]
    assert cli.main(args + ["--epochs", "1"]) == 0
    first = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert {"val_nme", "baseline_nme", "val_mae_px", "seconds", "checkpoint"} <= set(first)
    assert first["epochs"] == 1 and first["n_val"] == 4 and first["baseline_nme"] > 0
    assert cli.main(args + ["--epochs", "2"]) == 0                 # resumes after epoch 1
    second = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert second["epochs"] == 2
    assert cli.main(args + ["--epochs", "2", "--no-sigmoid"]) == 1  # other settings, same --out: refused
    assert "other settings" in capsys.readouterr().err
    torch.set_num_threads(threads)                                 # --threads 1 changed it for the process
