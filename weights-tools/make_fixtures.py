#!/usr/bin/python3
"""Generates the small weight-file fixtures in tests/fixtures/weights/ (GENERATED FILES: re-run by hand).

    /usr/bin/python3 weights-tools/make_fixtures.py

Needs Debian's python3-torch, python3-numpy and python3-h5py (use /usr/bin/python3: a pyenv
`python3` on PATH may lack them). Every `*.expected.*` file holds what the TS readers must produce,
computed here with numpy/torch independently of the TS code:

  tiny.safetensors        every dtype the reader decodes (F32 F16 BF16 F64 I64 I32 U8), written
                          the way the safetensors library lays files out (8-byte header length,
                          space-padded JSON header, data blocks in header order)
  tiny.pth                torch.save (zip) of an OrderedDict: float/half/bfloat16/double/long/int
  tiny-deflate.pth        storages, a Parameter, views that share one storage (transpose, row
                          slice with an offset, column stride 2); the same archive re-zipped
                          with deflate
  checkpoint.pth          {'epoch', 'arch', 'state_dict': ...}: the usual training checkpoint
  module.pth              a pickled nn.Module (not a state dict): the reader must refuse it
  truncated-storage.pth   tiny.pth with the storage of 'conv.weight' cut to 10 floats
  tiny.expected.json      name -> {shape, values} for tiny.safetensors and tiny.pth
  keras-vgg16-k1.h5       keras-applications VGG16 layout, Keras 1 names (block1_conv1_W_1:0),
  keras-vgg16-k2.h5       and Keras 2 names (block1_conv1/kernel:0); reduced widths, 7x7 flatten
  keras-resnet50.h5       keras-applications ResNet50 layout (conv1_W:0, bn_conv1_running_std:0,
                          res2a_branch2a_W:0, ...), full depth [3, 4, 6, 3], reduced widths
  keras-tf-resnet.h5      tf.keras ResNet names (conv2_block1_1_conv/kernel:0), one block per stage,
                          in model.save layout (/model_weights + model_config with BN epsilons)
  keras-unknown.h5        a Keras file of no supported architecture (one Dense layer)
  keras-*.expected.safetensors   the same weights under torchvision names and layouts
"""
import io
import json
import os
import struct
import zipfile
from collections import OrderedDict

import h5py
import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests', 'fixtures', 'weights')
rng = np.random.default_rng(1234)


