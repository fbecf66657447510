#!/usr/bin/env python3
# Golden-fixture generator for the model tests. Its outputs in tests/fixtures/golden/ are GENERATED
# files: do not edit them by hand; re-run this script instead (by hand, never in `npm test`):
#
#   /usr/bin/python3 weights-tools/golden.py            # Debian's python3-torch + python3-torchvision, CPU
#   /usr/bin/python3 weights-tools/golden.py resnet18   # only the cases whose name contains 'resnet18'
#
# What it writes:
#   torchvision-keys.json   the state-dict keys and shapes of vgg11..19, their _bn variants and
#                           resnet18..152 as torchvision builds them (num_classes 1000): for each
#                           the count and an FNV-1a digest of the lines 'name:d0,d1,..\n' sorted
#                           (code-point order), and for a few (LISTED) the lines in state-dict order
#   <case>.json             logits (eval and train mode) and gradients of a few layers for one
#                           network whose every parameter and buffer comes from the formula below
#   preprocess.json         torchvision's ImageNet preprocessing (Resize(round(size * 256 / 224)),
#                           bilinear with antialias, CenterCrop(size), ToTensor, Normalize) of
#                           images whose bytes are (i * 618035 + key('image')) % 1000003 % 256
#
# The formula (tests/models/golden-weights.ts computes the same values bit for bit): a tensor named
# `name` with n elements gets, for element i (row-major),
#     u_i = ((i * 618035 + key(name)) % 1000003 - 500001) / 500001     (float64, in [-1, 1])
#     key(name) = h over the characters c of name, h = (h * 31 + code(c)) % 1000003, from h = 0
# (a Weyl sequence: 618035 / 1000003 is near the golden ratio, so neighbours are far apart; the
# period of a million keeps exact ties, and with them maxima and ReLUs that float32 rounding can
# flip, out of the small test inputs)
# and the value float32(offset + scale * u_i), with (offset, scale) by role:
#     Conv2d / Linear weight   (0, sqrt(6 / fan_in))   fan_in = numel / out_features
#     Conv2d / Linear bias     (0, 0.1)
#     BatchNorm2d weight       (1, 0.25), but (0.1, 0.05) for the last BatchNorm2d of a ResNet
#                              block (bn2 of a BasicBlock, bn3 of a Bottleneck)
#                              bias (0, 0.1)
#     running_mean             (0, 0.1)        running_var (1, 0.5)       num_batches_tracked 0
# The input is u of the name 'input' (offset 0, scale 1) in the case's shape [N, 3, H, W]; the labels
# of the loss are (j * 389 + 17) % classes for image j. The small residual gains keep each block
# near the identity: at full gain, deep ResNets in train mode are chaotic (float32 and float64 torch
# disagree by 10-20% on conv1's gradient for resnet34), and no float32 comparison could be tight. Every step is one IEEE float64 operation
# (integer arithmetic is exact below 2^53), then one rounding to float32, so both sides agree.
#
# Per case: eval mode (running statistics) logits; then train mode (batch statistics; dropout
# disabled, since its masks cannot match) logits, the mean cross-entropy of the labels, its gradient
# on selected parameters after loss.backward(), and the updated running statistics of one
# BatchNorm2d. Tensors with more than 256 elements are sampled at 256 indices (j * 1000003) % n,
# with the float64 sum and sum of absolute values of the whole tensor.
import base64
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision
from torchvision.models import resnet as tv_resnet
from torchvision.models import vgg as tv_vgg

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests', 'fixtures', 'golden')
SAMPLES = 256
MODULUS, STEP, HALF = 1000003, 618035, 500001
# Architectures whose key lists are committed in full; every arch also gets a count and a digest.
LISTED = ['vgg11', 'vgg11_bn', 'vgg16', 'resnet18', 'resnet50']


def name_key(name):
    h = 0
    for ch in name:
        h = (h * 31 + ord(ch)) % MODULUS
    return h


def pattern(n, name):
    i = np.arange(n, dtype=np.int64)
    return ((i * STEP + name_key(name)) % MODULUS - HALF) / float(HALF)


