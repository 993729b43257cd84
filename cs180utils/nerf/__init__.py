"""NeRF from multi-view images (notebooks 02-04, 10), one idea per module:

- ``rays``:       intrinsics, pixel -> camera -> world, a ray per pixel, random rays across images
- ``samplers``:   stratified samples along rays, ray/box clipping (the one slab test), hierarchical resampling
- ``rendering``:  discrete volume rendering (weights, colour, opacity, expected depth), the course's ``volrend``
- ``fields``:     the field contract ``Field`` (``(points, dirs) -> (sigma, rgb)`` and its hooks' defaults) and the
  course's NeRF MLP
- ``model``:      field(s) + render settings -> ``render_rays`` / chunked ``render_image``
- ``steps``:      the training step: render a batch of rays, MSE to their pixels (the loop does the rest)
- ``scene``:      the npz scene format (it owns the sampling range near/far), the generated stand-in scene with
  ground truth, the object's box
- ``hull``:       the visual hull: silhouettes, space carving, the object's box (for the box and the occupancy grid)
- ``fast`` / ``occupancy``: the grid-encoded field with an occupancy grid (notebook 10)

The machinery that runs them (config and presets, ``train``, ``evaluate``, the CLI, videos, plots) is
``cs180utils.machinery.nerf``.
"""
