"""Training: noise and losses, decoys, what each stage trains, resuming (from checkpoints, packed checkpoints and the
exported files), workers, `train all` in chunks, and the import graph between training and export."""
import argparse
import os
import tempfile
import unittest

import numpy as np
import torch

from mav_training import checkpoints as C, data, losses as L, recipe as R, stages as S, world as W
from mav_training.layers import TemporalAttention, TemporalConv
from mav_training.stages import base as B, decoder as D
from mav_training.unet import SpaceTimeUNet, decoder_config, interpolator_config

torch.set_num_threads(1)


class MixedFrameNoiseTest(unittest.TestCase):
    def test_frames_are_correlated_by_rho_and_stay_standard_normal(self):
        g = torch.Generator().manual_seed(0)
        x = L.mixed_frame_noise(torch.randn(4, 3, 8, 32, 32, generator=g), torch.randn(4, 3, 1, 32, 32, generator=g),
                                0.5)
        self.assertAlmostEqual(x.mean().item(), 0.0, delta=0.02)
        self.assertAlmostEqual(x.var().item(), 1.0, delta=0.03)
        self.assertAlmostEqual((x[:, :, 1:] * x[:, :, :-1]).mean().item(), 0.5, delta=0.03)

    def test_only_the_video_decoder_records_correlated_noise_for_its_manifest(self):
        self.assertEqual(D.DecoderVideoStage.frame_correlation, R.FRAME_NOISE_CORRELATION)
        self.assertEqual(D.DecoderStage.frame_correlation, 0.0)
        self.assertEqual(S.InterpolatorStage.frame_correlation, 0.0)


class VideoFineTuningTest(unittest.TestCase):
    def test_video_decoder_trains_only_temporal_layers_and_fps_and_keeps_every_spatial_weight(self):
        stage = D.DecoderVideoStage.__new__(D.DecoderVideoStage)
        stage.model = SpaceTimeUNet(**decoder_config(16, tiny=True))
        trained = {id(p) for p in stage.params()}
        want = {id(p) for p in stage.model.temporal_parameters()} | {id(p) for p in stage.model.fps_mlp.parameters()}
        self.assertEqual(trained, want)
        before = {k: v.clone() for k, v in stage.model.state_dict().items()}
        opt = torch.optim.AdamW(stage.params(), lr=1e-2)
        x = torch.randn(1, 3, 4, 16, 16)
        out = stage.model(x, torch.tensor([500]), image_embed=torch.randn(1, 16), fps=torch.tensor([8.0]))
        out.square().mean().backward()
        opt.step()
        after = stage.model.state_dict()
        self.assertTrue(torch.equal(before["conv_in.weight"], after["conv_in.weight"]))
        self.assertTrue(torch.equal(before["image_proj.0.weight"], after["image_proj.0.weight"]))
        changed = [k for k in after if not torch.equal(before[k], after[k])]
        self.assertTrue(changed and all(".temporal." in k or k.startswith("fps_mlp") for k in changed), changed)
        # ↑F trains what D^t trains, its frame-skip embedding and conv_in (which reads the masked frames and mask)
        interp = S.InterpolatorStage.__new__(S.InterpolatorStage)
        interp.model = SpaceTimeUNet(**interpolator_config(16, tiny=True))
        names = {id(p): n for n, p in interp.model.named_parameters()}
        trained = {names[id(p)] for p in interp.params()}
        self.assertTrue({"conv_in.weight", "skip_mlp.0.weight", "fps_mlp.0.weight"} <= trained, trained)
        self.assertTrue(all(".temporal." in n or n.split(".")[0] in ("conv_in", "skip_mlp", "fps_mlp")
                            for n in trained), trained)
        self.assertFalse(interp.model.image_proj[0].weight.requires_grad)


