"""The first and second floors: layers built from minivit.ops, and the models built from them.

    layers      Mlp, DropPath, SelfAttention, TransformerBlock
    vit         ViTConfig, VisionTransformer, vit_b_16, vit_tiny
    swin        SwinConfig, SwinTransformer, swin_t, swin_s, swin_b, swin_tiny
    mobilevit   MobileViTConfig, MobileViT, mobilevit_xxs, mobilevit_xs, mobilevit_s, mobilevit_tiny
    toy_models  PixelSelfAttention, SmallCNN, AttentionClassifier: small enough to train in seconds
    convert     weights from torchvision and timm into these models
"""
