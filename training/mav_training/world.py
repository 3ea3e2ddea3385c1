"""Synthetic world: one object on a solid background, deterministic by seed.

Objects: plain shapes (circle, square, triangle, star) and oriented objects (fish facing left/right, arrow
pointing left/right/up/down), in six saturated colours on a black, white or gray background. Images are drawn
from signed distance functions with analytic anti-aliasing, at any size (64, 256, 768 px), so the same scene
renders identically (up to sampling) at every resolution: that is what the super-resolution models learn from.

Videos have constant motion in continuous time: position(t) = p0 + v·t with |v| in frame-widths per second, so
sampling at a lower fps covers more pixels per frame while the speed per second stays the same. Oriented objects
move the way they face; plain shapes move in a random direction. The start point is chosen so that the whole clip
stays in frame.
"""
import math

import numpy as np

COLOURS = {
    "red": (230, 25, 25), "orange": (255, 140, 0), "yellow": (245, 225, 20),
    "green": (30, 190, 40), "blue": (30, 70, 235), "purple": (150, 40, 200),
}
BACKGROUNDS = {"black": (0, 0, 0), "white": (255, 255, 255), "gray": (128, 128, 128)}
PLAIN_SHAPES = ["circle", "square", "triangle", "star"]
ORIENTED = {"fish": ["left", "right"], "arrow": ["left", "right", "up", "down"]}
SHAPES = PLAIN_SHAPES + list(ORIENTED)
DIRECTION_VECTORS = {"left": (-1.0, 0.0), "right": (1.0, 0.0), "up": (0.0, -1.0), "down": (0.0, 1.0)}

# colour-shape pairs that appear in no stage's training data (captions, images, clips, SR renders): zero-shot tests.
# The shipped video stages (D^t, ↑F, SR) trained before 2026-12-06 on clips that contained them.
HELD_OUT = [("red", "star"), ("blue", "triangle"), ("green", "fish"), ("purple", "square")]

# motion: speed in frame-widths per second; fps range for training clips (all combinations keep the object in frame)
SPEED_RANGE = (0.05, 0.12)
FPS_RANGE = (4, 30)
SIZE_RANGE = (0.14, 0.22)  # object radius as a fraction of the frame width


def is_held_out(colour, shape):
    return (colour, shape) in HELD_OUT


def sample_scene(rng, allow_held_out=False):
    """A random scene description: colour, shape, background, direction, radius, centre (fractions of the width)."""
    while True:
        colour = rng.choice(list(COLOURS))
        shape = rng.choice(SHAPES)
        if allow_held_out or not is_held_out(colour, shape):
            break
    bg = rng.choice(list(BACKGROUNDS))
    direction = rng.choice(ORIENTED[shape]) if shape in ORIENTED else None
    radius = rng.uniform(*SIZE_RANGE)
    cx, cy = rng.uniform(radius + 0.02, 1 - radius - 0.02, size=2)
    return {"colour": colour, "shape": shape, "background": bg, "direction": direction,
            "radius": float(radius), "center": (float(cx), float(cy))}


def caption(scene, rng):
    """One caption out of several templates; oriented objects get an action word."""
    c, s, bg, d = scene["colour"], scene["shape"], scene["background"], scene["direction"]
    if s == "fish":
        templates = [f"a {c} fish swimming {d}", f"a {c} fish facing {d}", f"{c} fish swimming {d}",
                     f"a {c} fish swimming {d} on a {bg} background", f"a {c} fish"]
    elif s == "arrow":
        templates = [f"a {c} arrow pointing {d}", f"{c} arrow pointing {d}",
                     f"a {c} arrow pointing {d} on a {bg} background", f"an arrow pointing {d}, {c}"]
    else:
        templates = [f"a {c} {s}", f"a {c} {s} on a {bg} background", f"{c} {s}", f"a {s} that is {c}",
                     f"a {c} {s} on {bg}"]
    return templates[rng.integers(len(templates))]


# ---- signed distance functions, coordinates in units of the frame width, object centred at 0, radius r ----

def _sd_box(px, py, hx, hy):
    qx, qy = np.abs(px) - hx, np.abs(py) - hy
    return np.hypot(np.maximum(qx, 0), np.maximum(qy, 0)) + np.minimum(np.maximum(qx, qy), 0)


