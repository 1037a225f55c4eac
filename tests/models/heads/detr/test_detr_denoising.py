"""DINO's contrastive denoising queries: groups, noise and the attention mask."""
import torch

from vitdense.models.heads.det.detr.denoising import cdn_queries


def targets(*counts):
    g = torch.Generator().manual_seed(0)
    out = []
    for n in counts:
        centre = torch.rand(n, 2, generator=g) * 0.5 + 0.25
        out.append(dict(labels=torch.arange(n) % 3,
                        boxes=torch.cat([centre, torch.full((n, 2), 0.2)], dim=1)))
    return out


def run(counts, num_dn=10, label_noise=0.0, box_noise=1.0, queries=5):
    torch.manual_seed(0)
    return cdn_queries(targets(*counts), 3, torch.nn.Embedding(3, 8), num_dn, label_noise,
                       box_noise, queries)


def test_no_ground_truth_gives_no_denoising_queries():
    assert run([0, 0]) is None


def test_groups_fill_the_budget_and_many_objects_keep_one_group():
    dn = run([2, 1], num_dn=10)
    assert dn['num_groups'] == 5 and dn['num_dn'] == 2 * 2 * 5
    assert dn['query'].shape == (2, 20, 8) and dn['reference'].shape == (2, 20, 4)
    many = run([30], num_dn=10)
    assert many['num_groups'] == 1 and many['num_dn'] == 60


def test_positives_stay_near_their_box_and_negatives_move_further():
    dn = run([2, 1], num_dn=10, box_noise=0.4)
    truth = targets(2, 1)
    for b, (q_idx, t_idx) in enumerate(dn['indices']):
        pos = dn['reference'][b, q_idx]
        gt = truth[b]['boxes'][t_idx]
        # Each corner moves by < 0.4 x half the side (0.1) -> centre by < 0.04.
        assert ((pos[:, :2] - gt[:, :2]).abs() <= 0.04 + 1e-6).all()
        neg = dn['reference'][b, q_idx + 2]  # the negative copy sits max_gt slots later
        corner_shift = (neg - gt).abs().amax(-1)
        assert (corner_shift > 0).all()
    # Image 1 has one box: its second slot in every group is padding, with zero content.
    assert dn['query'][1, 1].abs().sum() == 0 and len(dn['indices'][1][0]) == 5


def test_label_noise_flips_some_labels_only_with_noise():
    clean = run([2, 2], num_dn=40, label_noise=0.0)
    embed = torch.nn.Embedding(3, 8)
    torch.manual_seed(0)
    noisy = cdn_queries(targets(2, 2), 3, embed, 40, 1.0, 0.0, 5)
    labels = targets(2, 2)[0]['labels'].repeat(20)
    recovered = (noisy['query'][0][:, None] - embed.weight[None]).abs().sum(-1).argmin(-1)
    flipped = (recovered[noisy['indices'][0][0]] != labels[:len(noisy['indices'][0][0])])
    assert 0 < flipped.float().mean() < 0.6
    assert clean['num_groups'] == 20


def test_attention_mask_isolates_groups_and_hides_them_from_matching_queries():
    dn = run([2, 1], num_dn=4, queries=3)  # max_gt 2, 2 groups of 4 slots, 8 dn + 3 queries
    mask = dn['attn_mask']
    assert mask.shape == (11, 11)
    assert mask[8:, :8].all() and not mask[8:, 8:].any()  # matching queries see only themselves
    assert not mask[:4, :4].any() and mask[:4, 4:8].all()  # group 0 sees itself, not group 1
    assert not mask[4:8, 4:8].any() and mask[4:8, :4].all()
    assert not mask[:8, 8:].any()  # denoising queries see the matching queries
