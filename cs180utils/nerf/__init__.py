"""NeRF from multi-view images (notebooks 02-04, 10), one idea per module:

- ``rays``:       intrinsics, pixel -> camera -> world, a ray per pixel, random rays across images
- ``samplers``:   stratified samples along rays, ray/box clipping (the one slab test), hierarchical resampling
- ``rendering``:  discrete volume rendering (weights, colour, opacity, expected depth), the course's ``volrend``
- ``fields``:     the course's NeRF MLP (field contract: ``(points, dirs) -> (sigma, rgb)``)
- ``model``:      field(s) + render settings -> ``render_rays`` / chunked ``render_image``
- ``scene``:      the npz scene format, the generated stand-in scene with ground truth, the object's box
- ``hull``:       the visual hull: silhouettes, space carving, the object's box (for the box and the occupancy grid)
- ``experiment``: ``NerfConfig`` and its presets per profile, ``config``, ``build_model``, ``train``, ``evaluate``,
  ``load_trained``, the run folder
- ``cli``:        ``python -m cs180utils train|eval|render nerf`` (arguments -> the experiment's config)
- ``video``:      novel-view colour and depth videos (mp4, gif) over the test cameras
- ``fast`` / ``occupancy``: the grid-encoded field with an occupancy grid (notebook 10)
"""