def rand(*shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


# --- safetensors, written by hand (the `safetensors` python package is not assumed) -----------------

ST_DTYPES = {np.float32: 'F32', np.float16: 'F16', np.float64: 'F64', np.int64: 'I64', np.int32: 'I32', np.uint8: 'U8'}


def write_safetensors(path, tensors, metadata=None):
    """tensors: name -> (dtype string, shape, raw little-endian bytes)."""
    header = {}
    blobs = []
    offset = 0
    if metadata:
        header['__metadata__'] = metadata
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {'dtype': dtype, 'shape': list(shape), 'data_offsets': [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(',', ':')).encode()
    text += b' ' * (-len(text) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def np_entry(a):
    a = np.require(a, requirements='C')  # (ascontiguousarray would turn a 0-d array into 1-d)
    return (ST_DTYPES[a.dtype.type], a.shape, a.astype(a.dtype.newbyteorder('<')).tobytes())


def expected_entry(values, shape):
    """What the reader must return: floats of any width as float32 values, integers as they are."""
    values = np.asarray(values)
    if values.dtype.kind == 'f':
        values = values.astype(np.float32)
    return {'shape': list(shape), 'values': [float(v) for v in values.astype(np.float64).ravel()]}


def make_tiny_safetensors(expected):
    bf16 = torch.tensor([1.5, -2.25, 3.0e38, 1.0e-3], dtype=torch.bfloat16)
    f16 = np.array([0.5, -0.0, 65504.0, 6.0e-8, -3.140625, 1.0e-4], dtype=np.float16)
    entries = OrderedDict()
    entries['a.f32'] = np_entry(rand(2, 3))
    entries['b.f16'] = np_entry(f16)
    entries['c.bf16'] = ('BF16', [2, 2], bf16.view(torch.int16).numpy().astype('<i2').tobytes())
    entries['d.f64'] = np_entry(rng.standard_normal((2, 2)))
    entries['e.i64'] = np_entry(np.array(7, dtype=np.int64))
    entries['f.i64'] = np_entry(np.array([-5, 0, 2147483647], dtype=np.int64))
    entries['g.i32'] = np_entry(np.array([[1, -2], [3, -4]], dtype=np.int32))
    entries['h.u8'] = np_entry(np.array([0, 7, 255], dtype=np.uint8))
    entries['i.empty'] = np_entry(np.zeros((0, 3), dtype=np.float32))
    write_safetensors(os.path.join(OUT, 'tiny.safetensors'), entries, {'format': 'pt', 'note': 'fixture'})
    out = {}
    for name, (dtype, shape, raw) in entries.items():
        if dtype == 'BF16':
            values = bf16.float().numpy()
        else:
            np_type = {v: k for k, v in ST_DTYPES.items()}[dtype]
            values = np.frombuffer(raw, dtype=np.dtype(np_type).newbyteorder('<'))
        out[name] = {**expected_entry(values, shape), 'dtype': dtype}
    expected['safetensors'] = out


def make_tiny_pth(expected):
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4) * 0.5 - 2
    sd = OrderedDict()
    sd['conv.weight'] = torch.from_numpy(rand(2, 3, 2, 2))
    sd['bn.running_mean'] = torch.from_numpy(rand(3))
    sd['bn.num_batches_tracked'] = torch.tensor(5)
    sd['half'] = torch.tensor([0.5, -1.25, 65504.0, 6.0e-8, 3.0], dtype=torch.float16)
    sd['bfloat'] = torch.tensor([1.5, -2.25, 1.0e-3], dtype=torch.bfloat16)
    sd['double'] = torch.tensor([1.0 / 3.0, -2.0e10], dtype=torch.float64)
    sd['long'] = torch.tensor([-3, 0, 2147483647], dtype=torch.int64)
    sd['int'] = torch.tensor([[1, -2, 3]], dtype=torch.int32)
    sd['param'] = torch.nn.Parameter(torch.from_numpy(rand(2, 2)))
    sd['base'] = base
    sd['transposed'] = base.t()            # strides (1, 4) over base's storage
    sd['rows'] = base[1:]                  # storage offset 4
    sd['every_other_column'] = base[:, ::2]  # strides (4, 2)
    path = os.path.join(OUT, 'tiny.pth')
    torch.save(sd, path)
    out = {}
    for name, t in sd.items():
        t = t.detach()
        out[name] = expected_entry(t.float().numpy() if t.is_floating_point() else t.numpy(), t.shape)
    expected['pth'] = out

    # The same archive with every entry deflated (torch writes them stored).
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(os.path.join(OUT, 'tiny-deflate.pth'), 'w', zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))

    # One storage cut short (the tensor 'conv.weight' needs 24 floats, the entry holds 10).
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(os.path.join(OUT, 'truncated-storage.pth'), 'w') as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            dst.writestr(info.filename, data[:40] if info.filename.endswith('/data/0') else data)

    small = OrderedDict([('fc.weight', torch.from_numpy(rand(2, 3))), ('fc.bias', torch.from_numpy(rand(2)))])
    torch.save({'epoch': 3, 'arch': 'tiny', 'best_acc1': 0.5, 'state_dict': small}, os.path.join(OUT, 'checkpoint.pth'))
    expected['checkpoint'] = {k: expected_entry(v.numpy(), v.shape) for k, v in small.items()}
    torch.save(torch.nn.Linear(2, 2), os.path.join(OUT, 'module.pth'))


# --- Keras HDF5 (keras-applications layout) -------------------------------------------------------

def write_keras_h5(path, layers, nested, model_config=None):
    """layers: [(layer name, [(weight suffix, array)])]. nested=False: Keras 1 names
    (group/block1_conv1_W_1:0); nested=True: Keras 2 names (group/block1_conv1/kernel:0).
    model_config: write a model.save file instead (weights under /model_weights, config as JSON)."""
    with h5py.File(path, 'w') as root:
        f = root
        if model_config is not None:
            root.attrs['model_config'] = json.dumps(model_config).encode()
            f = root.create_group('model_weights')
        f.attrs['layer_names'] = [name.encode() for name, _ in layers]
        f.attrs['backend'] = b'tensorflow'
        f.attrs['keras_version'] = b'2.0.8' if nested else b'1.2.2'
        for name, weights in layers:
            g = f.create_group(name)
            names = [f'{name}/{suffix}' if nested else f'{name}_{suffix}' for suffix, _ in weights]
            g.attrs['weight_names'] = [n.encode() for n in names]
            for n, (_, array) in zip(names, weights):
                g.create_dataset(n, data=array)


def conv_to_torch(kernel):
    return np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))  # HWIO -> OIHW


