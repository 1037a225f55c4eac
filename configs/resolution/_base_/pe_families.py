# The position-encoding families of the resolution study (docs/resolution.md), as settings of
# the study's ViT (study_det.py / study_seg.py). One leaf config per family and task picks one.
# pos_embed is always set (None, or replacing the demo's LearnedAbsolutePE with _delete_).
families = dict(
    none=dict(pos_embed=None),
    abs=dict(pos_embed=dict(_delete_=True, type='LearnedAbsolutePE')),
    sincos=dict(pos_embed=dict(_delete_=True, type='SinCos2dPE')),
    abs_win=dict(pos_embed=dict(_delete_=True, type='WindowTiledAbsolutePE')),  # ViT's window
    swin_bias=dict(pos_embed=None, attn_pos_enc=dict(type='RelPosBiasPE')),
    decomposed=dict(pos_embed=None, attn_pos_enc=dict(type='DecomposedRelPosPE')),
    irpe=dict(pos_embed=None, attn_pos_enc=dict(type='IRPE', mode='contextual',
                                                 method='product', rpe_on='k')),
    cpe=dict(pos_embed=None, cond_pos_enc=dict(type='ConditionalPEG'), cond_pos_indices=(0, )),
    rope_axial=dict(pos_embed=None, attn_pos_enc=dict(type='RoPE2d', mode='axial')),
    rope_mixed=dict(pos_embed=None, attn_pos_enc=dict(type='RoPE2d', mode='mixed')),
    vitdet=dict(pos_embed=dict(_delete_=True, type='LearnedAbsolutePE'),
                attn_pos_enc=dict(type='DecomposedRelPosPE')),
)
