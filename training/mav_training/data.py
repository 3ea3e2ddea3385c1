"""Training batches from the synthetic world (world.py): image-caption pairs, decoys, unlabelled clips, SR crops, and
the worker processes that render them ahead of the training loop.

Every batch is a function of (stage, step, fraction of the run spent) only, so workers can render it ahead and a
batch is the same with any number of workers, on CPU or GPU."""
import concurrent.futures
import multiprocessing

import numpy as np
import torch

from . import world as W


def image_batch(world, start, n, size=64):
    """(images [n, 3, size, size], captions, scenes) of world indices start … start + n − 1."""
    imgs, caps, scenes = [], [], []
    for i in range(start, start + n):
        img, cap, sc = world.image_pair(i, size)
        imgs.append(img)
        caps.append(cap)
        scenes.append(sc)
    return torch.from_numpy(np.stack(imgs)), caps, scenes


def fps_for(progress, rng):
    """Training fps: early in a run mostly high fps (little motion), later mostly low fps (much motion)."""
    lo, hi = W.FPS_RANGE
    u = rng.uniform() ** (3.0 * (1 - progress) + 0.5)
    return float(round(hi - (hi - lo) * u))


def shape_decoy(scene, rng):
    """The scene drawn as something else at the same place and size, in the same colour on the same background: a
    fish or an arrow half of the time facing another way, otherwise another shape (and facing); never a held-out
    colour-shape pair. Why the facings: a decoy of another shape alone left D reading the facing off x_t."""
    if scene["shape"] in W.ORIENTED and rng.uniform() < 0.5:
        facings = [d for d in W.ORIENTED[scene["shape"]] if d != scene["direction"]]
        return dict(scene, direction=facings[rng.integers(len(facings))])
    others = [s for s in W.SHAPES if s != scene["shape"] and not W.is_held_out(scene["colour"], s)]
    shape = others[rng.integers(len(others))]
    facing = W.ORIENTED[shape][rng.integers(len(W.ORIENTED[shape]))] if shape in W.ORIENTED else None
    return dict(scene, shape=shape, direction=facing)


def still_decoy(clip, scene):
    """A fish or arrow clip [3, F, H, W] frozen at its middle frame; other clips as they are."""
    if scene["direction"] is None:
        return clip
    mid = clip.shape[1] // 2
    return np.repeat(clip[:, mid:mid + 1], clip.shape[1], axis=1)


def videos(world, start, frames, fps_list, size=64):
    """The world's unlabelled clips start, start + 1, …: (clip [3, F, size, size], fps, scene, motion) per fps."""
    return [world.video(start + k, frames, fps, size) for k, fps in enumerate(fps_list)]


def clip_crops(world, start, n, frames, crop, rng):
    """SR^t_l's pairs: n clips of `frames` frames rendered at 256 and 64 px (the same scene), cropped to crop² and
    (crop/4)² near the object. Returns (high [n, 3, F, crop, crop], low [n, 3, F, crop/4, crop/4])."""
    hi, lo = [], []
    for k in range(n):
        scene_rng = world.rng(start + k, 2)
        scene = W.sample_scene(scene_rng)
        fps = fps_for(rng.uniform(), rng)
        motion = W.sample_motion(scene, scene_rng, frames, fps)
        cx, cy = W.centre_at(motion, 0.0)  # a crop that usually contains part of the object
        x0 = int(np.clip(cx * 256 - crop / 2 + rng.integers(-24, 25), 0, 256 - crop)) // 4 * 4
        y0 = int(np.clip(cy * 256 - crop / 2 + rng.integers(-24, 25), 0, 256 - crop)) // 4 * 4
        hi.append(W.render_video(scene, motion, frames, fps, 256, (x0, y0, crop, crop)))
        lo.append(W.render_video(scene, motion, frames, fps, 64, (x0 // 4, y0 // 4, crop // 4, crop // 4)))
    return torch.from_numpy(np.stack(hi)), torch.from_numpy(np.stack(lo))


def frame_crops(world, start, n, crop, rng):
    """SR_h's pairs: n scenes rendered at 768 and 256 px, cropped to crop² and (crop/3)² near the object."""
    hi, lo = [], []
    for k in range(n):
        scene = W.sample_scene(world.rng(start + k, 1))
        cx, cy = scene["center"]
        x0 = int(np.clip(cx * 768 - crop / 2 + rng.integers(-80, 81), 0, 768 - crop)) // 3 * 3
        y0 = int(np.clip(cy * 768 - crop / 2 + rng.integers(-80, 81), 0, 768 - crop)) // 3 * 3
        hi.append(W.render(scene, 768, window=(x0, y0, crop, crop)))
        lo.append(W.render(scene, 256, window=(x0 // 3, y0 // 3, crop // 3, crop // 3)))
    return torch.from_numpy(np.stack(hi)), torch.from_numpy(np.stack(lo))


_WORKER_STAGE = None  # the stage whose data(step, progress) the forked workers call


def _worker_init():
    torch.set_num_threads(1)


def _worker_data(step, progress):
    return _WORKER_STAGE.data(step, progress)


class Prefetcher:
    """Renders the batches of the next steps in worker processes while the model trains on the current one. Why: the
    world is drawn with numpy on one core, which bounds a GPU. Workers are forked before any model moves to the GPU
    and only run numpy."""

    def __init__(self, stage, workers, depth=None):
        global _WORKER_STAGE
        _WORKER_STAGE = stage
        self.pool = concurrent.futures.ProcessPoolExecutor(workers, multiprocessing.get_context("fork"),
                                                           initializer=_worker_init)
        self.depth = depth or 2 * workers
        self.queue = {}
        self.pool.submit(int).result()  # with fork every worker starts at the first task: start them now

    def get(self, step, progress):
        for s in range(step, step + self.depth):
            if s not in self.queue:
                self.queue[s] = self.pool.submit(_worker_data, s, progress)
        return self.queue.pop(step).result()

    def close(self):
        self.pool.shutdown(cancel_futures=True)
