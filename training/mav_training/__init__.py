"""Make-A-Video on a synthetic shapes world: data, tokenizer, models, samplers, training and ONNX export."""