VGG16_BLOCKS = [2, 2, 3, 3, 3]


def make_keras_vgg16():
    widths = [4, 6, 8, 8, 8]  # reduced from [64, 128, 256, 512, 512]
    fc = [16, 12, 10]          # reduced from [4096, 4096, 1000]
    layers = []
    torch_sd = OrderedDict()
    in_ch = 3
    feature_index = 0
    for b, (count, width) in enumerate(zip(VGG16_BLOCKS, widths)):
        for c in range(count):
            kernel, bias = rand(3, 3, in_ch, width, scale=0.3), rand(width, scale=0.1)
            layers.append((f'block{b + 1}_conv{c + 1}', [('W_1:0', kernel), ('b_1:0', bias)]))
            torch_sd[f'features.{feature_index}.weight'] = conv_to_torch(kernel)
            torch_sd[f'features.{feature_index}.bias'] = bias
            feature_index += 2  # conv, relu
            in_ch = width
        feature_index += 1  # maxpool
    # fc1 sees Keras' NHWC flatten of the 7x7xC map; torch flattens NCHW. Row (h*7+w)*C + c of the
    # Keras kernel must become column c*49 + h*7 + w of the torch weight.
    hw = 7 * 7
    in_features = in_ch * hw
    for i, (name, out) in enumerate(zip(['fc1', 'fc2', 'predictions'], fc)):
        kernel, bias = rand(in_features, out, scale=0.2), rand(out, scale=0.1)
        layers.append((name, [('W_1:0', kernel), ('b_1:0', bias)]))
        if name == 'fc1':
            weight = kernel.reshape(7, 7, in_ch, out).transpose(3, 2, 0, 1).reshape(out, in_features)
            # The permutation, checked by meaning: the same activations flattened both ways give equal outputs.
            act = rng.standard_normal((1, in_ch, 7, 7)).astype(np.float32)
            keras_out = act.transpose(0, 2, 3, 1).reshape(1, -1) @ kernel
            torch_out = act.reshape(1, -1) @ weight.T
            assert np.allclose(keras_out, torch_out, atol=1e-4)
        else:
            weight = kernel.T
        torch_sd[f'classifier.{3 * i}.weight'] = np.ascontiguousarray(weight)
        torch_sd[f'classifier.{3 * i}.bias'] = bias
        in_features = out
    write_keras_h5(os.path.join(OUT, 'keras-vgg16-k1.h5'), layers, nested=False)
    k2 = [(name, [({'W_1:0': 'kernel:0', 'b_1:0': 'bias:0'}[s], a) for s, a in w]) for name, w in layers]
    write_keras_h5(os.path.join(OUT, 'keras-vgg16-k2.h5'), k2, nested=True)
    write_safetensors(os.path.join(OUT, 'keras-vgg16.expected.safetensors'), OrderedDict((k, np_entry(v)) for k, v in torch_sd.items()))