class ShapeDecoyTest(unittest.TestCase):
    def test_a_decoy_changes_only_the_shape_or_facing_and_is_never_a_held_out_pair(self):
        rng = np.random.default_rng(0)
        refacings = 0
        for _ in range(300):
            sc = W.sample_scene(rng)
            d = data.shape_decoy(sc, rng)
            self.assertNotEqual((d["shape"], d["direction"]), (sc["shape"], sc["direction"]))
            refacings += d["shape"] == sc["shape"]
            self.assertFalse(W.is_held_out(d["colour"], d["shape"]))
            self.assertEqual({k: d[k] for k in ("colour", "background", "center", "radius")},
                             {k: sc[k] for k in ("colour", "background", "center", "radius")})
            self.assertEqual(d["direction"] is None, d["shape"] not in W.ORIENTED)
        self.assertGreater(refacings, 30)  # a third of the scenes are fish or arrows, half of their decoys re-face

    def test_decoys_feed_x_t_only_from_each_rows_threshold_and_the_target_stays_x0(self):

        class Probe(torch.nn.Module):
            x0_param = True

            def __init__(self):
                super().__init__()
                self.w = torch.nn.Parameter(torch.zeros(()))
                self.seen = None

            def forward(self, x_t, t, return_x0=True):
                self.seen = (x_t, t)
                return x_t * self.w  # x̂0 = 0: the loss is then the target's weighted square

        n = 1024
        x0, decoy = 2 * torch.ones(n, 1, 64, 64), -torch.ones(n, 1, 64, 64)
        start = torch.tensor([D.FACING_DECOY_T, D.DECOY_T] * (n // 2))  # refacing rows, reshaping rows
        probe = Probe()
        loss = L.diffusion_loss(probe, x0, torch.Generator().manual_seed(0), t_power=2.0, decoy=decoy,
                                decoy_from=start)
        x_t, t = probe.seen
        snr = L.AC[t] / (1 - L.AC[t])
        self.assertAlmostEqual(loss.item(), 4 * snr.clamp(1.0, L.GAMMA).mean().item(), places=4)
        # x_t = √ᾱ·source + √(1−ᾱ)·ε: over 4096 pixels the noise averages out and the mean's sign is the source's
        source = x_t.mean((1, 2, 3)) / L.AC[t].sqrt()
        clear = t <= 900
        self.assertTrue(torch.all(((source[clear] - 2).abs() < 0.5) | ((source[clear] + 1).abs() < 0.5)))
        from_decoy = (source < 0) & clear
        for rows, threshold in ((slice(0, None, 2), D.FACING_DECOY_T), (slice(1, None, 2), D.DECOY_T)):
            high = (t[rows] >= threshold) & clear[rows]
            self.assertEqual(int((from_decoy[rows] & ~high).sum()), 0)
            self.assertGreater(int(from_decoy[rows].sum()), 0.3 * int(high.sum()))
            self.assertLess(int(from_decoy[rows].sum()), 0.7 * int(high.sum()))
        # the facing rows take decoys below DECOY_T too, where D otherwise copied x_t's facing
        low = (t >= D.FACING_DECOY_T) & (t < D.DECOY_T)
        self.assertGreater(int((from_decoy[::2] & low[::2]).sum()), 0)

    def test_foreground_weight_puts_the_loss_on_the_object_and_its_decoy(self):
        scene = {"colour": "blue", "shape": "fish", "background": "white", "direction": "left", "radius": 0.15,
                 "center": (0.5, 0.5)}
        decoy = dict(scene, direction="right")
        img = torch.from_numpy(W.render(scene, 64))[None]
        dec = torch.from_numpy(W.render(decoy, 64))[None]
        w = L.foreground_weight(img, dec, [scene], D.FOREGROUND_WEIGHT)
        self.assertEqual(tuple(w.shape), (1, 1, 64, 64))
        self.assertAlmostEqual(w.mean().item(), 1.0, places=5)
        obj = (img - 1).abs().amax(1, keepdim=True) > 0.1  # white background is +1
        tail = ((dec - 1).abs().amax(1, keepdim=True) > 0.1) & ~obj
        self.assertGreater(int(tail.sum()), 0)
        self.assertAlmostEqual((w[obj].mean() / w[~obj & ~tail].mean()).item(), 1 + D.FOREGROUND_WEIGHT, places=4)
        self.assertAlmostEqual((w[tail].mean() / w[obj].mean()).item(), 1.0, places=5)

    def test_lr_decay_anneals_from_the_stage_rate_to_its_floor_over_the_run(self):
        self.assertAlmostEqual(B.decayed_lr(1e-3, 0.0, 0.1), 1e-3)
        self.assertAlmostEqual(B.decayed_lr(1e-3, 0.5, 0.1), 0.55e-3)
        self.assertAlmostEqual(B.decayed_lr(1e-3, 1.0, 0.1), 1e-4)
        self.assertAlmostEqual(B.decayed_lr(1e-3, 1.7, 0.1), 1e-4)
        stage = D.DecoderStage(argparse.Namespace(checkpoints=tempfile.mkdtemp(), device="cpu", batch_scale=1,
                                                  resume=False, minutes=None, steps=3, lr_decay=0.1))
        stage.batch = 1
        stage.run()
        # the last of the 3 steps ran at 2/3 of the run
        self.assertAlmostEqual(stage.opt.param_groups[0]["lr"], B.decayed_lr(R.LR["decoder"], 2 / 3, 0.1))

    def test_temporal_weight_counts_only_the_part_of_the_error_that_changes_over_frames(self):

        class Fixed(torch.nn.Module):
            """x̂0 = x0 + a given error, whatever x_t."""
            x0_param = True

            def __init__(self, x0, err):
                super().__init__()
                self.x0_hat = x0 + err
                self.device_probe = torch.nn.Parameter(torch.zeros(()))  # diffusion_loss reads the device off it

            def forward(self, x_t, t, return_x0=True):
                return self.x0_hat

        x0 = torch.randn(2, 3, 5, 8, 8)
        steady = torch.randn(2, 3, 1, 8, 8).expand(-1, -1, 5, -1, -1)
        changing = torch.randn(2, 3, 5, 8, 8)
        loss = lambda err, w: L.diffusion_loss(Fixed(x0, err), x0, torch.Generator().manual_seed(1),
                                               temporal_weight=w).item()
        self.assertAlmostEqual(loss(steady, 4.0), loss(steady, 0.0), places=5)  # a still error is not reweighted
        dynamic = changing - changing.mean(2, keepdim=True)
        self.assertAlmostEqual(loss(dynamic, 4.0), 5 * loss(dynamic, 0.0), places=4)
        self.assertAlmostEqual(loss(steady + dynamic, 4.0), loss(steady, 0.0) + 5 * loss(dynamic, 0.0), places=4)

    def test_refacing_decoys_start_at_the_facing_threshold(self):
        stage = D.DecoderStage(argparse.Namespace(checkpoints="unused", device="cpu", batch_scale=4))
        imgs, _, start, pixel_weight = stage.data(0, 0.0)
        self.assertLessEqual(set(start.tolist()), {D.FACING_DECOY_T, D.DECOY_T})
        self.assertIn(D.FACING_DECOY_T, start.tolist())
        self.assertEqual(pixel_weight.shape, (imgs.shape[0], 1) + imgs.shape[2:])


class VideoDecoderResumeTest(unittest.TestCase):
    def test_a_resumed_video_decoder_takes_its_spatial_weights_from_the_current_decoder(self):
        args = argparse.Namespace(checkpoints=tempfile.mkdtemp(), device="cpu", batch_scale=1, resume=False,
                                  minutes=None, steps=1)
        for cls in (D.DecoderStage, D.DecoderVideoStage):
            stage = cls(args)
            stage.batch, stage.frames = 1, 2
            stage.run()
        # D trains on after D^t was made: its EMA moves
        d = torch.load(C.ckpt_path(args.checkpoints, "decoder"))
        d["ema"] = {k: v + 0.01 if v.is_floating_point() else v for k, v in d["ema"].items()}
        torch.save(d, C.ckpt_path(args.checkpoints, "decoder"))
        before = torch.load(C.ckpt_path(args.checkpoints, "decoder_video"))["ema"]
        stage = D.DecoderVideoStage(argparse.Namespace(**{**vars(args), "resume": True, "steps": 2}))
        stage.batch, stage.frames = 1, 2
        stage.run()
        after = torch.load(C.ckpt_path(args.checkpoints, "decoder_video"))["ema"]
        temporal = [k for k in after if ".temporal." in k or k.startswith("fps_mlp")]
        spatial = [k for k in after if k not in temporal and after[k].is_floating_point()]
        self.assertTrue(all(torch.equal(after[k], d["ema"][k]) for k in spatial))
        self.assertTrue(any(not torch.equal(after[k], d["ema"][k]) for k in temporal))
        self.assertTrue(any(not torch.equal(after[k], before[k]) for k in temporal))  # and they trained on
        # the checkpoint keeps the trained kernels; its record (the manifest's) carries the blend export applies
        record = C.stage_record(args.checkpoints, "decoder_video")
        self.assertEqual(record["temporal_conv_blend"], R.TEMPORAL_CONV_BLEND)
        self.assertNotIn("temporal_conv_blend", C.stage_record(args.checkpoints, "decoder"))
        # D^t trained on frame noise at ρ and is sampled at the larger sampling ρ; D alone from independent frames
        self.assertEqual(C.stage_record(args.checkpoints, "decoder_video")["frame_noise_correlation"],
                         R.FRAME_NOISE_CORRELATION)
        for stage, rho in (("decoder_video", R.SAMPLING_FRAME_NOISE_CORRELATION), ("decoder", 0.0)):
            extra = C.load_for_export(args.checkpoints, stage)[-1]
            self.assertEqual(extra["decoder"]["frame_noise_correlation"], rho)

    def test_a_video_decoder_resumed_from_its_exported_file_takes_the_current_decoders_spatial_weights(self):
        # a fresh checkout has no D^t checkpoint: D^t resumes from the model repository, while D may have trained on
        from unittest import mock
        args = argparse.Namespace(checkpoints=tempfile.mkdtemp(), device="cpu", batch_scale=1, resume=False,
                                  minutes=None, steps=1)
        stage = D.DecoderStage(args)
        stage.batch = 1
        stage.run()
        d = torch.load(C.ckpt_path(args.checkpoints, "decoder"))["ema"]
        stage = D.DecoderVideoStage(argparse.Namespace(**{**vars(args), "resume": True}))
        stage.build()
        stage.ema = B.EMA(stage.model)
        exported = {"steps": 7, "temporal_conv_blend": 0.5}
        with mock.patch.object(B.Stage, "load_exported", return_value=exported):  # stands in for the file's weights
            self.assertEqual(stage.load_exported(), exported)
        trainable = stage.trainable()
        spatial = [n for n, p in stage.model.named_parameters() if id(p) not in trainable]
        for model in (stage.model, stage.ema.model):
            state = model.state_dict()
            self.assertTrue(all(torch.equal(state[n], d[n]) for n in spatial))

    def test_a_fresh_video_decoder_starts_its_temporal_layers_at_the_identity_whatever_the_decoder_held(self):
        # a fresh checkout's D is the exported decoder, i.e. the last D^t: its temporal layers are trained
        m = R.make_decoder()
        with torch.no_grad():
            for p in m.parameters():
                p.add_(0.1)
        spatial = m.conv_in.weight.clone()
        D.fresh_temporal_layers(m)
        convs = [x.conv for x in m.modules() if isinstance(x, TemporalConv)]
        attns = [x for x in m.modules() if isinstance(x, TemporalAttention)]
        self.assertTrue(convs and attns)
        for c in convs:
            ident = torch.zeros_like(c.weight)
            torch.nn.init.dirac_(ident)
            self.assertTrue(torch.equal(c.weight, ident) and not c.bias.any())
        self.assertTrue(all(not a.out.weight.any() and not a.out.bias.any() for a in attns))
        self.assertTrue(torch.equal(m.conv_in.weight, spatial))


class PackedCheckpointTest(unittest.TestCase):
    def test_packed_checkpoint_is_ema_only_and_training_resumes_from_it(self):
        root, dest = tempfile.mkdtemp(), tempfile.mkdtemp()
        args = argparse.Namespace(checkpoints=root, device="cpu", batch_scale=1, resume=False, minutes=None, steps=2)
        stage = S.SrHighStage(args)
        stage.batch = 1
        stage.run()
        C.pack(root, dest)
        packed = torch.load(C.ckpt_path(dest, "sr_high"))
        self.assertNotIn("opt", packed)
        self.assertNotIn("model", packed)
        self.assertEqual(packed["step"], 2)
        resumed = S.SrHighStage(argparse.Namespace(**{**vars(args), "checkpoints": dest, "resume": True, "steps": 3}))
        resumed.batch = 1
        resumed.run()
        self.assertEqual(resumed.step_n, 3)
        self.assertEqual(torch.load(C.ckpt_path(dest, "sr_high"))["step"], 3)


class PrefetchTest(unittest.TestCase):
    def test_batches_rendered_by_workers_equal_the_ones_rendered_in_the_loop(self):
        args = argparse.Namespace(checkpoints=tempfile.mkdtemp(), device="cpu", batch_scale=1, resume=False,
                                  minutes=None, steps=1, workers=2)
        stage = S.SrLowStage(args)
        stage.batch = 2
        pre = data.Prefetcher(stage, 2)
        try:
            for step in (0, 1, 7):
                for a, b in zip(pre.get(step, 0.5), stage.data(step, 0.5)):
                    self.assertTrue(torch.equal(a, b))
        finally:
            pre.close()
        self.assertFalse(torch.equal(stage.data(0, 0.5)[0], stage.data(1, 0.5)[0]))



class InterpolatorResumeTest(unittest.TestCase):
    def test_an_interpolator_resumed_from_its_exported_file_keeps_every_weight_of_that_file(self):
        # a fresh checkout has no checkpoint of ↑F: it resumes from models/interpolator (none of D^t's weights)
        from mav_training.graphs import restore_from_onnx
        args = argparse.Namespace(checkpoints=tempfile.mkdtemp(), device="cpu", batch_scale=1, resume=True)
        stage = S.InterpolatorStage(args)
        stage.build()
        stage.ema = B.EMA(stage.model)
        self.assertEqual(stage.load_exported()["steps"], stage.step_n)
        shipped = restore_from_onnx(R.make_interpolator(), "interpolator",
                                    os.path.join(C.exported_dir(C.MODELS_DIR, "interpolator"), "model.onnx"))
        for model in (stage.model, stage.ema.model):
            for k, v in shipped.state_dict().items():
                self.assertTrue(torch.equal(model.state_dict()[k], v), k)


class TrainAllTest(unittest.TestCase):
    """`train all` from scratch in chunks: stages in order, each to its target, resumed from checkpoints/ only."""

    def args(self, root, minutes=None):
        return argparse.Namespace(checkpoints=root, out=tempfile.mkdtemp(), minutes=minutes, plan=False,
                                  no_export=True, batch_scale=1, device="cpu", workers=0, threads=1, lr_decay=0.0,
                                  resume=False, steps=None)

    def test_a_run_stops_when_its_minutes_are_spent_and_the_next_goes_on_where_it_stopped(self):
        from unittest import mock
        from mav_training import phase_bias, train
        root = tempfile.mkdtemp()
        # SR^t_l's calibration after its run on one clip, not sixteen: the test is about runs in chunks
        with mock.patch.dict(R.TARGET_STEPS, {st: 1 for st in R.TARGET_STEPS}), mock.patch.object(phase_bias, "CLIPS", 1):
            train.train_all(self.args(root, minutes=0.0))  # no time: only the tokenizer, which takes seconds
            self.assertTrue(os.path.exists(train.tokenizer_file(root)))
            self.assertEqual([C.checkpoint_step(root, st) for st in R.STAGES[1:]], [0] * 7)
            train.train_all(self.args(root))
            self.assertEqual([C.checkpoint_step(root, st) for st in R.STAGES[1:]], [1] * 7)
            self.assertEqual(C.read_ckpt(root, "sr_low")["phase_bias"].shape, (3, 4, 4))  # measured once trained
            before = {st: os.path.getmtime(C.ckpt_path(root, st)) for st in R.STAGES[1:]}
        with mock.patch.dict(R.TARGET_STEPS, {**{st: 1 for st in R.TARGET_STEPS}, "sr_high": 2}):
            train.train_all(self.args(root))
        self.assertEqual(C.checkpoint_step(root, "sr_high"), 2)  # resumed at 1, not started again
        self.assertTrue(all(os.path.getmtime(C.ckpt_path(root, st)) == before[st] for st in R.STAGES[1:-1]))


class ImportGraphTest(unittest.TestCase):
    def test_no_module_of_the_package_imports_itself_back_and_export_never_imports_train(self):
        import ast
        import mav_training
        top = os.path.dirname(mav_training.__file__)
        modules = {}
        for folder, _, files in os.walk(top):
            for f in files:
                if f.endswith(".py"):
                    rel = os.path.relpath(os.path.join(folder, f), os.path.dirname(top))[:-3].replace(os.sep, ".")
                    modules[rel[:-len(".__init__")] if rel.endswith(".__init__") else rel] = os.path.join(folder, f)

        def imports(name, path):
            package = name if path.endswith("__init__.py") else name.rsplit(".", 1)[0]
            for node in ast.walk(ast.parse(open(path).read())):  # function-level imports count too
                if isinstance(node, ast.ImportFrom):
                    base = package.rsplit(".", node.level - 1)[0] if node.level else ""
                    target = ".".join(p for p in (base, node.module) if p)
                    for alias in node.names:
                        yield f"{target}.{alias.name}" if f"{target}.{alias.name}" in modules else target
                elif isinstance(node, ast.Import):
                    yield from (a.name for a in node.names)

        graph = {m: {i for i in imports(m, p) if i in modules and i != m} for m, p in modules.items()}

        def reach(start):
            seen, todo = set(), [start]
            while todo:
                for n in graph[todo.pop()] - seen:
                    seen.add(n)
                    todo.append(n)
            return seen

        self.assertNotIn("mav_training.train", reach("mav_training.export"))
        self.assertIn("mav_training.export", reach("mav_training.train"))
        cycles = [m for m in graph if m in reach(m)]
        self.assertEqual(cycles, [])


if __name__ == "__main__":
    unittest.main()
