"""lamina.pretrain"""