KERAS_BN_EPS = 1e-3   # Keras' BatchNormalization default, used by keras-applications ResNet50
TORCH_BN_EPS = 1e-5


def make_keras_resnet50():
    base = 2                  # reduced from 64
    blocks = [3, 4, 6, 3]
    layers = []
    torch_sd = OrderedDict()

    def conv(keras_name, torch_name, k, cin, cout):
        kernel, bias = rand(k, k, cin, cout, scale=0.3), rand(cout, scale=0.1)
        layers.append((keras_name, [('W:0', kernel), ('b:0', bias)]))
        torch_sd[f'{torch_name}.weight'] = conv_to_torch(kernel)
        return bias

    def bn(keras_name, torch_name, c, conv_bias):
        gamma, beta = 1 + rand(c, scale=0.1), rand(c, scale=0.1)
        mean, var = rand(c, scale=0.1), (0.5 + rng.random(c)).astype(np.float32)
        layers.append((keras_name, [('gamma:0', gamma), ('beta:0', beta), ('running_mean:0', mean), ('running_std:0', var)]))
        torch_sd[f'{torch_name}.weight'] = gamma
        torch_sd[f'{torch_name}.bias'] = beta
        # Fold the conv bias (torchvision convs have none): BN(conv + b) normalises (conv - (mean - b)).
        torch_sd[f'{torch_name}.running_mean'] = (mean - conv_bias).astype(np.float32)
        # Keras divides by sqrt(var + 1e-3), torchvision by sqrt(var + 1e-5).
        torch_sd[f'{torch_name}.running_var'] = (var.astype(np.float64) + KERAS_BN_EPS - TORCH_BN_EPS).astype(np.float32)
        torch_sd[f'{torch_name}.num_batches_tracked'] = np.array(0, dtype=np.int64)

    b = conv('conv1', 'conv1', 7, 3, base)
    bn('bn_conv1', 'bn1', base, b)
    cin = base
    for stage, count in enumerate(blocks):
        width = base * 2 ** stage
        for i in range(count):
            letter = 'abcdef'[i]
            keras = f'{stage + 2}{letter}'
            torch_prefix = f'layer{stage + 1}.{i}'
            for branch, (k, ci, co, tn) in {'2a': (1, cin, width, 1), '2b': (3, width, width, 2), '2c': (1, width, 4 * width, 3)}.items():
                b = conv(f'res{keras}_branch{branch}', f'{torch_prefix}.conv{tn}', k, ci, co)
                bn(f'bn{keras}_branch{branch}', f'{torch_prefix}.bn{tn}', co, b)
            if i == 0:
                b = conv(f'res{keras}_branch1', f'{torch_prefix}.downsample.0', 1, cin, 4 * width)
                bn(f'bn{keras}_branch1', f'{torch_prefix}.downsample.1', 4 * width, b)
            cin = 4 * width
    kernel, bias = rand(cin, 5, scale=0.2), rand(5, scale=0.1)
    layers.append(('fc1000', [('W:0', kernel), ('b:0', bias)]))
    torch_sd['fc.weight'] = np.ascontiguousarray(kernel.T)
    torch_sd['fc.bias'] = bias
    write_keras_h5(os.path.join(OUT, 'keras-resnet50.h5'), layers, nested=False)
    write_safetensors(os.path.join(OUT, 'keras-resnet50.expected.safetensors'), OrderedDict((k, np_entry(v)) for k, v in torch_sd.items()))


