#!/usr/bin/python3
"""make_supcon.py — PyTorch reference fixture for the supervised contrastive loss layer (src/layers/supcon.c).

Writes tests/fixtures/supcon.safetensors, read by tests/test_supcon.c. Run by hand from the repository
root (Debian's python3-torch, no other packages):

    /usr/bin/python3 tools/ref/make_supcon.py [--out tests/fixtures]

The loss is a literal port of InfoPro's SupConLoss (InfoPro-Pytorch, "Experiments on CIFAR-SVHN-STL10/
networks/losses.py", itself HobbitLong/SupContrast's losses.py with `mask_sum[mask_sum == 0] += 1`), called
the way InfoPro's AuxClassifier does: SupConLoss()(F.normalize(features, dim=1).unsqueeze(1), target,
temperature=0.07), contrast_mode 'all', one view. The gradient is torch autograd's, through the
normalisation.

For each case <c> the file holds (all F32; the loss has shape [1]):
  <c>.features   N x D, the raw (unnormalised) features
  <c>.labels     [N], class indices stored as floats
  <c>.loss       [1]
  <c>.dfeatures  N x D, d loss / d features
  <c>.params     [2], temperature and base temperature
Cases:
  infopro   N = 16, D = 128, 10 classes (InfoPro's feature_dim and CIFAR classes), tau = base tau = 0.07;
            labels drawn so that some classes repeat and at least one class appears once
  singleton N = 5, D = 4, labels {0, 1, 0, 2, 1}: class 2 has no positive (contributes 0, counts in N)
  scaled    N = 6, D = 3, labels {1, 1, 2, 2, 2, 0}, tau = 0.2, base tau = 0.07 (the loss scale != 1)

Invariant: the reference is computed in float64 from float32-exact inputs and stored as float32; the
script also runs the float32 PyTorch version and prints its worst deviation from the reference (the
error a correct float32 implementation may show).
"""
import argparse
import os

import torch
import torch.nn as nn
import torch.nn.functional as F

from st_io import read_safetensors, write_safetensors

SEED = 20240612


class SupConLoss(nn.Module):
    """InfoPro's SupConLoss, line for line (only comments and the error messages' wording differ)."""

    def __init__(self, contrast_mode='all', base_temperature=0.07):
        super(SupConLoss, self).__init__()
        self.contrast_mode = contrast_mode
        self.base_temperature = base_temperature

    def forward(self, features, labels=None, temperature=0.07, mask=None):
        device = features.device
        if len(features.shape) < 3:
            raise ValueError('features needs to be [bsz, n_views, ...]')
        if len(features.shape) > 3:
            features = features.view(features.shape[0], features.shape[1], -1)

        batch_size = features.shape[0]
        if labels is not None and mask is not None:
            raise ValueError('Cannot define both labels and mask')
        elif labels is None and mask is None:
            mask = torch.eye(batch_size, dtype=features.dtype).to(device)
        elif labels is not None:
            labels = labels.contiguous().view(-1, 1)
            if labels.shape[0] != batch_size:
                raise ValueError('Num of labels does not match num of features')
            mask = torch.eq(labels, labels.T).to(features.dtype).to(device)
        else:
            mask = mask.to(features.dtype).to(device)

        contrast_count = features.shape[1]
        contrast_feature = torch.cat(torch.unbind(features, dim=1), dim=0)
        if self.contrast_mode == 'one':
            anchor_feature = features[:, 0]
            anchor_count = 1
        elif self.contrast_mode == 'all':
            anchor_feature = contrast_feature
            anchor_count = contrast_count
        else:
            raise ValueError('Unknown mode: {}'.format(self.contrast_mode))

        # compute logits
        anchor_dot_contrast = torch.div(torch.matmul(anchor_feature, contrast_feature.T), temperature)
        # for numerical stability
        logits_max, _ = torch.max(anchor_dot_contrast, dim=1, keepdim=True)
        logits = anchor_dot_contrast - logits_max.detach()

        # tile mask
        mask = mask.repeat(anchor_count, contrast_count)
        # mask-out self-contrast cases
        logits_mask = torch.scatter(torch.ones_like(mask), 1,
                                    torch.arange(batch_size * anchor_count).view(-1, 1).to(device), 0)
        mask = mask * logits_mask

        # compute log_prob
        exp_logits = torch.exp(logits) * logits_mask
        log_prob = logits - torch.log(exp_logits.sum(1, keepdim=True))

        mask_sum = mask.sum(1)
        mask_sum[mask_sum == 0] += 1

        # compute mean of log-likelihood over positive
        mean_log_prob_pos = (mask * log_prob).sum(1) / mask_sum

        # loss
        loss = - (temperature / self.base_temperature) * mean_log_prob_pos
        loss = loss.view(anchor_count, batch_size).mean()
        return loss


