"""Shipping a trained model: file formats (ONNX, exported programs), int8 quantization,
pruning, a short fine-tune, and the measurements that compare them (tunelab.export)."""
