"""Training resumes from the shipped ONNX files: restore_from_onnx gives back exactly the exported weights, from
name-preserving exports and from the constant-folded exports of models/*/1."""
import os
import tempfile
import unittest

import torch

from mav_training import export as X
from mav_training.clip import CLIP
from mav_training.unet import SpaceTimeUNet, decoder_config, sr_low_config

torch.set_num_threads(1)


def jittered(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.05)
    return model.eval()


def assert_same_weights(case, a, b):
    sa, sb = a.state_dict(), b.state_dict()
    case.assertEqual(sa.keys(), sb.keys())
    for k in sa:
        case.assertTrue(torch.equal(sa[k], sb[k]), k)


class RestoreFromOnnxTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp()

    def export(self, name, graph, inputs, fold):
        path = os.path.join(self.dir, f"{name}-{fold}.onnx")
        ins, outs = X.contract(name, 16)
        X.onnx_export(graph.eval(), tuple(inputs[n] for n, _, _ in ins), path, ins, outs, keep_names=not fold)
        return path

    def test_every_parameter_comes_back_from_a_name_preserving_export(self):
        torch.manual_seed(0)
        unet = jittered(SpaceTimeUNet(**decoder_config(16, tiny=True)), 1)
        path = self.export("decoder", X.DecoderGraph(unet), X.parity_inputs("decoder", 16, None), fold=False)
        torch.manual_seed(1)
        assert_same_weights(self, X.restore_from_onnx(SpaceTimeUNet(**decoder_config(16, tiny=True)), "decoder",
                                                      path), unet)

    def test_parameters_of_equal_value_keep_their_own_names(self):
        """An untrained D^t: its temporal convs are all the identity and many biases are zero."""
        torch.manual_seed(0)
        unet = SpaceTimeUNet(**decoder_config(16, tiny=True)).eval()
        path = self.export("decoder", X.DecoderGraph(unet), X.parity_inputs("decoder", 16, None), fold=False)
        fresh = jittered(SpaceTimeUNet(**decoder_config(16, tiny=True)), 4)
        assert_same_weights(self, X.restore_from_onnx(fresh, "decoder", path), unet)

    def test_folded_group_norms_and_matmuls_are_matched_in_call_order(self):
        torch.manual_seed(0)
        unet = jittered(SpaceTimeUNet(**sr_low_config(tiny=True)), 2)
        path = self.export("sr_low", X.SuperResGraph(unet), X.parity_inputs("sr_low", 16, None), fold=True)
        fresh = SpaceTimeUNet(**sr_low_config(tiny=True))
        assert_same_weights(self, X.restore_from_onnx(fresh, "sr_low", path), unet)

    def test_clip_towers_come_back_from_their_two_files(self):
        clip = CLIP(40, 16)
        clip.text = clip.text.__class__(40, 16, width=32, layers=1, heads=2)
        clip.image = clip.image.__class__(16, channels=(8, 16))
        jittered(clip, 3)
        image = self.export("image_encoder", X.ImageEncoderGraph(clip.image),
                            X.parity_inputs("image_encoder", 16, None), fold=False)
        fresh = clip.image.__class__(16, channels=(8, 16))
        assert_same_weights(self, X.restore_from_onnx(fresh, "image_encoder", image), clip.image)

    def test_a_file_missing_parameters_is_refused_naming_them(self):
        unet = SpaceTimeUNet(**decoder_config(16, tiny=True))
        path = self.export("decoder", X.DecoderGraph(unet), X.parity_inputs("decoder", 16, None), fold=False)
        other = SpaceTimeUNet(**dict(decoder_config(16, tiny=True), channels=(8, 16, 16)))
        with self.assertRaises(ValueError):
            X.restore_from_onnx(other, "decoder", path)


if __name__ == "__main__":
    unittest.main()


class PackedCheckpointTest(unittest.TestCase):
    def test_packed_checkpoint_is_ema_only_and_training_resumes_from_it(self):
        import argparse
        from mav_training import train as T
        root, dest = tempfile.mkdtemp(), tempfile.mkdtemp()
        args = argparse.Namespace(checkpoints=root, device="cpu", batch_scale=1, resume=False, minutes=None, steps=2)
        stage = T.SrHighStage(args)
        stage.batch = 1
        stage.run()
        T.pack(root, dest)
        packed = torch.load(T.ckpt_path(dest, "sr_high"))
        self.assertNotIn("opt", packed)
        self.assertNotIn("model", packed)
        self.assertEqual(packed["step"], 2)
        resumed = T.SrHighStage(argparse.Namespace(**{**vars(args), "checkpoints": dest, "resume": True, "steps": 3}))
        resumed.batch = 1
        resumed.run()
        self.assertEqual(resumed.step_n, 3)
        self.assertEqual(torch.load(T.ckpt_path(dest, "sr_high"))["step"], 3)


class PrefetchTest(unittest.TestCase):
    def test_batches_rendered_by_workers_equal_the_ones_rendered_in_the_loop(self):
        import argparse
        from mav_training import train as T
        args = argparse.Namespace(checkpoints=tempfile.mkdtemp(), device="cpu", batch_scale=1, resume=False,
                                  minutes=None, steps=1, workers=2)
        stage = T.SrLowStage(args)
        stage.batch = 2
        pre = T.Prefetcher(stage, 2)
        try:
            for step in (0, 1, 7):
                for a, b in zip(pre.get(step, 0.5), stage.data(step, 0.5)):
                    self.assertTrue(torch.equal(a, b))
        finally:
            pre.close()
        self.assertFalse(torch.equal(stage.data(0, 0.5)[0], stage.data(1, 0.5)[0]))