def formula(name, shape, offset, scale):
    n = int(np.prod(shape)) if len(shape) else 1
    return (offset + scale * pattern(n, name)).astype(np.float32).reshape(shape)


def fill_formula(model):
    """Overwrite every parameter and buffer of `model` with the formula, by module type."""
    residual_bns = set()
    for mname, m in model.named_modules():
        if isinstance(m, tv_resnet.BasicBlock):
            residual_bns.add(mname + '.bn2')
        elif isinstance(m, tv_resnet.Bottleneck):
            residual_bns.add(mname + '.bn3')
    with torch.no_grad():
        for mname, m in model.named_modules():
            prefix = mname + '.' if mname else ''
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                w = m.weight
                fan_in = w.numel() // w.shape[0]
                w.copy_(torch.from_numpy(formula(prefix + 'weight', tuple(w.shape), 0.0, math.sqrt(6 / fan_in))))
                if m.bias is not None:
                    m.bias.copy_(torch.from_numpy(formula(prefix + 'bias', tuple(m.bias.shape), 0.0, 0.1)))
            elif isinstance(m, nn.BatchNorm2d):
                c = (m.num_features,)
                gain = (0.1, 0.05) if mname in residual_bns else (1.0, 0.25)
                m.weight.copy_(torch.from_numpy(formula(prefix + 'weight', c, *gain)))
                m.bias.copy_(torch.from_numpy(formula(prefix + 'bias', c, 0.0, 0.1)))
                m.running_mean.copy_(torch.from_numpy(formula(prefix + 'running_mean', c, 0.0, 0.1)))
                m.running_var.copy_(torch.from_numpy(formula(prefix + 'running_var', c, 1.0, 0.5)))
                m.num_batches_tracked.zero_()


def b64(array):
    return base64.b64encode(np.ascontiguousarray(array, dtype='<f4').tobytes()).decode('ascii')


def summary(t):
    """A tensor as its values (small) or 256 samples plus whole-tensor sums (large)."""
    flat = t.detach().reshape(-1).double().numpy()
    n = flat.size
    out = {'shape': list(t.shape), 'sum': float(flat.sum()), 'abssum': float(np.abs(flat).sum())}
    if n <= SAMPLES:
        out['values'] = b64(flat)
    else:
        idx = (np.arange(SAMPLES, dtype=np.int64) * 1000003) % n
        out['values'] = b64(flat[idx])
    return out


def bits_checksum(t):
    """Sum of the float32 bit patterns mod 2^32: equal sums say the formula matched bit for bit."""
    u = t.detach().contiguous().numpy().astype('<f4').view('<u4').astype(np.uint64)
    return int(u.sum()) % (1 << 32)  # int() first: numpy would mix uint64 and int in float64


# ---- architectures -------------------------------------------------------------------------------

VGG_CFG = {'vgg11': 'A', 'vgg13': 'B', 'vgg16': 'D', 'vgg19': 'E'}


