"""Tests of cs180utils.keypoints (a package so that test_train.py does not clash with tests/nerf/test_train.py)."""
