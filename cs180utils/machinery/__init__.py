"""The machinery of the CS180 workbook: what runs the course library (:mod:`cs180utils`), not the course itself.

- ``training``: the one training loop (checkpoints and resume, time budgets, schedules, mixed precision)
- ``config`` / ``settings`` / ``capped``: run profiles, devices, seeds and paths; experiment configs and presets;
  the capped full profile of CI
- ``checkpoint``: atomic checkpoint files
- ``sources``: where each reader's files come from (data folders, downloads, generated stand-ins)
- ``data``: the datasets by name: lookup, verified downloads, content checks, ``python -m cs180utils data``
- ``field2d`` / ``nerf`` / ``keypoints``: each part's experiment (config, presets, build / train / evaluate),
  its command line, plots, videos and your own photos
- ``cli``: ``python -m cs180utils``; ``workbook``: ``make run`` (the notebooks headless); ``notebook``: sliders,
  uploads and notices; ``colab``: a notebook's set-up cell on Colab
- ``assignment``: the student edition, its checks and the autograder
"""