def vgg(arch, width=64, hidden=4096, classes=1000):
    """torchvision's VGG; width scales the conv channels (64 = torchvision), hidden the classifier."""
    bn = arch.endswith('_bn')
    cfg = [v if v == 'M' else v * width // 64 for v in tv_vgg.cfgs[VGG_CFG[arch.replace('_bn', '')]]]
    model = tv_vgg.VGG(tv_vgg.make_layers(cfg, batch_norm=bn), num_classes=classes, init_weights=False)
    if width != 64 or hidden != 4096:
        c = cfg[-2] * 7 * 7
        model.classifier = nn.Sequential(
            nn.Linear(c, hidden), nn.ReLU(True), nn.Dropout(),
            nn.Linear(hidden, hidden), nn.ReLU(True), nn.Dropout(),
            nn.Linear(hidden, classes))
    return model


RESNET_LAYERS = {
    'resnet18': (tv_resnet.BasicBlock, [2, 2, 2, 2]),
    'resnet34': (tv_resnet.BasicBlock, [3, 4, 6, 3]),
    'resnet50': (tv_resnet.Bottleneck, [3, 4, 6, 3]),
    'resnet101': (tv_resnet.Bottleneck, [3, 4, 23, 3]),
    'resnet152': (tv_resnet.Bottleneck, [3, 8, 36, 3]),
}


class NarrowResNet(tv_resnet.ResNet):
    """torchvision's ResNet with `width` channels after the stem instead of 64 (same block code)."""

    def __init__(self, block, layers, width, classes):
        nn.Module.__init__(self)
        self._norm_layer = nn.BatchNorm2d
        self.inplanes, self.dilation, self.groups, self.base_width = width, 1, 1, 64
        self.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, width, layers[0])
        self.layer2 = self._make_layer(block, width * 2, layers[1], stride=2)
        self.layer3 = self._make_layer(block, width * 4, layers[2], stride=2)
        self.layer4 = self._make_layer(block, width * 8, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(width * 8 * block.expansion, classes)


def resnet(arch, width=64, classes=1000):
    block, layers = RESNET_LAYERS[arch]
    if width == 64:
        return tv_resnet.ResNet(block, layers, num_classes=classes)
    return NarrowResNet(block, layers, width, classes)


def build(case):
    arch = case['arch']
    if arch.startswith('vgg'):
        return vgg(arch, case.get('width', 64), case.get('hidden', 4096), case['classes'])
    return resnet(arch, case.get('width', 64), case['classes'])


# ---- cases ---------------------------------------------------------------------------------------
# `grads`: parameters whose gradients are recorded; `running`: a BatchNorm2d whose updated running
# statistics are recorded. Full width = torchvision's own architecture (width 64, hidden 4096).

CASES = [
    {'name': 'resnet18', 'arch': 'resnet18', 'classes': 1000, 'input': [2, 3, 64, 64],
     'grads': ['fc.weight', 'fc.bias', 'layer4.1.conv2.weight', 'layer4.1.bn2.weight', 'layer4.1.bn2.bias', 'conv1.weight'],
     'running': 'layer4.1.bn2'},
    {'name': 'resnet50', 'arch': 'resnet50', 'classes': 1000, 'input': [2, 3, 64, 64],
     'grads': ['fc.weight', 'fc.bias', 'layer4.2.conv3.weight', 'layer4.2.bn3.weight', 'layer4.2.bn3.bias', 'conv1.weight'],
     'running': 'layer4.2.bn3'},
    {'name': 'vgg16', 'arch': 'vgg16', 'classes': 1000, 'input': [1, 3, 64, 64],
     'grads': ['classifier.6.weight', 'classifier.6.bias', 'classifier.3.weight', 'classifier.0.weight', 'features.28.weight', 'features.28.bias', 'features.0.weight']},
    {'name': 'resnet50-w16', 'arch': 'resnet50', 'width': 16, 'classes': 10, 'input': [2, 3, 64, 64],
     'grads': ['fc.weight', 'fc.bias', 'layer4.2.conv3.weight', 'layer4.2.bn3.weight', 'layer4.2.bn3.bias', 'layer1.0.downsample.0.weight', 'conv1.weight'],
     'running': 'layer4.2.bn3'},
    {'name': 'vgg11_bn-w16', 'arch': 'vgg11_bn', 'width': 16, 'hidden': 64, 'classes': 10, 'input': [2, 3, 32, 32],
     'grads': ['classifier.6.weight', 'classifier.6.bias', 'classifier.0.weight', 'features.26.weight', 'features.26.bias', 'features.25.weight', 'features.0.weight'],
     'running': 'features.26'},
]


def run_case(case):
    torch.manual_seed(0)
    model = build(case)
    fill_formula(model)
    shape = case['input']
    x = torch.from_numpy(formula('input', tuple(shape), 0.0, 1.0))
    labels = [(j * 389 + 17) % case['classes'] for j in range(shape[0])]
    sd = model.state_dict()
    checks = {k: bits_checksum(sd[k]) for k in case['grads'][:3]}
    checks['input'] = bits_checksum(x)

    model.eval()
    with torch.no_grad():
        logits_eval = model(x)

    model.train()
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.eval()
    logits_train = model(x)
    loss = F.cross_entropy(logits_train, torch.tensor(labels))
    loss.backward()
    params = dict(model.named_parameters())
    out = {
        'generated_by': 'weights-tools/golden.py (do not edit; re-run it)',
        'torch': torch.__version__, 'torchvision': torchvision.__version__,
        **{k: case[k] for k in ('name', 'arch', 'width', 'hidden', 'classes', 'input') if k in case},
        'labels': labels,
        'checksums': checks,
        'eval': {'logits': b64(logits_eval.numpy())},
        'train': {
            'logits': b64(logits_train.detach().numpy()),
            'loss': float(loss),
            'grads': {k: summary(params[k].grad) for k in case['grads']},
        },
    }
    if 'running' in case:
        bn = dict(model.named_modules())[case['running']]
        out['train']['running'] = {case['running'] + '.running_mean': summary(bn.running_mean), case['running'] + '.running_var': summary(bn.running_var)}
    le, lt = logits_eval.abs().max().item(), logits_train.abs().max().item()
    print(f"{case['name']}: max |logit| eval {le:.3f} train {lt:.3f}, loss {float(loss):.4f}")
    return out


def fnv1a(text):
    h = 0x811C9DC5
    for byte in text.encode('utf-8'):
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def write_keys():
    archs = {}
    models = [(a, vgg(a)) for v in VGG_CFG for a in (v, v + '_bn')] + [(a, resnet(a)) for a in RESNET_LAYERS]
    for arch, model in models:
        lines = [f"{k}:{','.join(str(d) for d in v.shape)}" for k, v in model.state_dict().items()]
        archs[arch] = {'count': len(lines), 'digest': fnv1a(''.join(line + '\n' for line in sorted(lines)))}
        if arch in LISTED:
            archs[arch]['keys'] = lines
    doc = {'generated_by': 'weights-tools/golden.py (do not edit; re-run it)', 'torchvision': torchvision.__version__, 'archs': archs}
    with open(os.path.join(OUT, 'torchvision-keys.json'), 'w') as f:
        json.dump(doc, f, indent=0)
        f.write('\n')


IMAGENET_MEAN, IMAGENET_STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]