def _sd_triangle_up(px, py, r):
    """Equilateral triangle with circumradius r pointing up (screen y grows downward)."""
    k = math.sqrt(3.0)
    y = -py  # up is negative screen y
    x = np.abs(px) - r * k / 2
    yy = y + r / 2
    m = x + k * yy > 0
    x2 = np.where(m, (x - k * yy) / 2, x)
    y2 = np.where(m, (-k * x - yy) / 2, yy)
    x2 = x2 - np.clip(x2, -r * k, 0)
    return -np.hypot(x2, y2) * np.sign(y2)


def _sd_triangle_dir(px, py, r, direction):
    """Triangle pointing in a direction (left/right/up/down)."""
    if direction == "up":
        return _sd_triangle_up(px, py, r)
    if direction == "down":
        return _sd_triangle_up(px, -py, r)
    if direction == "right":
        return _sd_triangle_up(py, -px, r)
    return _sd_triangle_up(py, px, r)


def _sd_star(px, py, r):
    """Five-pointed star (approximate distance from a polar profile, exact enough for anti-aliasing)."""
    ang = np.arctan2(px, -py)
    rad = np.hypot(px, py)
    seg = 2 * math.pi / 5
    a = np.mod(ang + seg / 2, seg) - seg / 2  # angle within a spike, 0 at the tip
    inner = 0.45 * r
    # straight edges between tip (r, 0) and valley (inner, seg/2): radius of the edge at angle a
    t = np.abs(a) / (seg / 2)
    tip = np.array([r, 0.0])
    val = np.array([inner * math.cos(seg / 2), inner * math.sin(seg / 2)])
    # intersect ray at angle |a| with segment tip-val
    dx, dy = val[0] - tip[0], val[1] - tip[1]
    ca, sa = np.cos(np.abs(a)), np.sin(np.abs(a))
    s = (tip[0] * sa - tip[1] * ca) / (dy * ca - dx * sa + 1e-12)
    edge = np.hypot(tip[0] + s * dx, tip[1] + s * dy)
    del t
    return (rad - edge) * 0.6


def _sd_fish(px, py, r, direction):
    """A fish: elliptical body and a triangular tail, facing left or right."""
    if direction == "left":
        px = -px
    bx, by = px - 0.15 * r, py
    a, b = 0.8 * r, 0.48 * r
    body = (np.hypot(bx / a, by / b) - 1.0) * min(a, b)
    tail = _sd_triangle_dir(px + 0.78 * r, py, 0.42 * r, "right")
    eye = np.hypot(px - 0.55 * r, py + 0.12 * r) - 0.08 * r
    return np.maximum(np.minimum(body, tail), -eye)


def _sd_arrow(px, py, r, direction):
    """An arrow: shaft plus head, pointing left/right/up/down."""
    if direction == "left":
        px = -px
    elif direction == "up":
        px, py = -py, px
    elif direction == "down":
        px, py = py, px
    shaft = _sd_box(px + 0.3 * r, py, 0.6 * r, 0.18 * r)
    head = _sd_triangle_dir(px - 0.45 * r, py, 0.55 * r, "right")
    return np.minimum(shaft, head)


def shape_sdf(shape, px, py, r, direction=None):
    if shape == "circle":
        return np.hypot(px, py) - r
    if shape == "square":
        h = r * 0.8
        return _sd_box(px, py, h, h)
    if shape == "triangle":
        return _sd_triangle_up(px, py - 0.15 * r, r * 1.05)
    if shape == "star":
        return _sd_star(px, py, r * 1.1)
    if shape == "fish":
        return _sd_fish(px, py, r, direction)
    if shape == "arrow":
        return _sd_arrow(px, py, r, direction)
    raise ValueError(f"unknown shape '{shape}'")


def unit_rgb(rgb):
    """8-bit RGB → the [-1, 1] values images are rendered in."""
    return np.array(rgb, dtype=np.float64) / 127.5 - 1