def make_keras_tf_resnet():
    """tf.keras.applications.resnet names (conv1_conv, conv2_block1_0_conv, ...), one block per
    stage, saved with model.save: weights under /model_weights and BN epsilons in model_config
    (1.001e-5 as tf.keras uses, 1e-4 for conv1_bn so that the config is seen to be read)."""
    base = 2
    layers = []
    torch_sd = OrderedDict()
    config_layers = []

    def conv(keras_name, torch_name, k, cin, cout):
        kernel, bias = rand(k, k, cin, cout, scale=0.3), rand(cout, scale=0.1)
        layers.append((keras_name, [('kernel:0', kernel), ('bias:0', bias)]))
        torch_sd[f'{torch_name}.weight'] = conv_to_torch(kernel)
        return bias

    def bn(keras_name, torch_name, c, conv_bias, eps):
        gamma, beta = 1 + rand(c, scale=0.1), rand(c, scale=0.1)
        mean, var = rand(c, scale=0.1), (0.5 + rng.random(c)).astype(np.float32)
        layers.append((keras_name, [('gamma:0', gamma), ('beta:0', beta), ('moving_mean:0', mean), ('moving_variance:0', var)]))
        config_layers.append({'class_name': 'BatchNormalization', 'name': keras_name, 'config': {'name': keras_name, 'epsilon': eps}})
        torch_sd[f'{torch_name}.weight'] = gamma
        torch_sd[f'{torch_name}.bias'] = beta
        torch_sd[f'{torch_name}.running_mean'] = (mean - conv_bias).astype(np.float32)
        torch_sd[f'{torch_name}.running_var'] = (var.astype(np.float64) + eps - TORCH_BN_EPS).astype(np.float32)
        torch_sd[f'{torch_name}.num_batches_tracked'] = np.array(0, dtype=np.int64)

    b = conv('conv1_conv', 'conv1', 7, 3, base)
    bn('conv1_bn', 'bn1', base, b, 1e-4)
    cin = base
    for stage in range(4):
        width = base * 2 ** stage
        p = f'conv{stage + 2}_block1'
        t = f'layer{stage + 1}.0'
        b = conv(f'{p}_0_conv', f'{t}.downsample.0', 1, cin, 4 * width)
        bn(f'{p}_0_bn', f'{t}.downsample.1', 4 * width, b, 1.001e-5)
        for k, (ks, ci, co) in enumerate([(1, cin, width), (3, width, width), (1, width, 4 * width)], start=1):
            b = conv(f'{p}_{k}_conv', f'{t}.conv{k}', ks, ci, co)
            bn(f'{p}_{k}_bn', f'{t}.bn{k}', co, b, 1.001e-5)
        cin = 4 * width
    kernel, bias = rand(cin, 3, scale=0.2), rand(3, scale=0.1)
    layers.append(('predictions', [('kernel:0', kernel), ('bias:0', bias)]))
    torch_sd['fc.weight'] = np.ascontiguousarray(kernel.T)
    torch_sd['fc.bias'] = bias
    config = {'class_name': 'Functional', 'config': {'name': 'resnet50', 'layers': config_layers}}
    write_keras_h5(os.path.join(OUT, 'keras-tf-resnet.h5'), layers, nested=True, model_config=config)
    write_safetensors(os.path.join(OUT, 'keras-tf-resnet.expected.safetensors'), OrderedDict((k, np_entry(v)) for k, v in torch_sd.items()))


def make_keras_unknown():
    """A Keras file of another architecture: the mapper must say it does not know it."""
    write_keras_h5(os.path.join(OUT, 'keras-unknown.h5'), [('dense_1', [('kernel:0', rand(3, 2)), ('bias:0', rand(2))])], nested=True)


if __name__ == '__main__':
    os.makedirs(OUT, exist_ok=True)
    expected = {}
    make_tiny_safetensors(expected)
    make_tiny_pth(expected)
    with open(os.path.join(OUT, 'tiny.expected.json'), 'w') as f:
        json.dump(expected, f, indent=1)
    make_keras_vgg16()
    make_keras_resnet50()
    make_keras_tf_resnet()
    make_keras_unknown()
    for name in sorted(os.listdir(OUT)):
        print(f'{os.path.getsize(os.path.join(OUT, name)):>8}  {name}')