def write_preprocess():
    import torchvision.transforms.functional as TF
    cases = []
    for (h, w), size in [((23, 37), 14), ((37, 23), 14), ((240, 320), 224), ((200, 150), 224)]:
        n = h * w * 3
        data = ((np.arange(n, dtype=np.int64) * STEP + name_key('image')) % MODULUS % 256).astype(np.uint8)
        img = torch.from_numpy(data.reshape(h, w, 3)).permute(2, 0, 1).float()
        short = round(size * 256 / 224)
        resized = TF.resize(img, [short], interpolation=TF.InterpolationMode.BILINEAR, antialias=True)
        out = TF.normalize(TF.center_crop(resized, [size, size]) / 255.0, IMAGENET_MEAN, IMAGENET_STD)
        cases.append({'height': h, 'width': w, 'size': size, 'resized': list(resized.shape[1:]), 'output': summary(out)})
    doc = {'generated_by': 'weights-tools/golden.py (do not edit; re-run it)', 'torchvision': torchvision.__version__, 'cases': cases}
    with open(os.path.join(OUT, 'preprocess.json'), 'w') as f:
        json.dump(doc, f, indent=1)
        f.write('\n')


def main():
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    os.makedirs(OUT, exist_ok=True)
    only = sys.argv[1] if len(sys.argv) > 1 else None
    if not only:
        write_keys()
        write_preprocess()
    for case in CASES:
        if only and only not in case['name']:
            continue
        with open(os.path.join(OUT, case['name'] + '.json'), 'w') as f:
            json.dump(run_case(case), f, indent=1)
            f.write('\n')


if __name__ == '__main__':
    main()
