"""Facial keypoint detection (notebooks 05-09).

Keypoint coordinates, everywhere in this package: continuous pixel coordinates ``(x, y)``, x to the right and
y down, an image of W x H pixels spanning ``[0, W] x [0, H]``, so the centre of the pixel in row i, column j is
``(j + 0.5, i + 0.5)`` (as torchvision's ``tv_tensors.KeyPoints`` and the NeRF rays expect). Files that hold
pixel *indices* are converted where they are read and written (dlib XML: index + 0.5 on reading, - 0.5 on
writing; ``.pts``: 1-based, - 0.5), so crops, datasets, augmentation, heatmap targets (a heatmap cell i is
centred at i + 0.5), read-outs and metrics all use this one convention. A face box ``(left, top, width,
height)`` is the region ``[left, left + width] x [top, top + height]``. Fractions of the image (IMM's ``.asf``,
the networks' crop units) are these coordinates divided by W and H.

Shared by every keypoint notebook:
    metrics    NME (outer-eye-corner normalised, percent), pixel MAE, per-landmark error, CED, mean-shape
               baseline; the LAYOUTS table (imm58, frontal73, 300w68: point count, nose tip, eye corners)
    augment    torchvision-v2 augmentation with tv_tensors.KeyPoints (brightness, rotation, shift, scale, mirror)
    steps      the training steps, the forward pass and loss of one batch: regression_step (the CNNs, the
               ResNet), heatmap_step (the U-Nets)

IMM faces (notebooks 05-06):
    asf        the IMM .asf reader/writer (58-point IMM Face DB and 73-point IMM Frontal DB)
    imm        Dataset (whole photos or frames around the face), person splits
    cnn        the nose-tip and all-keypoint CNNs

Every training runs on the workbook's one loop (:mod:`cs180utils.machinery.training`), which calls these steps.

iBUG 300-W faces (notebooks 07-09):
    ibug             dlib XML / .pts readers and writer, face crops and the way back to original pixels
    heatmaps         Gaussian / binary heatmap targets for a batch, their losses, soft-argmax and argmax read-outs
    resnet           ResNet18 with a 1-channel input and 2K outputs (offsets from the mean shape)
    unet             a U-Net from named blocks, one heatmap per keypoint
    detect           OpenCV's Haar cascade for your own photos, boxes mapped to 300-W style boxes

The machinery beside them (:mod:`cs180utils.machinery.keypoints`): experiment_imm and experiment_300w (config and
presets, data, build / train / evaluate / predict), cli_imm and cli_300w (``python -m cs180utils train
nose|keypoints|resnet|unet|unet-binary``, ``eval|predict keypoints``), synthetic (generated faces with known
landmarks in all three layouts: the offline stand-in and test fixtures), plotting, photos (your own photos) and
weights (ImageNet's ResNet18).
"""
