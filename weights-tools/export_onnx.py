#!/usr/bin/env python3
# ONNX export of a torchvision network from a state dict in safetensors, for the benchmark's ONNX
# Runtime Web contenders (bench/onnx.ts writes the bench's seeded weights — the very arrays Graft
# loads — and calls this once per model row; the .onnx files are cached under bench/results/cache/):
#
#   /usr/bin/python3 weights-tools/export_onnx.py STATE.safetensors ARCH BATCH SIZE OUT.onnx [--features]
#   /usr/bin/python3 weights-tools/export_onnx.py --check     # only whether this python can export
#
# ARCH: resnet18 | resnet50 | vgg16. --features: VGG16 without its classifier (the pooled, flattened
# features [N, 25088], as Graft's includeTop: false). The graph has one input `x` [BATCH, 3, SIZE,
# SIZE] (NCHW, fixed shape) and one output `y`; the model is in eval mode (running statistics).
# The state dict is parsed with json + numpy (no safetensors package) and loaded strictly.
#
# Its last stdout line is one JSON object: {"ok": true, ...} after writing OUT, or {"skip": reason}
# (exit code 3) when this python lacks torch, torchvision or onnx: the bench shows that reason in
# its table instead of failing. Any other problem is an error (exit code 1).
import json
import os
import struct
import sys

SKIP_EXIT = 3


def skip(reason):
    print(json.dumps({'skip': reason}))
    sys.exit(SKIP_EXIT)


def load_safetensors(path, np, torch):
    dtypes = {'F32': np.float32, 'I64': np.int64, 'I32': np.int32}
    with open(path, 'rb') as f:
        raw = f.read()
    (n,) = struct.unpack('<Q', raw[:8])
    header = json.loads(raw[8:8 + n])
    header.pop('__metadata__', None)
    data = raw[8 + n:]
    out = {}
    for name, info in header.items():
        begin, end = info['data_offsets']
        array = np.frombuffer(data[begin:end], dtype=np.dtype(dtypes[info['dtype']]).newbyteorder('<'))
        out[name] = torch.from_numpy(array.reshape(info['shape']).copy())
    return out


def AdaptiveAvgPoolAsMatmul(torch, h, w, out):
    """torch's AdaptiveAvgPool2d(out) on a fixed [.., h, w] input: bin i averages rows
    floor(i*h/out) .. ceil((i+1)*h/out) - 1 (and the same for columns), as P_h @ x @ P_w^T."""

    def bins(n):
        p = torch.zeros(out, n)
        for i in range(out):
            lo, hi = (i * n) // out, -((-(i + 1) * n) // out)
            p[i, lo:hi] = 1.0 / (hi - lo)
        return p

    class Pool(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer('ph', bins(h))
            self.register_buffer('pwt', bins(w).t().contiguous())

        def forward(self, x):
            return torch.matmul(torch.matmul(self.ph, x), self.pwt)

    pool = Pool()
    return pool


def check_imports():
    for module, debian in (('numpy', 'python3-numpy'), ('torch', 'python3-torch'), ('torchvision', 'python3-torchvision'), ('onnx', 'python3-onnx')):
        try:
            __import__(module)
        except ImportError:
            skip(f'{sys.executable} cannot import {module} (Debian: apt-get install {debian})')


def main(argv):
    if argv == ['--check']:
        # Only whether this python can export (the bench asks once before writing any weights).
        check_imports()
        print(json.dumps({'ok': True}))
        return 0
    args = [a for a in argv if not a.startswith('--')]
    features = '--features' in argv
    if len(args) != 5 or args[1] not in ('resnet18', 'resnet50', 'vgg16') or (features and args[1] != 'vgg16'):
        print('usage: export_onnx.py STATE.safetensors resnet18|resnet50|vgg16 BATCH SIZE OUT.onnx [--features (vgg16 only)]\n'
              '       export_onnx.py --check', file=sys.stderr)
        return 2
    state, arch, batch, size, out = args[0], args[1], int(args[2]), int(args[3]), args[4]
    check_imports()
    import numpy as np
    import torch
    import torchvision

    torch.manual_seed(0)
    model = getattr(torchvision.models, arch)()
    if features:
        model.classifier = torch.nn.Identity()
    sd = load_safetensors(state, np, torch)
    model.load_state_dict(sd, strict=True)
    model.eval()
    x = torch.zeros(batch, 3, size, size)
    if arch == 'vgg16':
        # torch 1.13 exports AdaptiveAvgPool2d(7) only when 7 divides the feature map (224 px: 7x7,
        # the identity); smaller inputs get the same bins as two constant averaging matrices.
        with torch.no_grad():
            h, w = model.features(x).shape[-2:]
        if h % 7 or w % 7:
            model.avgpool = AdaptiveAvgPoolAsMatmul(torch, h, w, 7)
    tmp = out + '.tmp'
    with torch.no_grad():
        torch.onnx.export(model, x, tmp, input_names=['x'], output_names=['y'], opset_version=13, do_constant_folding=True)
    import onnx

    onnx.checker.check_model(tmp)
    os.replace(tmp, out)
    print(json.dumps({'ok': True, 'torch': torch.__version__, 'onnx': onnx.__version__, 'bytes': os.path.getsize(out)}))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
