"""lamina.filters"""