def render(scene, size, center=None, window=None):
    """Render a scene to float32 [3, size, size] in [-1, 1], anti-aliased (one-pixel coverage ramp).

    window=(x0, y0, w, h) renders only that crop of the size×size frame (SR training on random crops)."""
    cx, cy = scene["center"] if center is None else center
    x0, y0, ww, hh = window if window is not None else (0, 0, size, size)
    px = (np.arange(x0, x0 + ww, dtype=np.float64) + 0.5)[None, :] / size - cx
    py = (np.arange(y0, y0 + hh, dtype=np.float64) + 0.5)[:, None] / size - cy
    d = shape_sdf(scene["shape"], px, py, scene["radius"], scene["direction"])
    cover = np.clip(0.5 - d * size, 0.0, 1.0)
    fg = unit_rgb(COLOURS[scene["colour"]])[:, None, None]
    bg = unit_rgb(BACKGROUNDS[scene["background"]])[:, None, None]
    img = bg * (1 - cover) + fg * cover
    return img.astype(np.float32)


def sample_motion(scene, rng, frames, fps):
    """Velocity (frame-widths per second) and a start centre so the clip of `frames` at `fps` stays in frame."""
    speed = rng.uniform(*SPEED_RANGE)
    if scene["direction"] is not None:
        vx, vy = DIRECTION_VECTORS[scene["direction"]]
    else:
        ang = rng.uniform(0, 2 * math.pi)
        vx, vy = math.cos(ang), math.sin(ang)
    duration = (frames - 1) / float(fps)
    r = scene["radius"] + 0.02
    start = []
    for v in (vx * speed, vy * speed):
        lo = r - min(0.0, v * duration)
        hi = 1 - r - max(0.0, v * duration)
        if hi < lo:  # too long a clip for this speed (fps below FPS_RANGE): centre the path
            lo = hi = 0.5 - v * duration / 2
        start.append(rng.uniform(lo, hi))
    return {"velocity": (vx * speed, vy * speed), "start": tuple(start), "speed": speed}


def centre_at(motion, time_s):
    return (motion["start"][0] + motion["velocity"][0] * time_s, motion["start"][1] + motion["velocity"][1] * time_s)


def render_video(scene, motion, frames, fps, size, window=None):
    """float32 [3, frames, size, size] (or the window's h, w): frame i shows the object at time i / fps."""
    h, w = (size, size) if window is None else (window[3], window[2])
    out = np.empty((3, frames, h, w), dtype=np.float32)
    for i in range(frames):
        out[:, i] = render(scene, size, centre_at(motion, i / float(fps)), window)
    return out


def caption_attributes(text):
    """What a caption says: {colour, shape, background, direction} (absent keys are unconstrained)."""
    words = set(text.lower().replace(",", " ").split())
    out = {}
    for key, vocab in (("colour", COLOURS), ("shape", SHAPES), ("background", BACKGROUNDS),
                       ("direction", DIRECTION_VECTORS)):
        hit = [w for w in vocab if w in words]
        if hit:
            out[key] = hit[0]
    return out


def consistent(attrs, scene):
    return all(scene[k] == v for k, v in attrs.items())


class World:
    """Deterministic generator: the same seed and index always give the same sample."""

    def __init__(self, seed=0):
        self.seed = seed

    def rng(self, index, stream=0):
        return np.random.default_rng([self.seed, stream, index])

    def image_pair(self, index, size=64, allow_held_out=False):
        """(image [3,size,size], caption, scene) for a labelled image."""
        rng = self.rng(index, 1)
        scene = sample_scene(rng, allow_held_out)
        return render(scene, size), caption(scene, rng), scene

    def video(self, index, frames=16, fps=None, size=64, allow_held_out=False):
        """(video [3,F,size,size], fps, scene, motion) for an unlabelled clip; fps drawn from FPS_RANGE if None."""
        rng = self.rng(index, 2)
        scene = sample_scene(rng, allow_held_out)
        if fps is None:
            fps = float(rng.integers(FPS_RANGE[0], FPS_RANGE[1] + 1))
        motion = sample_motion(scene, rng, frames, fps)
        return render_video(scene, motion, frames, fps, size), fps, scene, motion


def all_captions(seed=0, count=20000):
    """The caption corpus (the tokenizer's training text); held-out pairs never appear."""
    w = World(seed)
    out = []
    for i in range(count):
        rng = w.rng(i, 1)
        scene = sample_scene(rng)
        out.append(caption(scene, rng))
    return out