def reference(features, labels, tau, base_tau, dtype):
    """Loss and d loss / d features, the way InfoPro's AuxClassifier calls the criterion."""
    x = features.to(dtype).clone().requires_grad_(True)
    z = F.normalize(x, dim=1).unsqueeze(1)
    loss = SupConLoss(base_temperature=base_tau)(z, labels, temperature=tau)
    loss.backward()
    return loss.detach().reshape(1), x.grad.detach()


def make_cases(gen):
    cases = {}
    # infopro: 16 samples over 10 classes; resample until a class repeats and one appears exactly once
    while True:
        y = torch.randint(0, 10, (16,), generator=gen)
        counts = torch.bincount(y, minlength=10)
        if (counts == 1).any() and (counts >= 2).any():
            break
    cases["infopro"] = (torch.randn((16, 128), generator=gen, dtype=torch.float32), y, 0.07, 0.07)
    cases["singleton"] = (torch.randn((5, 4), generator=gen, dtype=torch.float32),
                          torch.tensor([0, 1, 0, 2, 1]), 0.07, 0.07)
    cases["scaled"] = (torch.randn((6, 3), generator=gen, dtype=torch.float32),
                       torch.tensor([1, 1, 2, 2, 2, 0]), 0.2, 0.07)
    return cases


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                                   "..", "..", "tests", "fixtures")))
    args = ap.parse_args()
    torch.set_num_threads(1)
    gen = torch.Generator().manual_seed(SEED)
    out = {}
    for name, (x, y, tau, base_tau) in make_cases(gen).items():
        loss, dx = reference(x, y, tau, base_tau, torch.float64)
        loss32, dx32 = reference(x, y, tau, base_tau, torch.float32)
        dev_loss = abs(loss32.item() - loss.item()) / abs(loss.item())
        dev_grad = (dx32.double() - dx).abs().max().item() / dx.abs().max().item()
        out[name + ".features"] = x
        out[name + ".labels"] = y.to(torch.float32)
        out[name + ".loss"] = loss
        out[name + ".dfeatures"] = dx
        out[name + ".params"] = torch.tensor([tau, base_tau], dtype=torch.float32)
        print("%-9s N=%-3d D=%-4d tau=%.2f base=%.2f  loss %.7f  max|dx| %.4g  float32 torch vs float64: "
              "loss %.1e, dx %.1e (of max|dx|)" % (name, x.shape[0], x.shape[1], tau, base_tau, loss.item(),
                                                   dx.abs().max().item(), dev_loss, dev_grad))
    meta = {"seed": str(SEED), "source": "InfoPro-Pytorch networks/losses.py SupConLoss on F.normalize(x)",
            "computed": "float64 (torch %s), stored as float32" % torch.__version__}
    path = os.path.join(args.out, "supcon.safetensors")
    write_safetensors(path, out, meta)
    back, _ = read_safetensors(path)
    assert list(back.keys()) == list(out.keys())
    for k, v in out.items():
        assert torch.equal(back[k].reshape(-1), v.float().reshape(-1)), k
    print("%d tensors, %d bytes -> %s" % (len(out), os.path.getsize(path), path))


if __name__ == "__main__":
    main()
