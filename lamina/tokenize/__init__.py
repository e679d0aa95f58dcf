"""lamina.tokenize"""
