"""Facial keypoint detection (notebooks 05-09).

Shared by every keypoint notebook:
    metrics    NME (outer-eye-corner normalised, percent), pixel MAE, per-landmark error, CED, mean-shape
               baseline; the LAYOUTS table (imm58, frontal73, 300w68: point count, nose tip, eye corners)
    augment    torchvision-v2 augmentation with tv_tensors.KeyPoints (brightness, rotation, shift, scale, mirror)
    synthetic  generated faces with known landmarks in all three layouts (the offline default and test fixtures)
    train      a generic trainer: Adam, loss curves, a checkpoint every epoch, resume, metrics per epoch
    plotting   faces with points, loss curves, best/worst predictions, first-layer filters

IMM faces (notebooks 05-06):
    asf        the IMM .asf reader/writer (58-point IMM Face DB and 73-point IMM Frontal DB)
    imm        Dataset, person splits, the generated stand-in folder
    cnn        the nose-tip and all-keypoint CNNs
    cli_imm    the experiments behind `python -m cs180utils train nose|keypoints`
"""
